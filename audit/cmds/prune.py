"""``audit prune --before DATE``: drop old records, keep a signed anchor so the rest still verifies."""

from __future__ import annotations

from audit.cmds import options as o
from audit.commands import UsageError


def main(argv: list[str]) -> int:
    p = o.parser("prune", "Delete records older than DATE; the log stays verifiable from a signed anchor.")
    o.add_store(p)
    p.add_argument("--before", required=True, metavar="DATE", help="ISO date or time (UTC unless given)")
    o.add_public_key(p)
    o.add_signing_key(p)
    o.add_subject_key(p)
    o.add_json(p)
    args = p.parse_args(argv)
    from audit.keys import load_public_key
    from audit.record import parse_time
    from audit.retention import prune_before

    try:
        before = parse_time(args.before)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    key = load_public_key(args.public_key)
    app = o.open_appender_from(args)
    try:
        res = prune_before(app, key, before)
    finally:
        app.store.close()
    print(f"pruned {res['pruned_records']} records before {before}; anchor at size {res['anchor_size']}")
    o.emit_json(args.json, res)
    return 0
