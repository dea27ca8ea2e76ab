from __future__ import annotations

import copy
import shutil
from pathlib import Path

import pytest

from gateway.policy.bundle import default_bundle_dir, load_bundle
from gateway.policy.engines import get_engine

DECISION = "gateway/authz/decision"
SHIPPED = default_bundle_dir()

# One allowed request for the shipped bundle (mirrors policies/gateway/fixtures_test.rego).
ALLOWED_INPUT = {
    "subject": "bob@acme",
    "tenant": "acme",
    "roles": ["analyst"],
    "claims": {},
    "route": "chat",
    "model": "llama-3.1-70b-instruct",
    "upstream": {"name": "eu-gpu", "labels": {"region": "eu"}},
    "request": {"max_tokens": 256, "stream": False, "n_messages": 2, "prompt_tokens_estimate": 100},
    "pii": {},
    "time": 1795694400,
}


def allowed_input(**patch: object) -> dict:
    doc = copy.deepcopy(ALLOWED_INPUT)
    doc.update(patch)
    return doc


@pytest.fixture(scope="session")
def shipped_bundle():
    return load_bundle(SHIPPED)


@pytest.fixture
def shipped_policy(shipped_bundle):
    # Function scope: a regorus engine belongs to the thread (and loop) that made it.
    return get_engine("regorus").compile(shipped_bundle, [DECISION])


@pytest.fixture
def bundle_copy(tmp_path: Path) -> Path:
    """A writable copy of the shipped bundle (for reload tests)."""
    dst = tmp_path / "bundle"
    shutil.copytree(SHIPPED, dst, ignore=shutil.ignore_patterns("examples"))
    return dst


def write_bundle(root: Path, files: dict[str, str]) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    for rel, text in files.items():
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text, encoding="utf-8")
    return root
