"""Opacus DPDDP: two CPU processes with the gloo backend train one DP model."""

from __future__ import annotations

import json
from pathlib import Path

from privacy.dp.config import TrainConfig
from privacy.dp.ddp import launch
from privacy.dp.report import REPORT_JSON, verify_report


def test_two_process_gloo_training(tmp_path: Path, gpt2_dir: Path, data_file: Path) -> None:
    out = tmp_path / "ddp"
    cfg = TrainConfig(
        model=str(gpt2_dir),
        data=str(data_file),
        out=str(out),
        target_epsilon=8,
        epochs=1,
        batch_size=16,
        max_grad_norm=1.0,
        physical_batch_size=8,
        grad_sample_mode="hooks",
        progress=False,
    )
    result = launch(cfg, 2)
    assert result["status"] == "completed"
    assert result["steps_done"] == result["planned_steps"] == 3
    assert 0 < result["epsilon"] <= 8.0
    report = json.loads((out / REPORT_JSON).read_text())
    assert report["dp"]["steps"] == 3 and verify_report(out)
    assert (out / "model.safetensors").exists()
