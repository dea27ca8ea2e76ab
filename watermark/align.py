"""Undo a residual-stream permutation by aligning the suspect's embeddings with our original.

A thief can permute the d_model channels of every layer consistently (with per-channel
norms the function is unchanged), which scrambles the weight watermark's statistic. Given
our original (``--reference``), the token embedding matrix pins the channels down: the
vocabulary cannot be permuted without retraining, so matching the suspect's embedding
columns to ours (Hungarian assignment on correlations) recovers the permutation. The
alignment uses the reference and the suspect only, never the key, so the weight test's
binomial null stays exact.
"""

from __future__ import annotations

import torch

from watermark.modeldir import ModelDir

EMBED_SUFFIXES = ("embed_tokens.weight", "wte.weight", "word_embeddings.weight", "embed_in.weight")
MAX_ROWS = 8192


def _embedding_name(md: ModelDir) -> str | None:
    return next((n for n in md.names() if n.endswith(EMBED_SUFFIXES)), None)


def residual_permutation(suspect: ModelDir, reference: ModelDir) -> torch.Tensor | None:
    """perm with suspect channel perm[j] == reference channel j, or None if it cannot be found."""
    from scipy.optimize import linear_sum_assignment

    s_name, r_name = _embedding_name(suspect), _embedding_name(reference)
    if s_name is None or r_name is None:
        return None
    s, r = suspect.tensor(s_name), reference.tensor(r_name)
    if s.shape != r.shape or s.dim() != 2:
        return None
    rows = min(s.shape[0], MAX_ROWS)
    s, r = s[:rows], r[:rows]
    s = (s - s.mean(0)) / s.std(0).clamp_min(1e-12)
    r = (r - r.mean(0)) / r.std(0).clamp_min(1e-12)
    corr = (r.T @ s) / rows  # (reference channel, suspect channel)
    ref_idx, sus_idx = linear_sum_assignment(-corr.numpy())
    perm = torch.empty(corr.shape[0], dtype=torch.long)
    perm[torch.as_tensor(ref_idx)] = torch.as_tensor(sus_idx)
    return perm
