"""``audit checkpoint``: sign a checkpoint over the log as it is now and print it."""

from __future__ import annotations

from audit.cmds import options as o


def main(argv: list[str]) -> int:
    p = o.parser("checkpoint", "Sign a C2SP checkpoint at the current log size and print the note.")
    o.add_store(p)
    o.add_signing_key(p)
    o.add_subject_key(p)
    args = p.parse_args(argv)
    app = o.open_appender_from(args)
    try:
        app.checkpoint()
        cps = app.store.checkpoints()
    finally:
        app.store.close()
    print(cps[-1][1] if cps else "the log is empty: nothing to sign", end="")
    return 0
