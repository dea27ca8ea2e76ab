"""The ``audit`` console script."""

from __future__ import annotations

from collections.abc import Sequence

from audit.commands import CommandTable, run

COMMANDS: CommandTable = {}


def main(argv: Sequence[str] | None = None) -> int:
    if not COMMANDS:
        print("audit: not yet implemented (issue 5)")
        return 2
    return run("audit", "Tamper-evident audit log: verify, export, erase, prune.", COMMANDS, argv)
