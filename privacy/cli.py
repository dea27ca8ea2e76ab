"""The ``privacy`` console script: a lazy command table."""

from __future__ import annotations

from collections.abc import Sequence

from commandline import run, tool

COMMANDS: dict[str, tuple[str, str]] = {
    # PII engine (issue 3)
    "scan": ("privacy.pii.cli:scan", "print PII findings in a file or stdin"),
    "redact": ("privacy.pii.cli:redact", "redact a .jsonl/.csv/.txt dataset"),
    "eval": ("privacy.pii.cli:evaluate", "precision/recall per entity type on labeled spans"),
    "serve": ("privacy.serve.cli:main", "serve Presidio's /analyze and /anonymize REST API"),
    # DP fine-tuning (issue 7)
    "train": ("privacy.dp.cli:train", "DP-SGD fine-tuning of a causal LM"),
    "audit": ("privacy.dp.cli:audit", "empirical privacy audit of a training run"),
}


CLI = tool("privacy", "PII scanning and redaction, DP fine-tuning and privacy audits.", COMMANDS)


def main(argv: Sequence[str] | None = None) -> int:
    return run(CLI, argv)
