"""Calibration text for fine-tunes that must keep a model's behaviour: its own samples.

Training on the model's own samples (self-distillation) needs no dataset and pulls the
model towards what it already does; perplexity on a held-out set of such samples,
measured before and after, says how much an embedding changed normal behaviour.
"""

from __future__ import annotations

from typing import Any

import torch


@torch.no_grad()
def self_samples(
    model: Any, tokenizer: Any, n: int, length: int, seed: int, batch: int = 8
) -> list[torch.Tensor]:
    """``n`` sampled sequences of ``length`` tokens, in batches of ``batch``, reproducible by seed."""
    torch.manual_seed(seed)
    start = tokenizer.bos_token_id if tokenizer.bos_token_id is not None else tokenizer.eos_token_id
    out: list[torch.Tensor] = []
    for i in range(0, n, batch):
        b = min(batch, n - i)
        prompt = torch.full((b, 1), int(start), dtype=torch.long)
        seq = model.generate(
            prompt,
            attention_mask=torch.ones_like(prompt),
            do_sample=True,
            top_k=0,
            temperature=1.0,
            max_new_tokens=length - 1,
            min_new_tokens=length - 1,
            pad_token_id=int(start),
        )
        out.append(seq)
    return out


@torch.no_grad()
def perplexity(model: Any, batches: list[torch.Tensor]) -> float:
    total, count = 0.0, 0
    for x in batches:
        loss = model(input_ids=x, labels=x).loss
        n = x.numel() - x.shape[0]
        total += float(loss) * n
        count += n
    return float(torch.exp(torch.tensor(total / max(count, 1))))
