"""Text radioactivity: does text the suspect generates carry our text watermark?

A model distilled from our watermarked outputs inherits a bias towards our green lists
(Sander et al. 2024, "Watermarking makes language models radioactive"). Sample from the
suspect with keyed prompts, score with the ordinary detector (each (context, token)
pair once, exact binomial tail); for a model never trained on our watermarked text
the p-value is uniform.
"""

from __future__ import annotations

from typing import Any

import torch

from watermark.fingerprint import WORDS
from watermark.keys import WatermarkKey
from watermark.text import DetectionResult, TextDetector, TextWatermarkConfig


@torch.no_grad()
def sample_suspect(model: Any, tokenizer: Any, key: WatermarkKey, n_prompts: int = 4, new_tokens: int = 96) -> list[list[int]]:
    g = torch.Generator().manual_seed(key.seed("radioactivity-prompts"))
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
    outs = []
    torch.manual_seed(key.seed("radioactivity-sampling") % (2**31))
    for _ in range(n_prompts):
        words = [WORDS[i] for i in torch.randint(0, len(WORDS), (3,), generator=g).tolist()]
        ids = torch.tensor([tokenizer.encode("The " + " ".join(words), add_special_tokens=False)])
        gen = model.generate(ids, attention_mask=torch.ones_like(ids), do_sample=True, top_k=0,
                             max_new_tokens=new_tokens, pad_token_id=pad)
        outs.append(gen[0, ids.shape[1]:].tolist())
    return outs


def test(model: Any, tokenizer: Any, key: WatermarkKey, config: TextWatermarkConfig = TextWatermarkConfig()) -> DetectionResult:
    """Score the suspect's own samples; repeated pairs across samples count once."""
    from watermark.text import score_tokens

    detector = TextDetector.build(key, tokenizer, config)
    seqs = sample_suspect(model, tokenizer, key)
    # Join the samples with a separator token the detector never scores across: score per
    # sequence but deduplicate over all of them by scoring the concatenation of unique pairs.
    h = config.context_width
    joined: list[int] = []
    for s in seqs:
        joined.extend(s)
        joined.extend([-1] * h)  # context containing -1 is skipped by the vocab-range filter
    return score_tokens(joined, detector.greenlist, config)
