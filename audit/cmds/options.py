"""Options defined once and reused by every ``audit`` command (Click).

The argparse helpers at the end serve ``audit verify`` until it is converted too.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from audit.cli import UsageError

if TYPE_CHECKING:
    from audit.appender import Appender
    from audit.store import Store

F = TypeVar("F", bound=Callable[..., Any])

DEFAULT_STORE = "sqlite:///var/audit.db"
STORE_ENV = "CG_AUDIT__STORE"
SIGNING_ENV = "CG_AUDIT__SIGNING_KEY_FILE"
SUBJECT_ENV = "CG_AUDIT__SUBJECT_KEY_FILE"


def _file(**kw: Any) -> click.Path:
    """A key or input file the user names: Click checks it exists and is a file (exit 2 otherwise)."""
    return click.Path(exists=True, dir_okay=False, path_type=Path, **kw)


# -- Click options ----------------------------------------------------------------------------
def store_option(f: F) -> F:
    return click.option(
        "--store",
        envvar=STORE_ENV,
        default=DEFAULT_STORE,
        show_default=True,
        metavar="URL",
        show_envvar=True,
        help="the audit log: sqlite:///PATH or postgresql://...",
    )(f)


def signing_key_option(f: F) -> F:
    return click.option(
        "--signing-key-file",
        envvar=SIGNING_ENV,
        show_envvar=True,
        type=_file(),
        metavar="PEM",
        help="Ed25519 private key that signs checkpoints (default: the development key)",
    )(f)


def subject_key_option(f: F) -> F:
    return click.option(
        "--subject-key-file",
        envvar=SUBJECT_ENV,
        show_envvar=True,
        type=_file(),
        metavar="FILE",
        help="subject master key (default: the development key)",
    )(f)


def public_key_option(f: F) -> F:
    return click.option(
        "--public-key",
        type=_file(),
        metavar="PEM",
        help="Ed25519 public key that signs the checkpoints (default: the development key's)",
    )(f)


def json_option(f: F) -> F:
    return click.option("--json", "as_json", is_flag=True, help="print the result as JSON on stdout")(f)


def out_option(help: str = "also write the result as JSON to FILE") -> Callable[[F], F]:
    return click.option(
        "--out",
        type=click.Path(dir_okay=False, writable=True, path_type=Path),
        default=None,
        metavar="FILE",
        help=help,
    )


def to_json(data: Any) -> str:
    return json.dumps(data, indent=2, sort_keys=True, default=str)


def report(text: str, data: dict[str, Any], as_json: bool, out: Path | None) -> None:
    """The one output rule: ``--json`` -> JSON on stdout (else the text line); ``--out`` -> JSON to FILE."""
    click.echo(to_json(data) if as_json else text)
    if out is not None:
        out.write_text(to_json(data) + "\n", encoding="utf-8")


def progress_enabled(flag: bool | None = None) -> bool:
    return sys.stderr.isatty() if flag is None else flag


def _must_exist(url: str) -> None:
    from audit.store import open_store
    from audit.store.sqlite import SQLiteStore

    store = open_store(url)
    if isinstance(store, SQLiteStore) and not Path(store.path).exists():
        raise UsageError(f"no audit log at {store.path}; check --store")


def subject_known(store: Store, actor: str) -> bool:
    """Whether the log holds a data key or any record (erasures included) of this keyed-hash actor."""
    from audit.store import Query

    if store.data_keys([actor]):
        return True
    return next(iter(store.rows(query=Query(actor=actor), batch=1)), None) is not None


def open_appender(store: str, signing_key_file: Path | None, subject_key_file: Path | None) -> Appender:
    """Open the store with the keys (commands that sign); the log must already exist."""
    from audit.log import open_appender as _open

    _must_exist(store)
    return _open(store, signing_key_file=signing_key_file, subject_key_file=subject_key_file)


def open_reader(url: str) -> Store:
    """Open an existing store for reading; a missing SQLite file is an error, not a new empty log."""
    from audit.store import open_store

    _must_exist(url)
    store = open_store(url)
    store.open()
    return store
