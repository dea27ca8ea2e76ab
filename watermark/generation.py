"""Batched generation from a list of token-id prompts (left padding), for the black-box tests.

transformers' per-step overhead dominates on small models, so one batched call of
``new_tokens`` steps replaces one call per prompt.
"""

from __future__ import annotations

from typing import Any

import torch


def pad_id(tokenizer: Any) -> int:
    for t in (tokenizer.pad_token_id, tokenizer.eos_token_id, tokenizer.bos_token_id):
        if t is not None:
            return int(t)
    return 0


@torch.no_grad()
def generate_batch(
    model: Any, tokenizer: Any, prompts: list[list[int]], new_tokens: int, sample: bool, seed: int = 0
) -> list[list[int]]:
    """The continuation (new tokens only) of every prompt; greedy or sampled (top_k=0, T=1)."""
    pad = pad_id(tokenizer)
    width = max(len(p) for p in prompts)
    ids = torch.tensor([[pad] * (width - len(p)) + p for p in prompts])
    mask = torch.tensor([[0] * (width - len(p)) + [1] * len(p) for p in prompts])
    kwargs: dict[str, Any] = {"do_sample": False}
    if sample:
        torch.manual_seed(seed)
        kwargs = {"do_sample": True, "top_k": 0, "top_p": 1.0, "temperature": 1.0}
    out = model.generate(ids, attention_mask=mask, max_new_tokens=new_tokens, pad_token_id=pad, **kwargs)
    return [row[width:].tolist() for row in out]
