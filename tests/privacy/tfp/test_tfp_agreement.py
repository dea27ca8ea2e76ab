"""tensorflow-privacy, in its own venv (.venv-tfp), agrees with our accounting and MIA.

These tests FAIL (not skip) when .venv-tfp is missing: CI creates it with scripts/setup-tfp.
All questions go to the venv in one subprocess (TensorFlow is imported once).
"""

from __future__ import annotations

import math
import random
from pathlib import Path
from typing import Any

import pytest

from privacy.dp import accounting, empirical
from privacy.dp.tfp_bridge import SETUP, VENV, run_in_tfp_venv

REPO = Path(__file__).resolve().parents[3]
CASES = [(10_000, 256, 1.1, 3, 1e-5), (60_000, 250, 0.8, 5, 1e-5)]  # the first: the standard case


def _synthetic_losses() -> tuple[list[float], list[float]]:
    rng = random.Random(7)
    return [rng.gauss(2.0, 0.5) for _ in range(300)], [rng.gauss(2.4, 0.5) for _ in range(300)]


def _model_losses(tmp: Path) -> tuple[list[float], list[float]]:
    """Losses of a tiny GPT-2 we fine-tune (members) and of held-out records."""
    from privacy.dp.config import TrainConfig
    from privacy.dp.data import encode
    from privacy.dp.model_io import load_model
    from privacy.dp.tiny import make_tiny_model, synthetic_records, write_jsonl
    from privacy.dp.trainer import evaluate_losses, train

    records = synthetic_records(96, seed=3)
    members, held_out = records[:48], records[48:]
    model_dir = make_tiny_model(tmp / "m", arch="gpt2", context=48, width=16, layers=1)
    data = write_jsonl(tmp / "members.jsonl", members)
    train(
        TrainConfig(
            model=str(model_dir),
            data=str(data),
            out=str(tmp / "out"),
            epochs=6,
            batch_size=8,
            lr=1e-2,
            private=False,
            progress=False,
        )
    )
    model, tok = load_model(tmp / "out")

    def losses(texts: list[str]) -> list[float]:
        enc = encode(texts, list(range(1, len(texts) + 1)), tok, 48, truncate=True)
        return [float(x) for x in evaluate_losses(model, enc.input_ids, enc.attention_mask)]

    return losses(members), losses(held_out)


@pytest.fixture(scope="module")
def answers(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    if not (REPO / VENV / "bin" / "python").is_file():
        pytest.fail(f"{VENV} is missing: run {SETUP} (installs tensorflow==2.15.1 + tensorflow-privacy)")
    synthetic = _synthetic_losses()
    model = _model_losses(tmp_path_factory.mktemp("tfp"))
    requests = [
        {"op": "statement", "n": n, "batch_size": b, "epochs": ep, "noise_multiplier": s, "delta": d}
        for n, b, s, ep, d in CASES
    ]
    requests += [{"op": "mia", "loss_train": tr, "loss_test": te} for tr, te in (synthetic, model)]
    got = run_in_tfp_venv(REPO, {"op": "batch", "requests": requests})["answers"]
    return {
        "statements": got[: len(CASES)],
        "mia_synthetic": (got[-2], synthetic),
        "mia_model": (got[-1], model),
    }


@pytest.mark.parametrize("case", range(len(CASES)))
def test_privacy_statement_agrees_with_our_rdp(answers: dict[str, Any], case: int) -> None:
    n, batch, sigma, epochs, delta = CASES[case]
    answer = answers["statements"][case]
    theirs = answer["epsilon_poisson_rdp"]
    assert theirs is not None, answer["statement"]
    ours = accounting.account([(sigma, batch / n, math.ceil(epochs * n / batch))], delta)
    for name in ("opacus_rdp", "dp_accounting_rdp"):
        # the statement prints three decimals
        assert abs(ours.epsilons[name] - theirs) <= max(0.01 * theirs, 0.0015), (name, ours.epsilons, theirs)
    if case == 0:
        assert theirs == pytest.approx(1.874, abs=1e-3)


def test_membership_inference_suite_agrees_with_our_auc(answers: dict[str, Any]) -> None:
    answer, (loss_train, loss_test) = answers["mia_synthetic"]
    ours = empirical.auc([-x for x in loss_train], [-x for x in loss_test])
    assert 0.6 < ours < 0.85
    assert answer["auc"] == pytest.approx(ours, abs=0.02)


def test_membership_inference_suite_on_our_model_losses(answers: dict[str, Any]) -> None:
    answer, (loss_train, loss_test) = answers["mia_model"]
    ours = empirical.auc([-x for x in loss_train], [-x for x in loss_test])
    assert answer["auc"] == pytest.approx(ours, abs=0.03)
