"""``audit prune --before DATE``: drop old records, keep a signed anchor so the rest still verifies."""

from __future__ import annotations

from pathlib import Path

import click

from audit.cli import OK, UsageError
from audit.cmds import options as o


@click.command(help="Delete records older than DATE; the log stays verifiable from a signed anchor.")
@o.store_option
@click.option("--before", required=True, metavar="DATE", help="ISO 8601 date or time (UTC unless given)")
@o.public_key_option
@o.signing_key_option
@o.subject_key_option
@o.json_option
@o.out_option()
def prune(
    store: str,
    before: str,
    public_key: Path | None,
    signing_key_file: Path | None,
    subject_key_file: Path | None,
    as_json: bool,
    out: Path | None,
) -> int:
    from audit.keys import load_public_key
    from audit.record import parse_time
    from audit.retention import prune_before

    try:
        when = parse_time(before)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    key = load_public_key(public_key)
    app = o.open_appender(store, signing_key_file, subject_key_file)
    try:
        res = prune_before(app, key, when)
    finally:
        app.store.close()
    o.report(
        f"pruned {res['pruned_records']} records before {when}; anchor at size {res['anchor_size']}",
        res,
        as_json,
        out,
    )
    return OK
