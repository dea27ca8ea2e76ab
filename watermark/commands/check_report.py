"""``watermark check-report REPORT --public RECORD [--suspect DIR]`` (or ``--key-id ID --public-key HEX``).

Checks, in this order, and stops loudly at the first failure (exit 1):
the report is signed by the key of the published record (not merely by the key it
carries), it was not edited after signing, and the suspect directory's files still have
the hashes the report lists. Exit 0 when everything holds; 2 on unreadable input.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click

from commandline import FAILURE, OK, UsageError, existing_path
from watermark.commands.common import wm_errors

EXIT_CODES = (
    "Exit codes: 0 the signature (and the files) check out; 1 a check failed (wrong key, edited "
    "report, changed files); 2 bad input, missing or unreadable file; 130 interrupted."
)


def read_json(path: str | Path, what: str) -> Any:
    try:
        return json.loads(Path(path).read_text())
    except FileNotFoundError:
        raise UsageError(f"{what} {path} not found") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise UsageError(f"{what} {path} is not readable JSON ({type(exc).__name__})") from None


@click.command(
    help="Check a signed 'watermark verify' report (JSON, or the PDF 'verify --pdf' writes) against the "
    "published key, and the suspect's files.",
    epilog=EXIT_CODES,
)
@click.argument("report", type=existing_path(dir_okay=False))
@click.option(
    "--public",
    type=existing_path(dir_okay=False),
    metavar="RECORD",
    help="the public record 'watermark keygen' printed (JSON file)",
)
@click.option(
    "--key-id", help="the published key id (with --public-key and --commitment, instead of --public)"
)
@click.option("--commitment", help="the published commitment")
@click.option("--public-key", metavar="HEX", help="the published report-signing key")
@click.option(
    "--suspect",
    type=existing_path(file_okay=False),
    metavar="DIR",
    help="the suspect directory (default: the path in the report)",
)
@click.option("--no-files", is_flag=True, help="check the signature only, not the files")
@wm_errors
def check_report(
    report: Path,
    public: Path | None,
    key_id: str | None,
    commitment: str | None,
    public_key: str | None,
    suspect: Path | None,
    no_files: bool,
) -> int:
    from watermark.errors import ReportError
    from watermark.report import check_files, verify_report

    if public:
        record = read_json(public, "public record")
    elif key_id and public_key and commitment:
        record = {"key_id": key_id, "commitment": commitment, "signing_public_key": public_key}
    else:
        raise UsageError(
            "give the published record: --public RECORD.json, or --key-id, --commitment and "
            "--public-key (a report's own embedded key proves nothing)"
        )
    if report.suffix.lower() == ".pdf":
        from watermark.report import report_from_pdf

        try:
            data = report_from_pdf(report.read_bytes())
        except Exception as exc:  # not our PDF, or no readable attachment
            raise UsageError(
                f"report {report} holds no readable signed report ({type(exc).__name__})"
            ) from None
    else:
        data = read_json(report, "report")
    try:
        rec = verify_report(data, record)
    except ReportError as exc:
        print(f"FAILED: {exc}", file=sys.stderr)
        return FAILURE
    print(
        f"signature OK: signed by the published key {rec['key_id']} ({rec['signing_public_key'][:16]}...), "
        "unmodified since signing"
    )
    v = data["verdict"]
    print(
        f"verdict in the report: {'EVIDENCE' if v['evidence'] else 'no evidence'} "
        f"(combined p = {v['combined_p']:.3g}, alpha {data['alpha']:g}), created {data['created']}"
    )
    if no_files:
        return OK
    directory = str(suspect) if suspect else data["suspect"]["path"]
    problems = check_files(data, directory)
    if problems:
        print(f"FAILED: the files in {directory} are not the ones the report examined:", file=sys.stderr)
        for line in problems[:20]:
            print(f"  {line}", file=sys.stderr)
        if len(problems) > 20:
            print(f"  ... and {len(problems) - 20} more", file=sys.stderr)
        return FAILURE
    print(
        f"files OK: all {data['suspect']['n_files']} files in {directory} match their SHA-256 in the report"
    )
    return OK
