"""``watermark verify SUSPECT_DIR --key KEY [--out FILE] [--json [FILE]] [--html FILE] [--reference DIR] [--alpha A]``.

Always writes the signed JSON report: to ``--out FILE``, or by default next to the suspect
as ``<suspect>.watermark-report.json`` (``-2``, ``-3``... if that exists: earlier evidence is kept). Exit 0: evidence at alpha; 1: no evidence; 2: error
(bad directory, bad key...).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from commandline import FAILURE, OK
from watermark.commands.common import add_key_options, command, load_key_from_args, write_json


def default_report_path(suspect_dir: str | Path) -> Path:
    """``<suspect>.watermark-report.json`` beside the suspect; an earlier report is never overwritten
    (the next free ``-2``, ``-3``... name is used instead)."""
    d = Path(suspect_dir).resolve()
    path, n = d.parent / f"{d.name}.watermark-report.json", 2
    while path.exists():
        path, n = d.parent / f"{d.name}.watermark-report-{n}.json", n + 1
    return path


@command
def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(prog="watermark verify", description="Test whether a model derives from ours.")
    p.add_argument("suspect_dir")
    add_key_options(p)
    p.add_argument("--reference", metavar="ORIGINAL_DIR", help="our original model, enables the similarity test")
    p.add_argument("--alpha", type=float, default=1e-3, help="family-wise error rate (Holm-Bonferroni)")
    p.add_argument("--out", metavar="FILE",
                   help="where to write the signed JSON report (default: <suspect>.watermark-report.json beside it)")
    p.add_argument("--json", nargs="?", const="-", metavar="FILE",
                   help="print the signed JSON report instead of the text (or also write it to FILE)")
    p.add_argument("--html", metavar="FILE", help="also write the report as a standalone HTML page")
    p.add_argument("--audit-store", metavar="URL", help="record the report in this audit log")
    args = p.parse_args(argv)
    if not 0.0 < args.alpha < 1.0:
        from commandline import UsageError

        raise UsageError(f"--alpha must be in (0, 1), got {args.alpha}")
    from watermark.report import render_html, render_text
    from watermark.verify import record_audit, run_verify

    key = load_key_from_args(args)
    out = Path(args.out) if args.out else default_report_path(args.suspect_dir)
    report = run_verify(args.suspect_dir, key, args.reference, args.alpha, progress=sys.stderr.isatty())
    write_json(report, str(out))
    if args.json == "-":
        write_json(report, None)
    else:
        print(render_text(report))
        if args.json:
            write_json(report, args.json)
    if args.html:
        Path(args.html).write_text(render_html(report))
    print(f"signed report written to {out}; check it with "
          f"'watermark check-report {out} --public PUBLIC_RECORD'", file=sys.stderr)
    if args.audit_store:
        seq = record_audit(report, args.audit_store)
        print(f"recorded in the audit log, sequence {seq}", file=sys.stderr)
    return OK if report["verdict"]["evidence"] else FAILURE
