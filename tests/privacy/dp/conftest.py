"""Fixtures for the DP tests: tiny models and datasets built once per session, locally."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from privacy.cli import main
from privacy.dp.tiny import make_tiny_model, synthetic_records, write_jsonl

logging.getLogger("opacus").setLevel(logging.ERROR)


@pytest.fixture(scope="session")
def tiny_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("dp")


@pytest.fixture(scope="session")
def gpt2_dir(tiny_dir: Path) -> Path:
    return make_tiny_model(tiny_dir / "gpt2", arch="gpt2", context=48, width=16, layers=1)


@pytest.fixture(scope="session")
def llama_dir(tiny_dir: Path) -> Path:
    return make_tiny_model(tiny_dir / "llama", arch="llama", context=48, width=16, layers=1)


@pytest.fixture(scope="session")
def data_file(tiny_dir: Path) -> Path:
    return write_jsonl(tiny_dir / "train.jsonl", synthetic_records(48, seed=1))


@pytest.fixture(scope="session")
def full_run(tmp_path_factory: pytest.TempPathFactory, gpt2_dir: Path, data_file: Path) -> Path:
    out = tmp_path_factory.mktemp("run") / "gpt2-dp"
    code = main(
        [
            "train",
            "--model",
            str(gpt2_dir),
            "--data",
            str(data_file),
            "--out-dir",
            str(out),
            "--target-epsilon",
            "4",
            "--epochs",
            "2",
            "--batch-size",
            "16",
            "--max-grad-norm",
            "1.0",
            "--physical-batch-size",
            "8",
            "--lr",
            "5e-3",
            "--no-progress",
        ]
    )
    assert code == 0
    return out
