"""``audit checkpoint``: sign a checkpoint over the log as it is now and print it."""

from __future__ import annotations

from pathlib import Path

import click

from audit.cli import OK
from audit.cmds import options as o


@click.command(help="Sign a C2SP checkpoint at the current log size and print the note.")
@o.store_option
@o.signing_key_option
@o.subject_key_option
@o.json_option
@o.out_option("also write the signed note to FILE")
def checkpoint(
    store: str, signing_key_file: Path | None, subject_key_file: Path | None, as_json: bool, out: Path | None
) -> int:
    app = o.open_appender(store, signing_key_file, subject_key_file)
    try:
        app.checkpoint()
        cps = app.store.checkpoints()
    finally:
        app.store.close()
    size, note = cps[-1] if cps else (0, "")
    if as_json:
        click.echo(o.to_json({"size": size, "note": note}))
    else:
        click.echo(note or "the log is empty: nothing to sign", nl=not note)
    if out is not None and note:
        out.write_text(note, encoding="utf-8")
    return OK
