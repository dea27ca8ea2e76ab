"""Options shared by the commands, defined once, and the border where our errors become usage errors."""

from __future__ import annotations

import functools
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from commandline import UsageError, existing_path
from watermark.errors import WatermarkError


def key_options(f: Callable[..., Any]) -> Callable[..., Any]:
    """``--key KEY`` (must exist) and ``--passphrase-env VAR``."""
    f = click.option(
        "--passphrase-env", metavar="VAR", help="environment variable holding the key passphrase"
    )(f)
    return click.option(
        "--key",
        required=True,
        type=existing_path(dir_okay=False),
        metavar="KEY",
        help="watermark key file (from 'watermark keygen')",
    )(f)


def load_key(key: Path, passphrase_env: str | None) -> Any:
    from watermark.keys import load_key as _load_key
    from watermark.keys import passphrase_from_env

    return _load_key(key, passphrase_from_env(passphrase_env))


def wm_errors(fn: Callable[..., int]) -> Callable[..., int]:
    """Our errors carry a message meant for the user: print it as one line, exit 2."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> int:
        try:
            return fn(*args, **kwargs)
        except WatermarkError as exc:
            raise UsageError(str(exc)) from exc

    return wrapper


def show_progress(progress: bool | None) -> bool:
    """``--progress/--no-progress``; by default a bar only when stderr is a terminal."""
    return sys.stderr.isatty() if progress is None else progress


def write_json(obj: Any, path: str | Path | None) -> None:
    data = json.dumps(obj, indent=2, sort_keys=False)
    if path is None or str(path) == "-":
        sys.stdout.write(data + "\n")
    else:
        Path(path).write_text(data + "\n")
