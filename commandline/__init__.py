"""The command-line layer shared by ``gateway``, ``privacy`` and ``watermark`` (Click).

One convention for every tool (tests/test_cli_convention.py checks it on every subcommand):

- ``--json`` prints machine output on stdout; ``--out FILE`` writes a file;
- every long job takes ``--progress/--no-progress``;
- ``--version`` and ``completion SHELL`` on every tool; help text on every option;
- exit codes in every command's help, and exceptions become exit codes in one place
  (:func:`commandline.core.run`).

Subcommands are imported lazily (pip's habit): ``--help`` imports no torch. This package
imports nothing of ours; ``audit`` (which must import nothing of ours either) builds its
small group with Click directly and follows the same convention.
"""

from commandline.core import (
    ERROR,
    EXIT_CODES_HELP,
    FAILURE,
    INTERRUPTED,
    OK,
    LazyGroup,
    UsageError,
    cg_home,
    existing_path,
    json_option,
    out_option,
    progress_option,
    run,
    tool,
)

__all__ = [
    "ERROR",
    "EXIT_CODES_HELP",
    "FAILURE",
    "INTERRUPTED",
    "OK",
    "LazyGroup",
    "UsageError",
    "cg_home",
    "existing_path",
    "json_option",
    "out_option",
    "progress_option",
    "run",
    "tool",
]
