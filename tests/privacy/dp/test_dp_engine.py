"""The DPTrainer engine object: prepare / step / run, and the accountant chosen by name."""

from __future__ import annotations

from pathlib import Path

import pytest

from privacy.dp.config import TrainConfig
from privacy.dp.errors import DPError
from privacy.dp.trainer import DPTrainer, train


def _cfg(tmp_path: Path, gpt2_dir: Path, data_file: Path, **kw: object) -> TrainConfig:
    base = dict(
        model=str(gpt2_dir),
        data=str(data_file),
        out=str(tmp_path / "out"),
        target_epsilon=4.0,
        epochs=1,
        batch_size=16,
        max_grad_norm=1.0,
        physical_batch_size=16,
        progress=False,
    )
    base.update(kw)
    return TrainConfig(**base)  # type: ignore[arg-type]


def test_rdp_accountant_needs_more_noise_and_is_what_the_run_reports(
    tmp_path: Path, gpt2_dir: Path, data_file: Path
) -> None:
    prv = DPTrainer(_cfg(tmp_path, gpt2_dir, data_file, accountant="prv"), write_outputs=False).prepare()
    rdp = DPTrainer(_cfg(tmp_path, gpt2_dir, data_file, accountant="rdp"), write_outputs=False).prepare()
    # RDP is the looser bound: the same epsilon target costs more noise.
    assert rdp.noise_multiplier > prv.noise_multiplier > 0
    result = train(_cfg(tmp_path, gpt2_dir, data_file, accountant="rdp"), write_outputs=False)
    assert result.accounting is not None
    assert result.accounting["reported"] == "opacus_rdp"
    assert result.epsilon == pytest.approx(result.accounting["epsilons"]["opacus_rdp"])
    assert result.epsilon <= 4.0 * 1.001


def test_unknown_accountant_is_refused_by_name(tmp_path: Path, gpt2_dir: Path, data_file: Path) -> None:
    with pytest.raises(DPError, match="--accountant must be one of prv, rdp"):
        DPTrainer(_cfg(tmp_path, gpt2_dir, data_file, accountant="moments"))


def test_step_is_the_training_step(tmp_path: Path, gpt2_dir: Path, data_file: Path) -> None:
    trainer = DPTrainer(_cfg(tmp_path, gpt2_dir, data_file), write_outputs=False)
    p = trainer.prepare(noise_multiplier=1.0)
    assert p.noise_multiplier == 1.0 and p.engine is not None
    before = [t.detach().clone() for t in p.model.parameters() if t.requires_grad]
    ids, mask = p.encoded.input_ids[:8], p.encoded.attention_mask[:8]
    loss = trainer.step(p, ids, mask)
    assert loss is not None and loss > 0
    after = [t.detach() for t in p.model.parameters() if t.requires_grad]
    assert any(not b.equal(a) for b, a in zip(before, after, strict=True))
    assert sum(n for _, _, n in p.engine.accountant.history) == 1  # the accountant counted the step
    # an empty Poisson batch is a noise-only step, counted too
    assert trainer.step(p, ids[:0], mask[:0]) is None
    assert sum(n for _, _, n in p.engine.accountant.history) == 2
