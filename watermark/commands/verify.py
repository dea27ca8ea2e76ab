"""``watermark verify SUSPECT_DIR --key KEY [--out FILE] [--json] [--html FILE] [--reference DIR] [--alpha A]``.

Always writes the signed JSON report: to ``--out FILE``, or by default next to the suspect
as ``<suspect>.watermark-report.json`` (``-2``, ``-3``... if that exists: earlier evidence is kept).
``--json`` prints the same report on stdout instead of the text. Exit 0: evidence at alpha;
1: no evidence; 2: error (bad directory, bad key...).
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from commandline import FAILURE, OK, UsageError, existing_path, json_option, out_option, progress_option
from watermark.commands.common import key_options, load_key, show_progress, wm_errors, write_json

EXIT_CODES = (
    "Exit codes: 0 evidence that the suspect derives from our model (at alpha); 1 no evidence; "
    "2 bad input (missing or unreadable model directory, bad key...); 130 interrupted."
)


def default_report_path(suspect_dir: str | Path) -> Path:
    """``<suspect>.watermark-report.json`` beside the suspect; an earlier report is never overwritten
    (the next free ``-2``, ``-3``... name is used instead)."""
    d = Path(suspect_dir).resolve()
    path, n = d.parent / f"{d.name}.watermark-report.json", 2
    while path.exists():
        path, n = d.parent / f"{d.name}.watermark-report-{n}.json", n + 1
    return path


@click.command(
    help="Run every applicable test on a suspect model (does it derive from ours?); "
    "writes a signed JSON report.",
    epilog=EXIT_CODES,
)
@click.argument("suspect_dir", type=existing_path(file_okay=False))
@key_options
@click.option(
    "--reference",
    type=existing_path(file_okay=False),
    metavar="ORIGINAL_DIR",
    help="our original model, enables the similarity test",
)
@click.option(
    "--alpha", type=float, default=1e-3, show_default=True, help="family-wise error rate (Holm-Bonferroni)"
)
@out_option("where to write the signed JSON report (default: <suspect>.watermark-report.json beside it)")
@json_option
@click.option(
    "--html",
    type=click.Path(dir_okay=False, path_type=Path),
    metavar="FILE",
    help="also write the report as a standalone HTML page",
)
@click.option(
    "--pdf",
    type=click.Path(dir_okay=False, path_type=Path),
    metavar="FILE",
    help="also write the report as PDF (headless Chromium), the signed JSON report attached inside: "
    "'watermark check-report FILE.pdf' checks it",
)
@click.option("--audit-store", metavar="URL", help="record the report in this audit log")
@progress_option
@wm_errors
def verify(
    suspect_dir: Path,
    key: Path,
    passphrase_env: str | None,
    reference: Path | None,
    alpha: float,
    out: Path | None,
    as_json: bool,
    html: Path | None,
    pdf: Path | None,
    audit_store: str | None,
    progress: bool | None,
) -> int:
    if not 0.0 < alpha < 1.0:
        raise UsageError(f"--alpha must be in (0, 1), got {alpha}")
    from watermark.report import render_html, render_text
    from watermark.verify import record_audit, run_verify

    k = load_key(key, passphrase_env)
    path = out if out else default_report_path(suspect_dir)
    report = run_verify(
        str(suspect_dir), k, str(reference) if reference else None, alpha, progress=show_progress(progress)
    )
    write_json(report, path)
    if as_json:
        write_json(report, None)
    else:
        print(render_text(report))
    if html:
        html.write_text(render_html(report))
    if pdf:
        from watermark.report import render_pdf

        pdf.write_bytes(render_pdf(report))
    print(
        f"signed report written to {path}; check it with "
        f"'watermark check-report {path} --public PUBLIC_RECORD'",
        file=sys.stderr,
    )
    if audit_store:
        seq = record_audit(report, audit_store)
        print(f"recorded in the audit log, sequence {seq}", file=sys.stderr)
    return OK if report["verdict"]["evidence"] else FAILURE
