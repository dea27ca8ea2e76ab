"""``watermark check-reveal PUBLIC_RECORD REVEAL [--report FILE]``.

Confirms that the revealed (salt, secret) opens the commitment in the public record,
that the record's key id derives from that commitment, and that the record's
report-signing key derives from the secret. Because the commitment was published before
the dispute, the key cannot have been chosen after seeing the suspect. With ``--report``
it also checks the report's signature against the record. Exit 0 / 1 (fails) / 2.
"""

from __future__ import annotations

import argparse
import sys

from commandline import FAILURE, OK
from watermark.commands.check_report import read_json
from watermark.commands.common import command


@command
def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(prog="watermark check-reveal", description="Check a revealed key against its commitment.")
    p.add_argument("public_record", help="the public record published at keygen (JSON)")
    p.add_argument("reveal", help="the opening printed by 'watermark reveal' (JSON)")
    p.add_argument("--report", metavar="FILE", help="also check this signed report against the record")
    args = p.parse_args(argv)
    from watermark.errors import ReportError
    from watermark.keys import check_opening
    from watermark.report import verify_report

    record, opening = read_json(args.public_record, "public record"), read_json(args.reveal, "reveal")
    try:
        rec = check_opening(record, opening)
        if args.report:
            verify_report(read_json(args.report, "report"), rec)
    except ReportError as exc:
        print(f"FAILED: {exc}", file=sys.stderr)
        return FAILURE
    print(f"OK: the revealed secret opens commitment {rec['commitment'][:16]}... of key id {rec['key_id']}, "
          "and derives the published report-signing key.")
    print("The key was therefore fixed when this record was published: if the record predates the suspect "
          "model, the key cannot have been chosen after seeing it.")
    if args.report:
        print("The report's signature checks against the same published key.")
    return OK
