"""The ``audit`` console script, on Click.

The audit package imports nothing of ours (tests/test_import_graph.py), so this module
builds its small lazy group with Click directly instead of using ``commandline``; it keeps
the same convention (tests/test_cli_convention.py checks both): ``--json`` prints JSON on
stdout, ``--out FILE`` writes a file, ``--version``, ``completion SHELL``, help text on every
option, exit codes in every command's help, and exceptions become exit codes here only.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Sequence
from importlib import metadata
from typing import Any

import click
from click.shell_completion import get_completion_class

PROG = "audit"

# Exit codes (the same numbers as every other console script of the project).
OK = 0
FAILURE = 1  # the command ran and the answer is "no" (verification failed, no such subject...)
ERROR = 2  # the command could not do its job (bad input, missing file, bad config)
UNSIGNED = 3  # audit verify: everything checks, but records after the last checkpoint are not yet signed
INTERRUPTED = 130

EXIT_CODES_HELP = (
    "Exit codes: 0 ok; 1 the command ran and the answer is no (the log does not verify, no such "
    "subject); 2 bad input, missing file or store, or a configuration error; 3 (verify) everything "
    "checks but the records after the last checkpoint are not yet signed; 130 interrupted."
)


class UsageError(click.ClickException):
    """Bad input from the user: printed as one line, exit code 2."""

    exit_code = ERROR


# name -> ("module:attr", one-line help). attr is a click.Command, or a `main(argv) -> int` still
# written with argparse (run through a passthrough that keeps its own --help).
COMMANDS: dict[str, tuple[str, str]] = {
    "verify": (
        "audit.cmds.verify:main",
        "check chain, Merkle roots, signatures and proofs (store or export)",
    ),
    "export": (
        "audit.cmds.export:export",
        "export records or a report (art30, access, activity) with proofs",
    ),
    "erase": ("audit.cmds.erase:erase", "erase a data subject by destroying their key (GDPR Art. 17)"),
    "prune": ("audit.cmds.prune:prune", "delete records before a date; the rest stays verifiable"),
    "checkpoint": ("audit.cmds.checkpoint:checkpoint", "sign a checkpoint at the current size and print it"),
    "keygen": ("audit.cmds.keygen:keygen", "create the checkpoint signing key and the subject key"),
}


def _with_exit_codes(cmd: click.Command) -> click.Command:
    if not cmd.epilog or "Exit codes" not in cmd.epilog:
        cmd.epilog = f"{cmd.epilog}\n\n{EXIT_CODES_HELP}" if cmd.epilog else EXIT_CODES_HELP
    return cmd


def _argv_command(func: Callable[[list[str]], int], help: str) -> click.Command:
    """A command still written as ``main(argv) -> exit code`` (argparse inside, its own --help)."""

    @click.command(
        help=help,
        add_help_option=False,
        context_settings={"ignore_unknown_options": True, "allow_extra_args": True},
    )
    @click.argument("argv", nargs=-1, type=click.UNPROCESSED)
    def command(argv: tuple[str, ...]) -> int:
        return int(func(list(argv)) or OK)

    return command


class _LazyGroup(click.Group):
    """Subcommands imported only when run or asked for help: ``audit --help`` loads no store code."""

    def __init__(self, *args: Any, lazy: dict[str, tuple[str, str]], **kw: Any) -> None:
        super().__init__(*args, **kw)
        self.lazy = lazy

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *self.lazy})

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name not in self.lazy:
            cmd = super().get_command(ctx, name)
            return _with_exit_codes(cmd) if cmd is not None else None
        module, _, attr = self.lazy[name][0].partition(":")
        cmd = getattr(importlib.import_module(module), attr)
        if not isinstance(cmd, click.Command):
            cmd = _argv_command(cmd, self.lazy[name][1])
        cmd.name = name
        return _with_exit_codes(cmd)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = []
        for name in self.list_commands(ctx):
            if name in self.lazy:
                rows.append((name, self.lazy[name][1]))
            else:
                cmd = super().get_command(ctx, name)
                rows.append((name, cmd.get_short_help_str() if cmd is not None else ""))
        with formatter.section("Commands"):
            formatter.write_dl(rows)


@click.command(
    "completion", help=f'Print the shell completion script. For bash: eval "$({PROG} completion bash)".'
)
@click.argument("shell", type=click.Choice(["bash", "zsh", "fish"]))
@click.pass_context
def _completion(ctx: click.Context, shell: str) -> int:
    cls = get_completion_class(shell)
    assert cls is not None
    click.echo(cls(ctx.find_root().command, {}, PROG, f"_{PROG.upper()}_COMPLETE").source())
    return OK


def _version() -> str:
    try:
        return metadata.version("compliance-gateway")
    except metadata.PackageNotFoundError:  # a checkout without an install
        return "0+unknown"


CLI = _LazyGroup(
    name=PROG,
    lazy=COMMANDS,
    epilog=EXIT_CODES_HELP,
    help="Tamper-evident audit log: verify, export, erase, prune.",
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
)
CLI = click.version_option(_version(), "--version", prog_name=PROG, message="%(prog)s %(version)s")(CLI)
CLI.add_command(_completion)


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``audit``; the one place where exceptions become exit codes."""
    args = list(sys.argv[1:] if argv is None else argv)
    name = next((a for a in args if not a.startswith("-")), "")
    where = f"{PROG} {name}".strip() if name in COMMANDS else PROG
    try:
        rv = CLI.main(args=args, prog_name=PROG, standalone_mode=False)
    except click.exceptions.Exit as exc:
        return int(exc.exit_code)
    except click.ClickException as exc:
        exc.show()
        return ERROR if isinstance(exc, click.UsageError) else int(exc.exit_code)
    except (KeyboardInterrupt, click.Abort):
        click.echo(f"{where}: interrupted", err=True)
        return INTERRUPTED
    except SystemExit as exc:  # argparse's --help in a passthrough command
        return int(exc.code) if isinstance(exc.code, int) else ERROR
    except Exception as exc:
        click.echo(f"{where}: error: {type(exc).__name__}: {exc}", err=True)
        return ERROR
    return int(rv) if isinstance(rv, int) else OK
