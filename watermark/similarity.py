"""Weight similarity against the original (white-box, needs --reference).

For every tensor present in both models with the same shape, the Pearson correlation
of a keyed sample of entries; a model derived from the reference keeps correlations
near 1, an independent one near 0. The one-sided p-value of each correlation comes
from Student's t with n-2 degrees of freedom (exact for Gaussian weights, which random
initialisations are; for trained independent models it is an approximation, stated in
the report), and the test's p-value is the Bonferroni minimum over tensors. A thief who
permutes hidden units lowers the MLP correlations but not the embeddings' or norms'.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

import torch

from watermark.errors import NotApplicableError
from watermark.keys import WatermarkKey
from watermark.modeldir import ModelDir

MAX_SAMPLE = 65536


@dataclass
class SimilarityResult:
    n_tensors: int
    best_tensor: str
    best_r: float
    p_value: float

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _p_from_r(r: float, n: int) -> float:
    from scipy.stats import t as student_t

    if n < 4:
        return 1.0
    r = max(min(r, 1.0 - 1e-12), -1.0 + 1e-12)
    tval = r * math.sqrt((n - 2) / (1.0 - r * r))
    return float(student_t.sf(tval, n - 2))


def compare(suspect: ModelDir, reference: ModelDir, key: WatermarkKey) -> SimilarityResult:
    common = [n for n in suspect.names() if n in set(reference.names())]
    pairs = [n for n in common if len(suspect.shape(n)) >= 1 and suspect.shape(n) == reference.shape(n)]
    pairs = [n for n in pairs if math.prod(suspect.shape(n)) >= 16]
    if not pairs:
        raise NotApplicableError("no tensor of the same name and shape in suspect and reference")
    best = (1.0, "", 0.0)
    for name in pairs:
        a, b = suspect.tensor(name).flatten(), reference.tensor(name).flatten()
        if a.numel() > MAX_SAMPLE:
            g = torch.Generator().manual_seed(key.seed("similarity-sample", name))
            idx = torch.randperm(a.numel(), generator=g)[:MAX_SAMPLE]
            a, b = a[idx], b[idx]
        a, b = a - a.mean(), b - b.mean()
        denom = float(a.norm() * b.norm())
        r = float(a @ b) / denom if denom > 0 else 0.0
        p = _p_from_r(r, a.numel())
        if p < best[0] or not best[1]:
            best = (p, name, r)
    return SimilarityResult(len(pairs), best[1], best[2], min(1.0, best[0] * len(pairs)))
