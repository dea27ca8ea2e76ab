"""The ``audit`` console script."""

from __future__ import annotations

from collections.abc import Sequence

from audit.commands import CommandTable, run

COMMANDS: CommandTable = {
    "verify": ("audit.cmds.verify:main", "check chain, Merkle roots, signatures and proofs (store or export)"),
    "export": ("audit.cmds.export:main", "export records or a report (art30, access, activity) with proofs"),
    "erase": ("audit.cmds.erase:main", "erase a data subject by destroying their key (GDPR Art. 17)"),
    "prune": ("audit.cmds.prune:main", "delete records before a date; the rest stays verifiable"),
    "checkpoint": ("audit.cmds.checkpoint:main", "sign a checkpoint at the current size and print it"),
    "keygen": ("audit.cmds.keygen:main", "create the checkpoint signing key and the subject key"),
}


def main(argv: Sequence[str] | None = None) -> int:
    return run("audit", "Tamper-evident audit log: verify, export, erase, prune.", COMMANDS, argv)
