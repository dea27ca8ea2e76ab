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


def sample_suspect(
    model: Any, tokenizer: Any, key: WatermarkKey, n_prompts: int = 8, new_tokens: int = 64
) -> list[list[int]]:
    """Sampled continuations of keyed prompts (temperature 1, no truncation: the model's own distribution)."""
    from watermark.generation import generate_batch

    g = torch.Generator().manual_seed(key.seed("radioactivity-prompts"))
    prompts = []
    for _ in range(n_prompts):
        words = [WORDS[i] for i in torch.randint(0, len(WORDS), (3,), generator=g).tolist()]
        prompts.append(tokenizer.encode("The " + " ".join(words), add_special_tokens=False))
    return generate_batch(
        model, tokenizer, prompts, new_tokens, sample=True, seed=key.seed("radioactivity-sampling") % 2**31
    )


def test(
    model: Any, tokenizer: Any, key: WatermarkKey, config: TextWatermarkConfig = TextWatermarkConfig()
) -> DetectionResult:
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
