"""The ``watermark`` console script: a lazy command table."""

from __future__ import annotations

from collections.abc import Sequence

from commandline import run, tool

COMMANDS: dict[str, tuple[str, str]] = {
    "keygen": ("watermark.commands.keygen:keygen", "create a key, its key id and salted commitment"),
    "detect": ("watermark.commands.detect:detect", "detect the text watermark in a text or file"),
    "embed": ("watermark.commands.embed:embed", "embed the keyed weight watermark (short fine-tune)"),
    "fingerprint": (
        "watermark.commands.fingerprint:fingerprint",
        "teach keyed trigger prompts -> keyed answers",
    ),
    "verify": (
        "watermark.commands.verify:verify",
        "run every test on a suspect model; writes a signed report",
    ),
    "check-report": (
        "watermark.commands.check_report:check_report",
        "check a report's signature (published key) and files",
    ),
    "reveal": (
        "watermark.commands.reveal:reveal",
        "print the opening of the key commitment (discloses the key)",
    ),
    "check-reveal": (
        "watermark.commands.check_reveal:check_reveal",
        "check a revealed key against the public record",
    ),
}


CLI = tool("watermark", "Text, weight and trigger watermarks; verify a suspect model.", COMMANDS)


def main(argv: Sequence[str] | None = None) -> int:
    return run(CLI, argv)
