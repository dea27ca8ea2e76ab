"""Options defined once and reused by every ``audit`` command."""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

from audit.commands import UsageError

DEFAULT_STORE = "sqlite:///var/audit.db"
STORE_ENV = "CG_AUDIT__STORE"
SIGNING_ENV = "CG_AUDIT__SIGNING_KEY_FILE"
SUBJECT_ENV = "CG_AUDIT__SUBJECT_KEY_FILE"


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # argparse would exit(2) itself; let audit.commands report it
        raise UsageError(message)


def parser(prog: str, description: str) -> argparse.ArgumentParser:
    return _Parser(prog=f"audit {prog}", description=description)


def add_store(p: argparse.ArgumentParser) -> None:
    p.add_argument("--store", default=os.environ.get(STORE_ENV, DEFAULT_STORE), metavar="URL",
                   help=f"sqlite:///PATH or postgresql://... (default ${STORE_ENV} or {DEFAULT_STORE})")


def add_signing_key(p: argparse.ArgumentParser) -> None:
    p.add_argument("--signing-key-file", default=os.environ.get(SIGNING_ENV), metavar="PEM",
                   help=f"Ed25519 private key for checkpoints (default ${SIGNING_ENV} or the development key)")


def add_subject_key(p: argparse.ArgumentParser) -> None:
    p.add_argument("--subject-key-file", default=os.environ.get(SUBJECT_ENV), metavar="FILE",
                   help=f"subject master key (default ${SUBJECT_ENV} or the development key)")


def add_public_key(p: argparse.ArgumentParser) -> None:
    p.add_argument("--public-key", metavar="PEM",
                   help="Ed25519 public key that signs the checkpoints (default: the development key's)")


def add_json(p: argparse.ArgumentParser) -> None:
    p.add_argument("--json", metavar="FILE", type=Path, help="also write the result as JSON to FILE ('-' for stdout)")


def emit_json(target: Path | None, data: dict[str, Any]) -> None:
    if target is None:
        return
    text = json.dumps(data, indent=2, sort_keys=True, default=str)
    if str(target) == "-":
        print(text)
    else:
        target.write_text(text + "\n", encoding="utf-8")


def progress_enabled() -> bool:
    return sys.stderr.isatty()


def _must_exist(url: str) -> None:
    from audit.store import open_store
    from audit.store.sqlite import SQLiteStore

    store = open_store(url)
    if isinstance(store, SQLiteStore) and not Path(store.path).exists():
        raise UsageError(f"no audit log at {store.path}; check --store")


def open_appender_from(args: argparse.Namespace):  # noqa: ANN201
    """Open the store with the keys (commands that sign); the log must already exist."""
    from audit.log import open_appender

    _must_exist(args.store)

    return open_appender(args.store, signing_key_file=getattr(args, "signing_key_file", None),
                         subject_key_file=getattr(args, "subject_key_file", None))


def open_reader(url: str):  # noqa: ANN201
    """Open an existing store for reading; a missing SQLite file is an error, not a new empty log."""
    from audit.store import open_store

    _must_exist(url)
    store = open_store(url)
    store.open()
    return store
