"""``watermark check-report REPORT --public RECORD [--suspect DIR]`` (or ``--key-id ID --public-key HEX``).

Checks, in this order, and stops loudly at the first failure (exit 1):
the report is signed by the key of the published record (not merely by the key it
carries), it was not edited after signing, and the suspect directory's files still have
the hashes the report lists. Exit 0 when everything holds; 2 on unreadable input.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from commandline import FAILURE, OK, UsageError
from watermark.commands.common import command


def read_json(path: str, what: str) -> Any:
    try:
        return json.loads(Path(path).read_text())
    except FileNotFoundError:
        raise UsageError(f"{what} {path} not found") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise UsageError(f"{what} {path} is not readable JSON ({type(exc).__name__})") from None


@command
def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(prog="watermark check-report", description="Check a signed verify report.")
    p.add_argument("report", help="the JSON report 'watermark verify' wrote")
    p.add_argument("--public", metavar="RECORD", help="the public record 'watermark keygen' printed (JSON file)")
    p.add_argument("--key-id", help="the published key id (with --public-key and --commitment, instead of --public)")
    p.add_argument("--commitment", help="the published commitment")
    p.add_argument("--public-key", metavar="HEX", help="the published report-signing key")
    p.add_argument("--suspect", metavar="DIR", help="the suspect directory (default: the path in the report)")
    p.add_argument("--no-files", action="store_true", help="check the signature only, not the files")
    args = p.parse_args(argv)
    from watermark.errors import ReportError
    from watermark.report import check_files, verify_report

    if args.public:
        record = read_json(args.public, "public record")
    elif args.key_id and args.public_key and args.commitment:
        record = {"key_id": args.key_id, "commitment": args.commitment, "signing_public_key": args.public_key}
    else:
        raise UsageError("give the published record: --public RECORD.json, or --key-id, --commitment and "
                         "--public-key (a report's own embedded key proves nothing)")
    report = read_json(args.report, "report")
    try:
        rec = verify_report(report, record)
    except ReportError as exc:
        print(f"FAILED: {exc}", file=sys.stderr)
        return FAILURE
    print(f"signature OK: signed by the published key {rec['key_id']} ({rec['signing_public_key'][:16]}...), "
          "unmodified since signing")
    v = report["verdict"]
    print(f"verdict in the report: {'EVIDENCE' if v['evidence'] else 'no evidence'} "
          f"(combined p = {v['combined_p']:.3g}, alpha {report['alpha']:g}), created {report['created']}")
    if args.no_files:
        return OK
    directory = args.suspect or report["suspect"]["path"]
    problems = check_files(report, directory)
    if problems:
        print(f"FAILED: the files in {directory} are not the ones the report examined:", file=sys.stderr)
        for line in problems[:20]:
            print(f"  {line}", file=sys.stderr)
        if len(problems) > 20:
            print(f"  ... and {len(problems) - 20} more", file=sys.stderr)
        return FAILURE
    print(f"files OK: all {report['suspect']['n_files']} files in {directory} match their SHA-256 in the report")
    return OK
