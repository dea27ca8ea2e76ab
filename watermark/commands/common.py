"""Options shared by the commands, defined once, and the border where our errors become usage errors."""

from __future__ import annotations

import argparse
import functools
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from commandline import UsageError
from watermark.errors import WatermarkError


def add_key_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--key", required=True, type=Path, help="watermark key file (from 'watermark keygen')")
    p.add_argument("--passphrase-env", metavar="VAR", help="environment variable holding the key passphrase")


def load_key_from_args(args: argparse.Namespace):
    from watermark.keys import load_key, passphrase_from_env

    return load_key(args.key, passphrase_from_env(args.passphrase_env))


def command(fn: Callable[[list[str]], int]) -> Callable[[list[str]], int]:
    """Our errors carry a message meant for the user: print it as one line, exit 2."""

    @functools.wraps(fn)
    def wrapper(argv: list[str]) -> int:
        try:
            return fn(argv)
        except WatermarkError as exc:
            raise UsageError(str(exc)) from exc

    return wrapper


def write_json(obj: Any, path: str | None) -> None:
    data = json.dumps(obj, indent=2, sort_keys=False)
    if path in (None, "-"):
        sys.stdout.write(data + "\n")
    else:
        Path(path).write_text(data + "\n")
