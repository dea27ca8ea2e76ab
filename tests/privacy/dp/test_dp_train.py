"""DP training end to end on tiny GPT-2 / Llama models (real Opacus, real weights)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from privacy.cli import main
from privacy.dp import accounting
from privacy.dp.config import TrainConfig
from privacy.dp.errors import CheckpointError, UnsupportedLayerError
from privacy.dp.report import REPORT_JSON, REPORT_SIG, verify_report
from privacy.dp.runner import run_training
from privacy.dp.trainer import CHECKPOINT, train

REPO = Path(__file__).resolve().parents[3]


def _weights(directory: Path) -> dict[str, torch.Tensor]:
    from safetensors.torch import load_file

    return load_file(str(directory / "model.safetensors"))


def test_full_finetune_ghost_clipping_writes_signed_report(full_run: Path, gpt2_dir: Path) -> None:
    report = json.loads((full_run / REPORT_JSON).read_text())
    assert report["status"] == "completed"
    assert 0 < report["epsilon"] <= 4.0
    assert set(report["accountants"]) == {
        "opacus_prv",
        "opacus_rdp",
        "dp_accounting_pld",
        "dp_accounting_rdp",
    }
    assert all(c["ok"] for c in report["accountant_checks"])
    dp = report["dp"]
    assert dp["sampling"] == "poisson" and dp["grad_sample_mode"] == "ghost"
    assert dp["steps"] == dp["planned_steps"] == 6 and dp["delta"] < 1 / 48
    assert report["dataset"]["records"] == 48 and len(report["dataset"]["records_sha256"]) == 64
    # the model changed, and the GPT-2 head was untied for ghost clipping
    before, after = _weights(gpt2_dir), _weights(full_run)
    assert "lm_head.weight" in after
    assert not torch.equal(
        before["transformer.h.0.mlp.c_fc.weight"], after["transformer.h.0.mlp.c_fc.weight"]
    )
    # the signature verifies, and a single edited number breaks it
    assert verify_report(full_run)
    sig = json.loads((full_run / REPORT_SIG).read_text())
    report["epsilon"] = 0.1
    (full_run / "tampered").mkdir()
    (full_run / "tampered" / REPORT_JSON).write_text(json.dumps(report))
    (full_run / "tampered" / REPORT_SIG).write_text(json.dumps(sig))
    assert not verify_report(full_run / "tampered")
    assert "epsilon" in (full_run / "privacy_report.txt").read_text()


def test_lora_llama_with_gradient_checkpointing(tmp_path: Path, llama_dir: Path, data_file: Path) -> None:
    cfg = TrainConfig(
        model=str(llama_dir),
        data=str(data_file),
        out=str(tmp_path / "lora"),
        target_epsilon=8,
        epochs=1,
        batch_size=16,
        max_grad_norm=1.0,
        lora_r=2,
        lr=2e-2,
        physical_batch_size=8,
        gradient_checkpointing=True,
        progress=False,
    )
    result, report = run_training(cfg)
    assert result.status == "completed" and result.grad_sample_mode == "ghost"
    assert report is not None and report["epsilon"] <= 8.0
    before, after = _weights(llama_dir), _weights(tmp_path / "lora")
    assert not any("lora" in k for k in after)  # adapters merged into a plain model
    assert torch.equal(before["model.embed_tokens.weight"], after["model.embed_tokens.weight"])
    assert not torch.equal(
        before["model.layers.0.mlp.up_proj.weight"], after["model.layers.0.mlp.up_proj.weight"]
    )


def test_interrupted_run_resumes_without_double_counting(
    tmp_path: Path, gpt2_dir: Path, data_file: Path
) -> None:
    out = tmp_path / "interrupted"
    args = [
        "--model",
        str(gpt2_dir),
        "--data",
        str(data_file),
        "--out-dir",
        str(out),
        "--target-epsilon",
        "6",
        "--epochs",
        "2",
        "--batch-size",
        "4",
        "--max-grad-norm",
        "1.0",
        "--physical-batch-size",
        "4",
        "--checkpoint-every",
        "1",
        "--grad-sample-mode",
        "hooks",
        "--no-progress",
    ]
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "privacy", "train", *args],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    ckpt = out / "checkpoint" / CHECKPOINT
    deadline = time.monotonic() + 120
    while not ckpt.exists() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err.decode()[-2000:]
    state = torch.load(ckpt, weights_only=False)
    stopped_at = state["steps_done"]
    planned = 2 * 12
    assert 1 <= stopped_at < planned
    assert accounting.total_steps(state["accountant"]["history"]) == stopped_at
    assert not (out / REPORT_JSON).exists()

    # resuming with different DP parameters is refused: it would misstate the budget
    cfg = TrainConfig(
        model=str(gpt2_dir),
        data=str(data_file),
        out=str(out),
        target_epsilon=6,
        epochs=2,
        batch_size=4,
        max_grad_norm=1.0,
        physical_batch_size=4,
        grad_sample_mode="hooks",
        checkpoint_every=1,
        progress=False,
        resume=True,
    )
    with pytest.raises(CheckpointError, match="different run"):
        train(TrainConfig(**{**cfg.to_dict(), "max_grad_norm": 2.0}))

    result, report = run_training(cfg)
    assert result.steps_done == planned and result.status == "completed"
    history = result.accounting["history"]
    assert accounting.total_steps(history) == planned  # no step counted twice or lost
    uninterrupted = accounting.account([(result.noise_multiplier, result.sample_rate, planned)], result.delta)
    assert result.epsilon == pytest.approx(uninterrupted.epsilon, rel=1e-9)
    assert result.epsilon <= 6.0
    assert report is not None and verify_report(out)


def test_layer_opacus_cannot_handle_is_named(tmp_path: Path, gpt2_dir: Path, data_file: Path) -> None:
    from transformers import AutoModelForCausalLM, AutoTokenizer

    model = AutoModelForCausalLM.from_pretrained(str(gpt2_dir))
    model.transformer.h[0].mlp.norm = torch.nn.BatchNorm1d(16)
    tok = AutoTokenizer.from_pretrained(str(gpt2_dir))
    cfg = TrainConfig(
        model=str(gpt2_dir),
        data=str(data_file),
        out=str(tmp_path / "bn"),
        target_epsilon=8,
        epochs=1,
        batch_size=16,
        progress=False,
    )
    with pytest.raises(UnsupportedLayerError, match=r"transformer\.h\.0\.mlp\.norm \(BatchNorm1d\)"):
        train(cfg, model=model, tokenizer=tok)


def test_unreachable_epsilon_is_refused_by_the_cli(
    tmp_path: Path, gpt2_dir: Path, data_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(
        [
            "train",
            "--model",
            str(gpt2_dir),
            "--data",
            str(data_file),
            "--out-dir",
            str(tmp_path / "x"),
            "--target-epsilon",
            "0.0001",
            "--epochs",
            "3",
            "--batch-size",
            "16",
            "--max-grad-norm",
            "1",
            "--max-noise-multiplier",
            "2",
            "--no-progress",
        ]
    )
    assert code == 2
    assert "cannot be met" in capsys.readouterr().err
    assert not (tmp_path / "x").exists()


def test_bad_dataset_through_the_cli(
    tmp_path: Path, gpt2_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"text": "ok"}\nnot json\n', encoding="utf-8")
    code = main(
        [
            "train",
            "--model",
            str(gpt2_dir),
            "--data",
            str(bad),
            "--out-dir",
            str(tmp_path / "y"),
            "--target-epsilon",
            "8",
            "--epochs",
            "1",
            "--batch-size",
            "4",
            "--max-grad-norm",
            "1",
        ]
    )
    assert code == 2 and "line(s) 2" in capsys.readouterr().err


def test_redact_pii_trains_on_redacted_records(
    tmp_path: Path, gpt2_dir: Path, data_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import privacy.dp.redaction as redaction
    from privacy.pii import redact_texts

    assert redact_texts(["write to jane.roe@example.com"]) == ["write to <EMAIL_ADDRESS_1>"]
    seen: list[list[str]] = []

    def spy(texts: list[str]) -> list[str]:
        out = redact_texts(texts)
        seen.append(out)
        return out

    monkeypatch.setattr(redaction, "_engine", lambda: spy)
    leaky = tmp_path / "leaky.jsonl"
    lines = data_file.read_text().splitlines()
    lines[:20] = [json.dumps({"text": f"customer {i} mail: user{i}@example.com"}) for i in range(20)]
    leaky.write_text("\n".join(lines) + "\n")
    code = main(
        [
            "train",
            "--model",
            str(gpt2_dir),
            "--data",
            str(leaky),
            "--out-dir",
            str(tmp_path / "z"),
            "--target-epsilon",
            "8",
            "--epochs",
            "1",
            "--batch-size",
            "16",
            "--max-grad-norm",
            "1",
            "--redact-pii",
            "--no-progress",
        ]
    )
    assert code == 0
    report = json.loads((tmp_path / "z" / REPORT_JSON).read_text())
    assert report["dataset"]["path"].endswith("#redacted")
    assert seen and not any("@example.com" in t for t in seen[0])


@pytest.mark.parametrize("mode", ["hooks", "ghost"])
def test_empty_poisson_batch_takes_a_counted_noise_only_step(gpt2_dir: Path, mode: str) -> None:
    from opacus import PrivacyEngine
    from torch.utils.data import DataLoader, TensorDataset

    from privacy.dp.model_io import load_model
    from privacy.dp.trainer import IGNORE, _empty_step

    model, _ = load_model(gpt2_dir)
    model.train()
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    loader = DataLoader(TensorDataset(torch.zeros((8, 4), dtype=torch.long)), batch_size=4)
    engine = PrivacyEngine(accountant="prv")
    made = engine.make_private(
        module=model,
        optimizer=torch.optim.SGD(model.parameters(), lr=0.1),
        data_loader=loader,
        noise_multiplier=1.0,
        max_grad_norm=1.0,
        grad_sample_mode=mode,
        criterion=torch.nn.CrossEntropyLoss(ignore_index=IGNORE),
    )
    optimizer = made[1]
    _empty_step(optimizer)
    assert accounting.total_steps(engine.accountant.history) == 1
    changed = [n for n, p in model.named_parameters() if not torch.equal(before[n], p.detach())]
    assert changed  # noise was added even though no record was sampled


def test_training_run_is_recorded_in_the_audit_log(tmp_path: Path, gpt2_dir: Path, data_file: Path) -> None:
    import subprocess
    import sys

    import orjson

    store = f"sqlite:///{tmp_path / 'audit.db'}"
    code = main(
        [
            "train",
            "--model",
            str(gpt2_dir),
            "--data",
            str(data_file),
            "--out-dir",
            str(tmp_path / "a"),
            "--target-epsilon",
            "8",
            "--epochs",
            "1",
            "--batch-size",
            "16",
            "--max-grad-norm",
            "1",
            "--audit-store",
            store,
            "--no-progress",
        ]
    )
    assert code == 0 and (tmp_path / "a" / REPORT_JSON).exists()
    out = subprocess.run(
        [sys.executable, "-m", "audit", "export", "--store", store, "--format", "jsonl"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    records = [orjson.loads(orjson.loads(x)["body"]) for x in out.splitlines() if '"kind":"record"' in x]
    train = [r for r in records if r["type"] == "privacy.train"]
    assert len(train) == 1
    payload = orjson.dumps(train[0]["payload"]).decode()
    assert "epsilon" in payload and "noise" in payload  # the DP parameters and the spent budget
    v = subprocess.run(
        [sys.executable, "-m", "audit", "verify", "--store", store], capture_output=True, text=True
    )
    assert v.returncode == 0, v.stdout + v.stderr
