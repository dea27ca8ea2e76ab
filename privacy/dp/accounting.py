"""Epsilon from four accountants for the same mechanism, and the check that they agree.

The mechanism of DP-SGD with Poisson sampling is the Poisson-subsampled Gaussian
mechanism (noise multiplier ``sigma``, sampling rate ``q``) composed ``steps`` times.
Every accountant here answers "what epsilon at this delta" for a history of
``(sigma, q, steps)`` segments; they are registered by name in ``ACCOUNTANTS``.

Tolerances (why the check compares like with like):

- RDP is an upper bound that is looser than PLD/PRV by design (1.874 vs 1.557 on the
  standard case), so RDP is compared only with RDP: Opacus RDP vs dp-accounting RDP
  within ``RDP_REL_TOL`` (1 %): same math, different grids of orders.
- PRV (Opacus) and PLD (dp-accounting) are both near-tight numerical bounds. PRV's
  error is at most ``PRV_EPS_ERROR`` in epsilon; PLD's pessimistic discretisation adds
  at most one ``PLD_INTERVAL`` per composition. They must agree within
  ``max(PRV_PLD_REL_TOL * eps, PRV_EPS_ERROR + steps * PLD_INTERVAL)``.

The epsilon we report is the PRV one (the accountant the training ran with); a report
is refused (``AccountantDisagreement``) when a pair disagrees beyond its tolerance.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from privacy.dp.errors import AccountantDisagreement, BudgetError

Segment = tuple[float, float, int]  # (noise multiplier, sampling rate, steps)
AccountantFn = Callable[[Sequence[Segment], float], float]

RDP_REL_TOL = 0.01
PRV_PLD_REL_TOL = 0.01
PRV_EPS_ERROR = 0.01
PLD_INTERVAL = 1e-4

ACCOUNTANTS: dict[str, AccountantFn] = {}


def register(name: str) -> Callable[[AccountantFn], AccountantFn]:
    """Add an accountant to the registry under ``name``."""

    def deco(fn: AccountantFn) -> AccountantFn:
        ACCOUNTANTS[name] = fn
        return fn

    return deco


@register("opacus_prv")
def _opacus_prv(history: Sequence[Segment], delta: float) -> float:
    from opacus.accountants import PRVAccountant

    acc = PRVAccountant()
    acc.history = list(history)
    return float(acc.get_epsilon(delta, eps_error=PRV_EPS_ERROR))


@register("opacus_rdp")
def _opacus_rdp(history: Sequence[Segment], delta: float) -> float:
    from opacus.accountants import RDPAccountant

    acc = RDPAccountant()
    acc.history = list(history)
    return float(acc.get_epsilon(delta))


def _dp_event(history: Sequence[Segment]) -> Any:
    import dp_accounting

    events = [
        dp_accounting.SelfComposedDpEvent(
            dp_accounting.PoissonSampledDpEvent(q, dp_accounting.GaussianDpEvent(sigma)), steps
        )
        for sigma, q, steps in history
    ]
    return events[0] if len(events) == 1 else dp_accounting.ComposedDpEvent(events)


@register("dp_accounting_pld")
def _dpa_pld(history: Sequence[Segment], delta: float) -> float:
    from dp_accounting.pld import PLDAccountant

    acc = PLDAccountant(value_discretization_interval=PLD_INTERVAL)
    acc.compose(_dp_event(history))
    return float(acc.get_epsilon(delta))


@register("dp_accounting_rdp")
def _dpa_rdp(history: Sequence[Segment], delta: float) -> float:
    from dp_accounting.rdp import RdpAccountant

    acc = RdpAccountant()
    acc.compose(_dp_event(history))
    return float(acc.get_epsilon(delta))


# Pairs that measure the same quantity: (a, b, tolerance(eps_a, eps_b, steps), rule text).
def _rdp_tol(a: float, b: float, steps: int) -> float:
    return RDP_REL_TOL * max(a, b)


def _prv_pld_tol(a: float, b: float, steps: int) -> float:
    return max(PRV_PLD_REL_TOL * max(a, b), PRV_EPS_ERROR + steps * PLD_INTERVAL)


PAIRS: list[tuple[str, str, Callable[[float, float, int], float], str]] = [
    ("opacus_rdp", "dp_accounting_rdp", _rdp_tol, "RDP vs RDP: within 1% relative"),
    (
        "opacus_prv",
        "dp_accounting_pld",
        _prv_pld_tol,
        "PRV vs PLD: within max(1% relative, PRV eps_error 0.01 + steps x PLD interval 1e-4)",
    ),
]


@dataclass
class PairCheck:
    a: str
    b: str
    eps_a: float
    eps_b: float
    difference: float
    tolerance: float
    rule: str
    ok: bool


@dataclass
class AccountingReport:
    """Epsilon of every accountant for one mechanism history, and the agreement checks."""

    history: list[Segment]
    delta: float
    epsilons: dict[str, float]
    checks: list[PairCheck] = field(default_factory=list)
    reported: str = "opacus_prv"

    @property
    def epsilon(self) -> float:
        return self.epsilons[self.reported]

    @property
    def agree(self) -> bool:
        return all(c.ok for c in self.checks)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["epsilon"] = self.epsilon
        d["agree"] = self.agree
        return d

    def table(self) -> str:
        """A human-readable table of the accountants and the agreement checks."""
        lines = [f"accountant           epsilon (delta={self.delta:.3g})"]
        lines += [f"{name:<20} {eps:.4f}" for name, eps in self.epsilons.items()]
        for c in self.checks:
            mark = "ok" if c.ok else "DISAGREE"
            lines.append(f"{c.a} vs {c.b}: |diff| {c.difference:.4f} <= {c.tolerance:.4f}? {mark}")
        return "\n".join(lines)


def total_steps(history: Sequence[Segment]) -> int:
    return sum(int(s[2]) for s in history)


def account(
    history: Sequence[Segment], delta: float, *, check: bool = True, reported: str | None = "opacus_prv"
) -> AccountingReport:
    """Epsilon from every registered accountant; with ``check``, refuse on disagreement.

    ``reported`` names the accountant the run was charged with (its epsilon is the one reported).
    """
    reported = reported or "opacus_prv"
    _known(reported)
    history = [(float(s), float(q), int(n)) for s, q, n in history if int(n) > 0]
    if not history:
        return AccountingReport([], delta, {name: 0.0 for name in ACCOUNTANTS}, reported=reported)
    epsilons = {name: fn(history, delta) for name, fn in ACCOUNTANTS.items()}
    steps = total_steps(history)
    report = AccountingReport(history, delta, epsilons, reported=reported)
    for a, b, tol_fn, rule in PAIRS:
        ea, eb = epsilons[a], epsilons[b]
        tol = tol_fn(ea, eb, steps)
        diff = abs(ea - eb)
        report.checks.append(PairCheck(a, b, ea, eb, diff, tol, rule, bool(diff <= tol)))
    if check and not report.agree:
        bad = "; ".join(
            f"{c.a}={c.eps_a:.4f} vs {c.b}={c.eps_b:.4f} (tolerance {c.tolerance:.4f})"
            for c in report.checks
            if not c.ok
        )
        raise AccountantDisagreement(f"accountants disagree beyond tolerance, refusing to report: {bad}")
    return report


def default_delta(n: int) -> float:
    """Delta below 1/n by at least a factor of ten (and no larger than 1e-5)."""
    return min(1e-5, 1.0 / (10.0 * n))


def check_delta(delta: float, n: int) -> None:
    if not (0.0 < delta < 1.0 / n):
        raise BudgetError(
            f"delta={delta:g} must be in (0, 1/n) = (0, {1.0 / n:.3g}) for n={n} records: a larger "
            "delta allows releasing a whole record. Omit --delta for the default (< 1/(10n))."
        )


def _known(accountant: str) -> Callable[..., float]:
    try:
        return ACCOUNTANTS[accountant]
    except KeyError:
        raise BudgetError(
            f"unknown accountant {accountant!r}; registered: {', '.join(sorted(ACCOUNTANTS))}"
        ) from None


def noise_reachable(
    target_epsilon: float,
    delta: float,
    q: float,
    steps: int,
    *,
    max_noise: float = 50.0,
    accountant: str | None = "opacus_prv",
) -> None:
    """Refuse (BudgetError) a target that even the capped noise multiplier cannot meet."""
    if not (target_epsilon > 0 and math.isfinite(target_epsilon)):
        raise BudgetError(f"target epsilon must be a positive number, got {target_epsilon!r}")
    reach = _known(accountant or "opacus_prv")([(max_noise, q, steps)], delta)
    if reach > target_epsilon:
        raise BudgetError(
            f"target epsilon {target_epsilon:g} cannot be met: even noise multiplier {max_noise:g} "
            f"(the cap, --max-noise-multiplier) gives epsilon {reach:.3g} for {steps} steps at "
            f"sampling rate {q:.3g} and delta {delta:.3g}. Raise the target, train fewer epochs, "
            "use a smaller batch, or add data."
        )


def steps_within_budget(
    target_epsilon: float,
    delta: float,
    sigma: float,
    q: float,
    wanted: int,
    prior: Sequence[Segment] = (),
    *,
    accountant: str | None = "opacus_prv",
) -> int:
    """How many of ``wanted`` further steps keep the epsilon (of ``accountant``) within the target.

    Binary search over the step count, so a run stops cleanly on the last step that
    fits (a resumed or extended run cannot overshoot its budget).
    """

    fn = _known(accountant or "opacus_prv")

    def fits(k: int) -> bool:
        hist = list(prior) + ([(sigma, q, k)] if k > 0 else [])
        return (fn(hist, delta) if hist else 0.0) <= target_epsilon * 1.001

    if wanted <= 0:
        return 0
    if fits(wanted):
        return wanted
    lo, hi = 0, wanted  # fits(lo) holds, fits(hi) does not
    while hi - lo > 1:
        mid = (lo + hi) // 2
        lo, hi = (mid, hi) if fits(mid) else (lo, mid)
    return lo
