"""``audit verify``: check a store or an export offline; exit 1 and name the first bad record on failure."""

from __future__ import annotations

from audit.cmds import options as o
from audit.commands import FAILURE, OK, UsageError


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
    return OK if rep.ok else FAILURE
