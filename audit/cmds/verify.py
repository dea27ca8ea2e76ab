"""``audit verify``: check a store or an export offline.

Exit 0: verified and fully signed. Exit 1: a check failed (the first bad record is named).
Exit 2: could not run (no store, bad key...). Exit 3: verified, but the records after the
last checkpoint are not yet signed (a warning: right after a crash, or a log younger than
its first checkpoint; the gateway signs them at its next start or checkpoint).
"""

from __future__ import annotations

from audit.cmds import options as o
from audit.commands import FAILURE, OK, UNSIGNED, UsageError


def main(argv: list[str]) -> int:
    p = o.parser("verify", "Verify the hash chain, Merkle roots, checkpoint signatures and proofs.")
    src = p.add_mutually_exclusive_group()
    o.add_store(src)
    src.add_argument("--export", metavar="FILE", help="verify an export file (jsonl, csv, html or pdf) instead")
    o.add_public_key(p)
    o.add_json(p)
    args = p.parse_args(argv)
    from audit.keys import load_public_key
    from audit.verify import verify_export, verify_store

    if args.export:
        rep = verify_export(args.export, load_public_key(args.public_key))
    else:
        if args.store is None:
            raise UsageError("give --store URL or --export FILE")
        store = o.open_reader(args.store)
        try:
            rep = verify_store(store, load_public_key(args.public_key), progress=o.progress_enabled())
        finally:
            store.close()
    print(rep.text())
    o.emit_json(args.json, rep.to_dict())
    if not rep.ok:
        return FAILURE
    return UNSIGNED if rep.unsigned_tail else OK
