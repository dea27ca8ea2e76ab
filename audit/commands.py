"""A lazy command table for the console scripts (pip's habit).

Every package's CLI is a dict ``name -> (module:function, one-line help)``;
``--help`` imports nothing heavy, and a command's module is imported only when
that command runs. Exceptions become exit codes in exactly one place, here.
This module lives in ``audit`` because every other package may depend on
``audit`` and ``audit`` depends on nothing of ours.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Sequence

# Exit codes shared by every console script.
OK = 0
FAILURE = 1  # the command ran and the answer is "no" (verification failed, no evidence...)
ERROR = 2  # the command could not do its job (bad input, missing file, bad config)
UNSIGNED = 3  # audit verify: everything checks, but records after the last checkpoint are not yet signed
INTERRUPTED = 130

CommandTable = dict[str, tuple[str, str]]


class UsageError(Exception):
    """Bad input from the user: printed as one line, exit code ERROR."""


def _print_help(prog: str, description: str, table: CommandTable) -> None:
    width = max((len(n) for n in table), default=0)
    print(f"usage: {prog} COMMAND [options]\n\n{description}\n\ncommands:")
    for name, (_target, helptext) in table.items():
        print(f"  {name.ljust(width)}  {helptext}")
    print(f"\nRun '{prog} COMMAND --help' for a command's options.")


def run(prog: str, description: str, table: CommandTable, argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0] in ("-h", "--help", "help"):
        _print_help(prog, description, table)
        return OK if args else ERROR
    name, rest = args[0], args[1:]
    if name not in table:
        print(f"{prog}: unknown command {name!r}; run '{prog} --help' for the list", file=sys.stderr)
        return ERROR
    module_name, _, func_name = table[name][0].partition(":")
    try:
        func: Callable[[list[str]], int] = getattr(importlib.import_module(module_name), func_name)
        return int(func(rest) or OK)
    except UsageError as exc:
        print(f"{prog} {name}: {exc}", file=sys.stderr)
        return ERROR
    except KeyboardInterrupt:
        print(f"{prog} {name}: interrupted", file=sys.stderr)
        return INTERRUPTED
    except SystemExit:
        raise
    except Exception as exc:  # the one place exceptions become exit codes
        print(f"{prog} {name}: error: {type(exc).__name__}: {exc}", file=sys.stderr)
        return ERROR
