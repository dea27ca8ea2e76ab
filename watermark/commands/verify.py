"""``watermark verify SUSPECT_DIR --key KEY [--json] [--reference DIR] [--alpha A] [--audit-store URL]``.

Exit 0: evidence at alpha; 1: no evidence; 2: error (bad directory, bad key...).
"""

from __future__ import annotations

import argparse
import sys

from commandline import FAILURE, OK
from watermark.commands.common import add_key_options, command, load_key_from_args, write_json


@command
def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(prog="watermark verify", description="Test whether a model derives from ours.")
    p.add_argument("suspect_dir")
    add_key_options(p)
    p.add_argument("--reference", metavar="ORIGINAL_DIR", help="our original model, enables the similarity test")
    p.add_argument("--alpha", type=float, default=1e-3, help="family-wise error rate (Holm-Bonferroni)")
    p.add_argument("--json", nargs="?", const="-", metavar="FILE",
                   help="write the signed JSON report (to FILE, or stdout instead of the text report)")
    p.add_argument("--audit-store", metavar="URL", help="record the report in this audit log")
    args = p.parse_args(argv)
    if not 0.0 < args.alpha < 1.0:
        from commandline import UsageError

        raise UsageError(f"--alpha must be in (0, 1), got {args.alpha}")
    from watermark.report import render_text
    from watermark.verify import record_audit, run_verify

    key = load_key_from_args(args)
    report = run_verify(args.suspect_dir, key, args.reference, args.alpha, progress=sys.stderr.isatty())
    if args.json == "-":
        write_json(report, None)
    else:
        print(render_text(report))
        if args.json:
            write_json(report, args.json)
    if args.audit_store:
        seq = record_audit(report, args.audit_store)
        print(f"recorded in the audit log, sequence {seq}", file=sys.stderr)
    return OK if report["verdict"]["evidence"] else FAILURE
