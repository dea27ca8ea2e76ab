"""``audit erase --subject ID``: GDPR Art. 17 erasure by destroying the subject's data key."""

from __future__ import annotations

from pathlib import Path

import click

from audit.cli import FAILURE, OK
from audit.cmds import options as o


@click.command(
    help="Crypto-shred a data subject's personal data; the log stays verifiable. A subject "
    "the log has no record or key of is reported, and nothing is written.",
    epilog="Exit codes: 0 erased (or already erased: the erasure is logged again); 1 the log "
    "has no record and no key of this subject, nothing written; 2 bad input, missing "
    "file or store; 130 interrupted.",
)
@o.store_option
@click.option("--subject", required=True, metavar="ID", help="the subject id as the gateway saw it")
@click.option(
    "--reason",
    default="data subject request (GDPR Art. 17)",
    show_default=True,
    help="why: logged with the erasure",
)
@o.signing_key_option
@o.subject_key_option
@o.json_option
@o.out_option()
def erase(
    store: str,
    subject: str,
    reason: str,
    signing_key_file: Path | None,
    subject_key_file: Path | None,
    as_json: bool,
    out: Path | None,
) -> int:
    from audit.erasure import erase_subject

    app = o.open_appender(store, signing_key_file, subject_key_file)
    try:
        actor = app.subjects.actor(subject)
        if not o.subject_known(app.store, actor):
            # Never log an erasure for a subject that was never seen: that record would be the
            # first trace of them. The message names the keyed-hash actor, never the raw id.
            o.report(
                f"no such subject: the log has no record and no key of actor {actor[:16]}...; nothing erased",
                {"actor": actor, "found": False, "keys_destroyed": 0},
                as_json,
                out,
            )
            return FAILURE
        res = erase_subject(app, subject, reason=reason)
    finally:
        app.store.close()
    note = "" if res["keys_destroyed"] else " (no data key left: already erased)"
    o.report(
        f"erased subject {res['actor'][:16]}...: {res['keys_destroyed']} data key(s) destroyed{note}, "
        f"erasure logged as record {res['erasure_record']}",
        {**res, "found": True},
        as_json,
        out,
    )
    return OK
