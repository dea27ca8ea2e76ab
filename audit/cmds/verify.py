"""``audit verify``: check a store or an export offline."""

from __future__ import annotations

from pathlib import Path

import click

from audit.cli import FAILURE, OK, UNSIGNED, UsageError
from audit.cmds import options as o


@click.command(
    help="Verify the hash chain, Merkle roots, checkpoint signatures and proofs of the audit log "
    "(--store) or of an export file (--export: jsonl, csv, html or pdf).",
    epilog="Exit codes: 0 verified and fully signed; 1 a check failed (the first bad record is "
    "named); 2 could not run (no store, bad key, bad file); 3 verified, but the records "
    "after the last checkpoint are not yet signed (a warning: right after a crash, or a "
    "log younger than its first checkpoint; the gateway signs them at its next start or "
    "checkpoint); 130 interrupted.",
)
@click.option(
    "--store",
    envvar=o.STORE_ENV,
    show_envvar=True,
    default=None,
    metavar="URL",
    help=f"the audit log: sqlite:///PATH or postgresql://... (default: ${o.STORE_ENV} or {o.DEFAULT_STORE})",
)
@click.option(
    "--export",
    "export_file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    metavar="FILE",
    help="verify an export file (jsonl, csv, html or pdf) instead of a store",
)
@o.public_key_option
@click.option(
    "--progress/--no-progress", default=None, help="show a progress bar (default: only on a terminal)"
)
@o.json_option
@o.out_option("also write the verification result as JSON to FILE")
def main(
    store: str | None,
    export_file: Path | None,
    public_key: Path | None,
    progress: bool | None,
    as_json: bool,
    out: Path | None,
) -> int:
    from audit.keys import load_public_key
    from audit.verify import verify_export, verify_store

    if store and export_file:
        raise UsageError("give --store URL or --export FILE, not both")
    key_file = str(public_key) if public_key else None
    if export_file:
        rep = verify_export(str(export_file), load_public_key(key_file))
    else:
        reader = o.open_reader(store or o.DEFAULT_STORE)  # a missing store is named before a missing key
        try:
            rep = verify_store(reader, load_public_key(key_file), progress=o.progress_enabled(progress))
        finally:
            reader.close()
    o.report(rep.text(), rep.to_dict(), as_json, out)
    if not rep.ok:
        return FAILURE
    return UNSIGNED if rep.unsigned_tail else OK
