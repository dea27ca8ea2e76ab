"""tensorflow-privacy, in its own venv (.venv-tfp), agrees with our accounting and MIA.

These tests FAIL (not skip) when .venv-tfp is missing: CI creates it with scripts/setup-tfp.
"""

from __future__ import annotations

import math
import random
from pathlib import Path

import pytest

from privacy.dp import accounting, empirical
from privacy.dp.tfp_bridge import SETUP, VENV, run_in_tfp_venv

REPO = Path(__file__).resolve().parents[3]


@pytest.fixture(scope="module", autouse=True)
def tfp_venv() -> None:
    if not (REPO / VENV / "bin" / "python").is_file():
        pytest.fail(f"{VENV} is missing: run {SETUP} (installs tensorflow==2.15.1 + tensorflow-privacy)")


@pytest.mark.parametrize(("n", "batch", "sigma", "epochs", "delta"), [
    (10_000, 256, 1.1, 3, 1e-5),  # the standard case: RDP 1.874
    (60_000, 250, 0.8, 5, 1e-5),
])
def test_privacy_statement_agrees_with_our_rdp(n: int, batch: int, sigma: float, epochs: int, delta: float) -> None:
    answer = run_in_tfp_venv(REPO, {"op": "statement", "n": n, "batch_size": batch, "epochs": epochs,
                                    "noise_multiplier": sigma, "delta": delta})
    theirs = answer["epsilon_poisson_rdp"]
    assert theirs is not None, answer["statement"]
    ours = accounting.account([(sigma, batch / n, math.ceil(epochs * n / batch))], delta)
    for name in ("opacus_rdp", "dp_accounting_rdp"):
        # the statement prints three decimals
        assert abs(ours.epsilons[name] - theirs) <= max(0.01 * theirs, 0.0015), (name, ours.epsilons, theirs)
    if n == 10_000:
        assert theirs == pytest.approx(1.874, abs=1e-3)


def test_membership_inference_suite_agrees_with_our_auc() -> None:
    # losses of members lower than non-members on average, as after real training
    rng = random.Random(7)
    loss_train = [rng.gauss(2.0, 0.5) for _ in range(300)]
    loss_test = [rng.gauss(2.4, 0.5) for _ in range(300)]
    answer = run_in_tfp_venv(REPO, {"op": "mia", "loss_train": loss_train, "loss_test": loss_test})
    ours = empirical.auc([-x for x in loss_train], [-x for x in loss_test])
    assert 0.6 < ours < 0.85
    assert answer["auc"] == pytest.approx(ours, abs=0.02)


def test_membership_inference_suite_on_our_model_losses(tmp_path: Path) -> None:
    """Losses of a tiny GPT-2 we fine-tune (members) vs held-out records, scored by both suites."""
    from privacy.dp.config import TrainConfig
    from privacy.dp.data import encode
    from privacy.dp.model_io import load_model
    from privacy.dp.tiny import make_tiny_model, synthetic_records, write_jsonl
    from privacy.dp.trainer import evaluate_losses, train

    records = synthetic_records(96, seed=3)
    members, held_out = records[:48], records[48:]
    model_dir = make_tiny_model(tmp_path / "m", arch="gpt2", context=48, width=16, layers=1)
    data = write_jsonl(tmp_path / "members.jsonl", members)
    train(TrainConfig(model=str(model_dir), data=str(data), out=str(tmp_path / "out"), epochs=6, batch_size=8,
                      lr=1e-2, private=False, progress=False))
    model, tok = load_model(tmp_path / "out")

    def losses(texts: list[str]) -> list[float]:
        enc = encode(texts, list(range(1, len(texts) + 1)), tok, 48, truncate=True)
        return [float(x) for x in evaluate_losses(model, enc.input_ids, enc.attention_mask)]

    loss_train, loss_test = losses(members), losses(held_out)
    answer = run_in_tfp_venv(REPO, {"op": "mia", "loss_train": loss_train, "loss_test": loss_test})
    ours = empirical.auc([-x for x in loss_train], [-x for x in loss_test])
    assert answer["auc"] == pytest.approx(ours, abs=0.03)
