"""The statistics every test shares: exact binomial tails and Holm-Bonferroni.

Exact tails, not normal approximations: at z = 5 with a few hundred tokens the
normal tail underestimates the binomial tail several-fold, and an underestimated
p-value is exactly the error a dispute must not contain.
"""

from __future__ import annotations

import math
from collections.abc import Sequence


def binomial_sf(successes: int, trials: int, prob: float) -> float:
    """P[X >= successes] for X ~ Binomial(trials, prob): the one-sided p-value."""
    from scipy.stats import binom

    if trials <= 0:
        return 1.0
    return float(binom.sf(successes - 1, trials, prob))


def z_score(successes: int, trials: int, prob: float) -> float:
    """How many standard deviations above chance (for reading, not for the p-value)."""
    if trials <= 0:
        return 0.0
    return (successes - prob * trials) / math.sqrt(trials * prob * (1.0 - prob))


def holm(p_values: Sequence[float], alpha: float) -> tuple[list[bool], list[float]]:
    """Holm-Bonferroni: which hypotheses are rejected at family-wise level alpha, and adjusted p-values.

    Fixed in advance (not chosen after seeing the p-values), valid under any dependence
    between the tests, and uniformly more powerful than plain Bonferroni.
    """
    m = len(p_values)
    order = sorted(range(m), key=lambda i: p_values[i])
    rejected, adjusted = [False] * m, [1.0] * m
    running, still_rejecting = 0.0, True
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (m - rank) * p_values[i]))
        adjusted[i] = running
        if still_rejecting and p_values[i] <= alpha / (m - rank):
            rejected[i] = True
        else:
            still_rejecting = False
    return rejected, adjusted
