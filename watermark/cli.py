"""The ``watermark`` console script: a lazy command table."""

from __future__ import annotations

from collections.abc import Sequence

from audit.commands import CommandTable, run

COMMANDS: CommandTable = {}


def main(argv: Sequence[str] | None = None) -> int:
    if not COMMANDS:
        print("watermark: not yet implemented (issue 6)")
        return 2
    return run("watermark", "Text, weight and trigger watermarks; verify a suspect model.", COMMANDS, argv)
