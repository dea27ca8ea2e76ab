"""Fixtures for the DP tests: tiny models and datasets built once per session, locally."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

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
