"""``watermark check-reveal PUBLIC_RECORD REVEAL [--report FILE]``.

Confirms that the revealed (salt, secret) opens the commitment in the public record,
that the record's key id derives from that commitment, and that the record's
report-signing key derives from the secret. Because the commitment was published before
the dispute, the key cannot have been chosen after seeing the suspect. With ``--report``
it also checks the report's signature against the record. Exit 0 / 1 (fails) / 2.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from commandline import FAILURE, OK, existing_path
from watermark.commands.check_report import read_json
from watermark.commands.common import wm_errors

EXIT_CODES = (
    "Exit codes: 0 the revealed key opens the published commitment; 1 it does not (or the report's "
    "signature fails); 2 bad input, missing or unreadable file; 130 interrupted."
)


@click.command(help="Check a revealed key against the public record published at keygen.", epilog=EXIT_CODES)
@click.argument("public_record", type=existing_path(dir_okay=False))
@click.argument("reveal", type=existing_path(dir_okay=False))
@click.option(
    "--report",
    type=existing_path(dir_okay=False),
    metavar="FILE",
    help="also check this signed report against the record",
)
@wm_errors
def check_reveal(public_record: Path, reveal: Path, report: Path | None) -> int:
    from watermark.errors import ReportError
    from watermark.keys import check_opening
    from watermark.report import verify_report

    record, opening = read_json(public_record, "public record"), read_json(reveal, "reveal")
    try:
        rec = check_opening(record, opening)
        if report:
            verify_report(read_json(report, "report"), rec)
    except ReportError as exc:
        print(f"FAILED: {exc}", file=sys.stderr)
        return FAILURE
    print(
        f"OK: the revealed secret opens commitment {rec['commitment'][:16]}... of key id {rec['key_id']}, "
        "and derives the published report-signing key."
    )
    print(
        "The key was therefore fixed when this record was published: if the record predates the suspect "
        "model, the key cannot have been chosen after seeing it."
    )
    if report:
        print("The report's signature checks against the same published key.")
    return OK
