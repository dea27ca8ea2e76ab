"""``audit export``: records or a ready-made report, with the checkpoint and proofs to verify it alone."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from audit.cmds import options as o
from audit.commands import UsageError


def _read_config(path: Path | None) -> tuple[Any, dict[str, Any] | None]:
    """(compliance settings or None, the raw config) from a gateway config or a compliance section file."""
    if path is None:
        return None, None
    from audit.compliance import ComplianceConfigError, load_compliance

    try:
        return load_compliance(path)
    except ComplianceConfigError as exc:
        raise UsageError(str(exc)) from None


def main(argv: list[str]) -> int:
    from audit.reports import REPORTS

    p = o.parser("export", "Export records or a report (art30, access, activity) that verifies on its own.")
    o.add_store(p)
    p.add_argument("--since", metavar="DATE", help="records at or after this time (ISO 8601, UTC)")
    p.add_argument("--until", metavar="DATE", help="records before this time")
    p.add_argument("--tenant")
    p.add_argument("--subject", metavar="ID", help="one data subject (raw id; matched by its keyed hash)")
    p.add_argument("--type", metavar="TYPE", help="one record type, e.g. gateway.request")
    p.add_argument("--format", choices=["jsonl", "csv", "html", "pdf"], default="jsonl",
                   help="pdf is printed by headless Chromium (./scripts/setup-chromium) and verifies like html")
    p.add_argument("--report", choices=sorted(REPORTS), help="a ready-made report instead of a plain export")
    p.add_argument("--config", type=Path, metavar="FILE",
                   help="the gateway's YAML config (its upstreams and compliance: section: controller, DPO, "
                        "retention, recipients, safeguards), or a file holding only the compliance section")
    p.add_argument("--out", type=Path, metavar="FILE", help="output file (default stdout)")
    p.add_argument("--prove-from", type=int, metavar="SIZE",
                   help="add a consistency proof from the stored checkpoint of this size (one you already hold)")
    p.add_argument("--no-checkpoint", action="store_true",
                   help="do not sign a fresh checkpoint first (records after the last one are left out)")
    o.add_signing_key(p)
    o.add_subject_key(p)
    args = p.parse_args(argv)
    if args.report == "access" and not args.subject:
        raise UsageError("the access report (Art. 15) needs --subject ID")

    from audit.export import collect, write
    from audit.keys import load_subject_key
    from audit.personal import PersonalDataError, SubjectCrypto
    from audit.record import parse_time
    from audit.reports import TITLES, ReportInput
    from audit.store import Query

    try:
        since = parse_time(args.since) if args.since else None
        until = parse_time(args.until) if args.until else None
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    compliance, config = _read_config(args.config)
    if args.format == "pdf" and args.out is None:
        raise UsageError("--format pdf needs --out FILE")
    crypto = SubjectCrypto(load_subject_key(args.subject_key_file))
    actor = crypto.actor(args.subject) if args.subject else None
    query = Query(since=since, until=until, tenant=args.tenant, actor=actor, type=args.type)

    if args.no_checkpoint:
        store = o.open_reader(args.store)
    else:
        app = o.open_appender_from(args)
        app.checkpoint()
        store = app.store
    try:
        # Plain exports and access exports carry the records; the summaries carry the report alone.
        with_records = args.report in (None, "access")
        exp = collect(store, query, prove_from=args.prove_from)
        info: dict[str, Any] = {"actor": actor, "subject": args.subject}
        pruned = store.pruned()
        info["pruned_before"] = pruned.size if pruned else 0
        if actor is not None:
            keys = store.data_keys([actor])
            info["erased"] = actor not in keys
            aead = crypto.unwrap(actor, *keys[actor]) if actor in keys else None
            for r in exp.records:
                sealed = r["view"].get("personal")
                if sealed is None:
                    continue
                if aead is None or keys[actor][0] != sealed.get("kid"):
                    r["personal"] = "(erased)"
                    continue
                try:
                    r["personal"] = crypto.open(actor, aead, sealed)
                except PersonalDataError:
                    r["personal"] = "(cannot be decrypted)"
        if args.report:
            exp.report = REPORTS[args.report](ReportInput(
                [r["view"] for r in exp.records], config, info, compliance,
                [(r["seq"], r.get("personal")) for r in exp.records]))
            exp.header["report"] = args.report
        if not with_records:
            exp.records = []
    finally:
        store.close()
    title = TITLES.get(args.report or "", "Audit log export")
    data = write(exp, args.format, args.out, title)
    if args.out is None:
        sys.stdout.buffer.write(data)
    else:
        print(f"wrote {args.out} ({len(exp.records)} records, checkpoint size "
              f"{exp.header.get('checkpoint_size', 0)})", file=sys.stderr)
    return 0
