"""Empirical privacy measurements: canaries, exposure, membership inference, one-run bound.

- Canaries (Carlini et al., "The Secret Sharer", 2019): records with a fixed prefix and
  a random secret. Exposure = log2|R| - log2 rank(canary among all secrets); we estimate
  the rank against ``alternatives`` random secrets drawn from the same space, so the
  estimate saturates at log2(alternatives + 1) bits.
- Membership inference: each canary is inserted with probability 1/2; the attack scores
  a canary by its (negated) loss under the trained model; AUC over inserted vs not.
- One-run audit (Steinke, Nasr, Jagielski, "Privacy Auditing with One (1) Training
  Run", NeurIPS 2023, Algorithm/Theorem for (eps, delta)-DP): guess "in" for the k+
  highest scores and "out" for the k- lowest; with r guesses of which v are right, any
  eps for which P[v or more right | eps, delta] < p is refuted, giving a lower bound on
  epsilon that holds with confidence 1 - p. Several (k+, k-) are tried with a Bonferroni
  correction of p.
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

from scipy import stats

SECRET_ALPHABET = "0123456789"
SECRET_LENGTH = 6


@dataclass(frozen=True)
class Canary:
    prefix: str
    secret: str
    included: bool

    @property
    def text(self) -> str:
        return f"{self.prefix}{self.secret}"


def make_canaries(m: int, seed: int) -> list[Canary]:
    """``m`` canaries, each inserted independently with probability 1/2."""
    rng = random.Random(seed)
    out = []
    for i in range(m):
        secret = "".join(rng.choice(SECRET_ALPHABET) for _ in range(SECRET_LENGTH))
        out.append(Canary(f"account {i:03d} recovery code is ", secret, rng.random() < 0.5))
    return out


def alternatives(canary: Canary, k: int, seed: int) -> list[str]:
    rng = random.Random(f"{seed}:{canary.prefix}")
    return [
        canary.prefix + "".join(rng.choice(SECRET_ALPHABET) for _ in range(SECRET_LENGTH)) for _ in range(k)
    ]


def exposure(canary_loss: float, alternative_losses: Sequence[float]) -> float:
    """Estimated exposure in bits: -log2 of the canary's rank fraction among the secrets."""
    lower = sum(1 for a in alternative_losses if a < canary_loss)
    return -math.log2((lower + 1) / (len(alternative_losses) + 1))


def auc(scores_in: Sequence[float], scores_out: Sequence[float]) -> float:
    """Area under the ROC curve: P(score of a member > score of a non-member), ties 1/2."""
    if not scores_in or not scores_out:
        return float("nan")
    u = stats.mannwhitneyu(list(scores_in), list(scores_out), alternative="two-sided").statistic
    return float(u) / (len(scores_in) * len(scores_out))


def p_value_dp_audit(m: int, r: int, v: int, eps: float, delta: float) -> float:
    """P[at least v of r guesses right] for any (eps, delta)-DP algorithm, m canaries."""
    q = 1.0 / (1.0 + math.exp(-eps))
    beta = stats.binom.sf(v - 1, r, q)
    alpha = 0.0
    total = 0.0
    for i in range(1, v + 1):
        total += stats.binom.pmf(v - i, r, q)
        if total > i * alpha:
            alpha = total / i
    return min(float(beta + alpha * delta * 2 * m), 1.0)


def eps_lower_bound(m: int, r: int, v: int, delta: float, p: float) -> float:
    """The largest eps refuted at level p (0 if none): binary search as in the paper."""
    if r == 0 or p_value_dp_audit(m, r, v, 0.0, delta) >= p:
        return 0.0
    lo, hi = 0.0, 1.0
    while p_value_dp_audit(m, r, v, hi, delta) < p and hi < 100:
        hi += 1.0
    for _ in range(30):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if p_value_dp_audit(m, r, v, mid, delta) < p else (lo, mid)
    return lo


@dataclass
class OneRunResult:
    epsilon_lower_bound: float
    guesses: int
    correct: int
    k_plus: int
    k_minus: int
    confidence: float


def one_run_audit(
    scores: Sequence[float],
    included: Sequence[bool],
    delta: float,
    p: float = 0.05,
    fractions: Sequence[float] = (0.1, 0.25, 0.5),
) -> OneRunResult:
    """The best Bonferroni-corrected lower bound over a few guess counts."""
    m = len(scores)
    order = sorted(range(m), key=lambda i: scores[i], reverse=True)
    p_each = p / len(fractions)
    best = OneRunResult(0.0, 0, 0, 0, 0, 1 - p)
    for frac in fractions:
        k = max(1, int(m * frac / 2))
        top, bottom = order[:k], order[max(k, m - k) :]
        v = sum(1 for i in top if included[i]) + sum(1 for i in bottom if not included[i])
        r = len(top) + len(bottom)
        eps = eps_lower_bound(m, r, v, delta, p_each)
        if eps > best.epsilon_lower_bound or best.guesses == 0:
            best = OneRunResult(eps, r, v, len(top), len(bottom), 1 - p)
    return best


@dataclass
class EmpiricalResult:
    """What the audit measured on one trained model."""

    canaries: int
    inserted: int
    mia_auc: float
    mean_exposure: float
    max_exposure: float
    exposure_cap_bits: float
    epsilon_lower_bound: float
    one_run: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def measure(
    canaries: Sequence[Canary],
    canary_losses: Sequence[float],
    alternative_losses: Sequence[Sequence[float]],
    delta: float,
    p: float = 0.05,
) -> EmpiricalResult:
    """Exposure, MIA AUC and the one-run bound from per-canary losses."""
    included = [c.included for c in canaries]
    scores = [-loss for loss in canary_losses]
    exps = [exposure(cl, alt) for cl, alt in zip(canary_losses, alternative_losses, strict=True)]
    inserted_exps = [e for e, c in zip(exps, canaries, strict=True) if c.included] or [0.0]
    run = one_run_audit(scores, included, delta, p)
    cap = math.log2(len(alternative_losses[0]) + 1) if alternative_losses else 0.0
    return EmpiricalResult(
        canaries=len(canaries),
        inserted=sum(included),
        mia_auc=auc(
            [s for s, i in zip(scores, included, strict=True) if i],
            [s for s, i in zip(scores, included, strict=True) if not i],
        ),
        mean_exposure=sum(inserted_exps) / len(inserted_exps),
        max_exposure=max(inserted_exps),
        exposure_cap_bits=cap,
        epsilon_lower_bound=run.epsilon_lower_bound,
        one_run=asdict(run),
    )


def is_bug(lower_bound: float, accounted_epsilon: float, slack: float = 1e-6) -> bool:
    """A lower bound above the accounted epsilon means the accounting (or training) is wrong."""
    return lower_bound > accounted_epsilon + slack
