"""Lazy Click groups, the shared options, and the one place exceptions become exit codes."""

from __future__ import annotations

import importlib
import os
import sys
from collections.abc import Callable, Sequence
from importlib import metadata
from pathlib import Path
from typing import Any

import click
from click.shell_completion import get_completion_class

# Exit codes shared by every console script.
OK = 0
FAILURE = 1  # the command ran and the answer is "no" (verification failed, no evidence...)
ERROR = 2  # the command could not do its job (bad input, missing file, bad config)
INTERRUPTED = 130

EXIT_CODES_HELP = (
    "Exit codes: 0 ok; 1 the command ran and the answer is no (verification failed, watermark not found, "
    "findings present); 2 bad input, missing file or configuration error; 130 interrupted."
)


class UsageError(click.ClickException):
    """Bad input from the user: printed as one line, exit code 2."""

    exit_code = ERROR


def cg_home() -> Path:
    """Where local state lives (development keys, converted models): $CG_HOME or ~/.cache/compliance-gateway.

    The same rule as ``audit.keys.cg_home`` (audit imports nothing of ours, so it keeps its own line).
    """
    return Path(os.environ.get("CG_HOME") or Path.home() / ".cache" / "compliance-gateway")


# -- options defined once ----------------------------------------------------------------
def json_option(f: Callable[..., Any]) -> Callable[..., Any]:
    return click.option("--json", "as_json", is_flag=True, help="print the result as JSON on stdout")(f)


def out_option(help: str = "write the result to FILE") -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    return click.option(
        "--out", type=click.Path(dir_okay=False, path_type=Path), default=None, metavar="FILE", help=help
    )


def progress_option(f: Callable[..., Any]) -> Callable[..., Any]:
    return click.option(
        "--progress/--no-progress", default=None, help="show a progress bar (default: only on a terminal)"
    )(f)


def existing_path(**kw: Any) -> click.Path:
    """A path the user gives that must exist (Click says so, with exit code 2)."""
    return click.Path(exists=True, path_type=Path, **kw)


# -- lazy groups ---------------------------------------------------------------------------
def _with_exit_codes(cmd: click.Command) -> click.Command:
    """Add the exit codes to a command's help, and to every command of a nested group."""
    extra = getattr(cmd, "exit_codes_help", None) or EXIT_CODES_HELP
    if not cmd.epilog or "Exit codes" not in cmd.epilog:
        cmd.epilog = f"{cmd.epilog}\n\n{extra}" if cmd.epilog else extra
    if isinstance(cmd, click.Group) and not isinstance(cmd, LazyGroup):
        for sub in cmd.commands.values():
            _with_exit_codes(sub)
    return cmd


class LazyGroup(click.Group):
    """A group whose subcommands are ``"module:attr"`` strings, imported only when run or asked for help.

    ``attr`` is a ``click.Command``.
    """

    def __init__(self, *args: Any, lazy: dict[str, tuple[str, str]] | None = None, **kw: Any) -> None:
        super().__init__(*args, **kw)
        self.lazy = dict(lazy or {})

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *self.lazy})

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name in self.lazy:
            target = self.lazy[name][0]
            module, _, attr = target.partition(":")
            cmd = getattr(importlib.import_module(module), attr)
            if not isinstance(cmd, click.Command):
                cmd = _argv_command(cmd, self.lazy[name][1])
            cmd.name = name
            return _with_exit_codes(cmd)
        cmd = super().get_command(ctx, name)
        return _with_exit_codes(cmd) if cmd is not None else None

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        # One-line help from the table: listing commands imports none of them.
        rows = []
        for name in self.list_commands(ctx):
            if name in self.lazy:
                rows.append((name, self.lazy[name][1]))
            else:
                cmd = super().get_command(ctx, name)
                rows.append((name, cmd.get_short_help_str() if cmd is not None else ""))
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)


def _argv_command(func: Callable[[list[str]], int], help: str) -> click.Command:
    """A command still written as ``func(argv) -> exit code`` (argparse inside): its own --help."""

    @click.command(
        help=help,
        add_help_option=False,
        context_settings={"ignore_unknown_options": True, "allow_extra_args": True},
    )
    @click.argument("argv", nargs=-1, type=click.UNPROCESSED)
    def command(argv: tuple[str, ...]) -> int:
        return int(func(list(argv)) or OK)

    # Read back with getattr by the help formatter: click.Command has no such attribute to declare.
    command.exit_codes_help = EXIT_CODES_HELP  # type: ignore[attr-defined]
    return command


def _completion_command(prog: str) -> click.Command:
    @click.command(
        "completion",
        help=f'Print the shell completion script for {prog}. For bash: eval "$({prog} completion bash)".',
    )
    @click.argument("shell", type=click.Choice(["bash", "zsh", "fish"]))
    @click.pass_context
    def completion(ctx: click.Context, shell: str) -> int:
        root = ctx.find_root().command
        cls = get_completion_class(shell)
        assert cls is not None
        var = f"_{prog.replace('-', '_').upper()}_COMPLETE"
        click.echo(cls(root, {}, prog, var).source())
        return OK

    return completion


def tool(prog: str, help: str, commands: dict[str, tuple[str, str]]) -> click.Group:
    """The root group of one console script: lazy subcommands, ``--version``, ``completion``."""
    try:
        version = metadata.version("compliance-gateway")
    except metadata.PackageNotFoundError:  # running from a checkout without an install
        version = "0+unknown"
    group = LazyGroup(
        name=prog,
        help=help,
        lazy=commands,
        epilog=EXIT_CODES_HELP,
        context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
    )
    group = click.version_option(version, "--version", prog_name=prog, message="%(prog)s %(version)s")(group)
    group.add_command(_completion_command(prog))
    return group


def run(group: click.Command, argv: Sequence[str] | None = None) -> int:
    """Run a root group; the one place where exceptions become exit codes."""
    prog = group.name or "cli"
    args = list(sys.argv[1:] if argv is None else argv)
    try:
        rv = group.main(args=args, prog_name=prog, standalone_mode=False)
    except click.exceptions.Exit as exc:
        return int(exc.exit_code)
    except click.ClickException as exc:
        exc.show()
        return ERROR if isinstance(exc, click.UsageError) else int(exc.exit_code)
    except (KeyboardInterrupt, click.Abort):
        click.echo(f"{prog}: interrupted", err=True)
        return INTERRUPTED
    except SystemExit as exc:  # a library that exits on its own
        return int(exc.code) if isinstance(exc.code, int) else ERROR
    except Exception as exc:
        click.echo(f"{prog}: error: {type(exc).__name__}: {exc}", err=True)
        return ERROR
    return int(rv) if isinstance(rv, int) else OK
