"""``audit export``: records or a ready-made report, with the checkpoint and proofs to verify it alone."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from audit.cli import FAILURE, OK, UsageError
from audit.cmds import options as o

# The built-in report names, for --help without importing audit.reports (jinja2, the templates).
BUILTIN_REPORTS = ("access", "activity", "art30")


def _read_config(path: Path | None) -> tuple[Any, dict[str, Any] | None]:
    """(compliance settings or None, the raw config) from a gateway config or a compliance section file."""
    if path is None:
        return None, None
    from audit.compliance import ComplianceConfigError, load_compliance

    try:
        return load_compliance(path)
    except ComplianceConfigError as exc:
        raise UsageError(str(exc)) from None


@click.command(
    help="Export records or a report (art30, access, activity) that verifies on its own: the "
    "records come with a signed checkpoint and their inclusion proofs.",
    epilog="Exit codes: 0 ok; 1 --subject names a subject the log has no record and no key of "
    "(the empty export is still written); 2 bad input, missing file or store; "
    "130 interrupted.",
)
@o.store_option
@click.option("--since", metavar="DATE", help="records at or after this time (ISO 8601, UTC)")
@click.option("--until", metavar="DATE", help="records before this time (ISO 8601, UTC)")
@click.option("--tenant", metavar="TENANT", help="only this tenant's records")
@click.option("--subject", metavar="ID", help="one data subject (raw id; matched by its keyed hash)")
@click.option("--type", "rtype", metavar="TYPE", help="one record type, e.g. gateway.request")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["jsonl", "csv", "html", "pdf"]),
    default="jsonl",
    show_default=True,
    help="pdf is printed by headless Chromium (./scripts/setup-chromium) and verifies like html",
)
@click.option(
    "--report",
    metavar="NAME",
    help="a ready-made report instead of a plain export: "
    + ", ".join(BUILTIN_REPORTS)
    + " (or one added with audit.reports.register)",
)
@click.option(
    "--config",
    type=o._file(),
    metavar="FILE",
    help="the gateway's YAML config (its upstreams and compliance: section: controller, DPO, "
    "retention, recipients, safeguards), or a file holding only the compliance section",
)
@o.out_option("write the export to FILE (default: stdout)")
@click.option(
    "--json",
    "as_json",
    is_flag=True,
    help="print a summary of what was written (records, checkpoint size) as JSON on stdout; needs --out",
)
@click.option(
    "--prove-from",
    type=click.IntRange(min=0),
    metavar="SIZE",
    help="add a consistency proof from the stored checkpoint of this size (one you already hold)",
)
@click.option(
    "--no-checkpoint",
    is_flag=True,
    help="do not sign a fresh checkpoint first (records after the last one are left out)",
)
@o.signing_key_option
@o.subject_key_option
def export(
    store: str,
    since: str | None,
    until: str | None,
    tenant: str | None,
    subject: str | None,
    rtype: str | None,
    fmt: str,
    report: str | None,
    config: Path | None,
    out: Path | None,
    as_json: bool,
    prove_from: int | None,
    no_checkpoint: bool,
    signing_key_file: Path | None,
    subject_key_file: Path | None,
) -> int:
    """(The help is in the decorator.) ``--json`` prints a summary; the export itself goes to --out."""
    from audit.reports import REPORTS

    if report is not None and report not in REPORTS:
        raise UsageError(f"unknown report {report!r}: use one of {', '.join(sorted(REPORTS))}")
    if report == "access" and not subject:
        raise UsageError("the access report (Art. 15) needs --subject ID")
    if as_json and out is None:
        raise UsageError(
            "--json prints a summary of the export and needs --out FILE (without --out the "
            "export itself goes to stdout)"
        )
    from audit.export import collect, write
    from audit.keys import load_subject_key
    from audit.personal import PersonalDataError, SubjectCrypto
    from audit.record import parse_time
    from audit.reports import TITLES, ReportInput
    from audit.store import Query

    try:
        t_since = parse_time(since) if since else None
        t_until = parse_time(until) if until else None
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    compliance, raw_config = _read_config(config)
    if fmt == "pdf" and out is None:
        raise UsageError("--format pdf needs --out FILE")
    crypto = SubjectCrypto(load_subject_key(subject_key_file))
    actor = crypto.actor(subject) if subject else None
    query = Query(since=t_since, until=t_until, tenant=tenant, actor=actor, type=rtype)

    if no_checkpoint:
        log = o.open_reader(store)
    else:
        app = o.open_appender(store, signing_key_file, subject_key_file)
        app.checkpoint()
        log = app.store
    try:
        # Plain exports and access exports carry the records; the summaries carry the report alone.
        with_records = report in (None, "access")
        exp = collect(log, query, prove_from=prove_from)
        unknown = actor is not None and not o.subject_known(log, actor)
        info: dict[str, Any] = {"actor": actor, "subject": subject}
        pruned = log.pruned()
        info["pruned_before"] = pruned.size if pruned else 0
        if actor is not None:
            keys = log.data_keys([actor])
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
        if report:
            exp.report = REPORTS[report](
                ReportInput(
                    [r["view"] for r in exp.records],
                    raw_config,
                    info,
                    compliance,
                    [(r["seq"], r.get("personal")) for r in exp.records],
                )
            )
            exp.header["report"] = report
        if not with_records:
            exp.records = []
    finally:
        log.close()
    title = TITLES.get(report or "", "Audit log export")
    data = write(exp, fmt, out, title)
    # A subject the log never saw: the (empty) export is still written, and the exit code says so.
    code = FAILURE if unknown else OK
    if unknown:
        click.echo(
            f"no such subject: the log has no record and no key of actor {str(actor)[:16]}...", err=True
        )
    if out is None:
        sys.stdout.buffer.write(data)
        return code
    summary = {
        "out": str(out),
        "format": fmt,
        "report": report,
        "records": len(exp.records),
        "checkpoint_size": exp.header.get("checkpoint_size", 0),
        "subject_found": not unknown,
    }
    if as_json:
        click.echo(o.to_json(summary))
    else:
        click.echo(
            f"wrote {out} ({len(exp.records)} records, checkpoint size {summary['checkpoint_size']})",
            err=True,
        )
    return code
