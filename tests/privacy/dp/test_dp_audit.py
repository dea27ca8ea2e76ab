"""Empirical audit: the one-run bound's statistics, and `privacy audit` on a real run."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from privacy.cli import main
from privacy.dp import empirical
from privacy.dp.report import REPORT_JSON, verify_report


def test_one_run_bound_detects_leakage_and_not_noise() -> None:
    rng = random.Random(0)
    m = 1000
    included = [rng.random() < 0.5 for _ in range(m)]
    # a model that leaks everything: members score high, non-members low
    leaky = empirical.one_run_audit([1.0 if i else 0.0 for i in included], included, delta=1e-5)
    assert leaky.epsilon_lower_bound > 2.0
    assert empirical.is_bug(leaky.epsilon_lower_bound, accounted_epsilon=1.0)
    # a model that leaks nothing: scores independent of membership
    private = empirical.one_run_audit([rng.random() for _ in range(m)], included, delta=1e-5)
    assert private.epsilon_lower_bound < 0.5
    assert not empirical.is_bug(private.epsilon_lower_bound, accounted_epsilon=1.0)


def test_exposure_and_auc() -> None:
    assert empirical.exposure(0.1, [1.0] * 63) == pytest.approx(6.0)  # best of 64: log2(64) bits
    assert empirical.exposure(2.0, [1.0] * 63) == pytest.approx(0.0)
    assert empirical.auc([2, 3], [0, 1]) == 1.0 and empirical.auc([0, 1], [2, 3]) == 0.0
    assert empirical.auc([1, 2], [1, 2]) == pytest.approx(0.5)


def test_privacy_audit_command_on_a_run(full_run: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["audit", str(full_run), "--canaries", "24", "--alternatives", "15"])
    text = capsys.readouterr().out
    assert code == 0, text
    audit = json.loads((full_run / "audit" / "audit_report.json").read_text())
    assert not audit["bug"]
    dp, base = audit["runs"]["dp"], audit["runs"]["non_private"]
    assert 0 <= dp["epsilon_lower_bound"] <= dp["accounted_epsilon"] <= 4.0
    assert base["accounted_epsilon"] is None
    for r in (dp, base):
        assert 0.0 <= r["mia_auc"] <= 1.0 and r["canaries"] == 24
        assert 0.0 <= r["mean_exposure"] <= r["exposure_cap_bits"] == pytest.approx(4.0)
    assert "eps lower bound" in text and "consistent" in text
    # the run's signed report now carries the audit result and still verifies
    report = json.loads((full_run / REPORT_JSON).read_text())
    assert report["empirical_audit"]["epsilon_lower_bound"] == audit["epsilon_lower_bound"]
    assert verify_report(full_run)


def test_audit_of_a_directory_that_is_not_a_run(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["audit", str(tmp_path)]) == 2
    assert "run.json" in capsys.readouterr().err


def test_audit_from_a_config_file(
    tmp_path: Path, gpt2_dir: Path, data_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cfg = tmp_path / "audit.yaml"
    cfg.write_text(
        f"model: {gpt2_dir}\ndata: {data_file}\nout: {tmp_path / 'run'}\ntarget_epsilon: 8\n"
        "epochs: 1\nbatch_size: 16\n",
        encoding="utf-8",
    )
    assert (
        main(
            [
                "audit",
                "--config",
                str(cfg),
                "--canaries",
                "8",
                "--alternatives",
                "7",
                "--no-baseline",
                "--json",
            ]
        )
        == 0
    )
    out = json.loads(capsys.readouterr().out)
    assert set(out["runs"]) == {"dp"} and out["runs"]["dp"]["canaries"] == 8
    assert (tmp_path / "run" / "audit" / "audit_report.json").exists()
    bad = tmp_path / "bad.yaml"
    bad.write_text("model: x\nsurprise: 1\n", encoding="utf-8")
    assert main(["audit", "--config", str(bad)]) == 2
    assert "surprise" in capsys.readouterr().err
