"""Accounting: the standard case, the agreement check, unreachable targets, delta rules."""

from __future__ import annotations

import math

import pytest

from privacy.dp import accounting
from privacy.dp.errors import AccountantDisagreement, BudgetError


def _standard() -> list[tuple[float, float, int]]:
    n, batch, sigma, epochs = 10_000, 256, 1.1, 3
    return [(sigma, batch / n, math.ceil(epochs * n / batch))]


def test_standard_case_matches_published_numbers_and_accountants_agree() -> None:
    report = accounting.account(_standard(), 1e-5)
    eps = report.epsilons
    assert eps["opacus_rdp"] == pytest.approx(1.874, abs=0.002)
    assert eps["dp_accounting_rdp"] == pytest.approx(1.874, abs=0.002)
    assert eps["dp_accounting_pld"] == pytest.approx(1.557, abs=0.002)
    # like with like, within 1%
    assert abs(eps["opacus_rdp"] - eps["dp_accounting_rdp"]) / eps["opacus_rdp"] < 0.01
    assert abs(eps["opacus_prv"] - eps["dp_accounting_pld"]) / eps["dp_accounting_pld"] < 0.01
    # RDP is the looser upper bound
    assert eps["opacus_rdp"] > eps["opacus_prv"]
    assert report.agree and report.epsilon == eps["opacus_prv"]
    assert "DISAGREE" not in report.table()


def test_disagreeing_accountant_refuses_to_report(monkeypatch: pytest.MonkeyPatch) -> None:
    honest = accounting.ACCOUNTANTS["dp_accounting_pld"]
    monkeypatch.setitem(accounting.ACCOUNTANTS, "dp_accounting_pld", lambda h, d: honest(h, d) * 0.9)
    with pytest.raises(AccountantDisagreement, match="opacus_prv"):
        accounting.account(_standard(), 1e-5)
    assert not accounting.account(_standard(), 1e-5, check=False).agree


def test_unreachable_target_is_refused_before_training() -> None:
    with pytest.raises(BudgetError, match="cannot be met"):
        accounting.noise_reachable(0.001, 1e-5, q=1.0, steps=100, max_noise=5.0)
    with pytest.raises(BudgetError, match="positive"):
        accounting.noise_reachable(-1.0, 1e-5, q=0.1, steps=10)


def test_delta_default_is_below_one_over_n_and_large_delta_is_refused() -> None:
    for n in (10, 1000, 10**7):
        assert accounting.default_delta(n) < 1.0 / n
    with pytest.raises(BudgetError, match="1/n"):
        accounting.check_delta(0.01, 200)


def test_budget_stop_finds_last_step_within_target() -> None:
    sigma, q, delta = 1.0, 0.1, 1e-5
    k = accounting.steps_within_budget(4.0, delta, sigma, q, wanted=40)
    assert 0 < k < 40
    assert accounting.ACCOUNTANTS["opacus_prv"]([(sigma, q, k)], delta) <= 4.0 * 1.001
    assert accounting.ACCOUNTANTS["opacus_prv"]([(sigma, q, k + 1)], delta) > 4.0
