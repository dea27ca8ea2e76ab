"""Shared fixtures: key files in a temp CG_HOME, SQLite files, PostgreSQL tables with unique prefixes."""

from __future__ import annotations

import uuid
from pathlib import Path

import psycopg
import pytest

from audit import keys

PG_BASE = "postgresql://postgres@127.0.0.1:5432/test"


@pytest.fixture(autouse=True)
def cg_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path / "cg-home"
    monkeypatch.setenv("CG_HOME", str(home))
    return home


@pytest.fixture
def key_files(tmp_path: Path) -> dict[str, str]:
    d = tmp_path / "keys"
    keys.write_signing_key(d / "signing-key.pem")
    keys.write_subject_key(d / "subject-key")
    return {
        "signing_key_file": str(d / "signing-key.pem"),
        "subject_key_file": str(d / "subject-key"),
        "public_key": str(d / "signing-key.pub.pem"),
    }


@pytest.fixture
def writer_keys(key_files: dict[str, str]) -> dict[str, str]:
    return {k: v for k, v in key_files.items() if k != "public_key"}


@pytest.fixture
def public_key(key_files: dict[str, str]):  # noqa: ANN201
    return keys.load_public_key(key_files["public_key"])


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path}/audit.db"  # tmp_path is absolute: four slashes in all


def _pg_available() -> bool:
    try:
        psycopg.connect(PG_BASE, connect_timeout=3).close()
        return True
    except psycopg.Error:
        return False


@pytest.fixture
def pg_url():  # noqa: ANN201
    if not _pg_available():
        pytest.fail("PostgreSQL is not answering at 127.0.0.1:5432 (run ./scripts/services)")
    prefix = f"t_audit_{uuid.uuid4().hex[:10]}"
    url = f"{PG_BASE}?table={prefix}"
    yield url
    from audit.store import open_store

    s = open_store(url)
    s.open()
    s.drop()
    s.close()
