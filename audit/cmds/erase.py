"""``audit erase --subject ID``: GDPR Art. 17 erasure by destroying the subject's data key."""

from __future__ import annotations

from audit.cmds import options as o


def main(argv: list[str]) -> int:
    p = o.parser("erase", "Crypto-shred a data subject's personal data; the log stays verifiable.")
    o.add_store(p)
    p.add_argument("--subject", required=True, metavar="ID", help="the subject id as the gateway saw it")
    p.add_argument("--reason", default="data subject request (GDPR Art. 17)")
    o.add_signing_key(p)
    o.add_subject_key(p)
    o.add_json(p)
    args = p.parse_args(argv)
    from audit.erasure import erase_subject

    app = o.open_appender_from(args)
    try:
        res = erase_subject(app, args.subject, reason=args.reason)
    finally:
        app.store.close()
    print(f"erased subject {res['actor'][:16]}...: {res['keys_destroyed']} data key(s) destroyed, "
          f"erasure logged as record {res['erasure_record']}")
    o.emit_json(args.json, res)
    return 0
