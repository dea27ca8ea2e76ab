"""``audit keygen``: create a checkpoint signing key pair and a subject master key (files, 0600)."""

from __future__ import annotations

from pathlib import Path

from audit.cmds import options as o
from audit.commands import UsageError


def main(argv: list[str]) -> int:
    p = o.parser("keygen", "Create audit key files; existing files are never overwritten.")
    p.add_argument("--out", type=Path, metavar="DIR", help="directory for the keys (default $CG_HOME/audit)")
    p.add_argument("--kind", choices=["signing", "subject", "both"], default="both")
    o.add_json(p)
    args = p.parse_args(argv)
    from audit import keys

    out = args.out or keys.dev_key_dir()
    made: dict[str, str] = {}
    targets = {"signing": out / keys.SIGNING_KEY_NAME, "subject": out / keys.SUBJECT_KEY_NAME}
    chosen = ["signing", "subject"] if args.kind == "both" else [args.kind]
    for kind in chosen:
        if targets[kind].exists():
            raise UsageError(f"{targets[kind]} exists; move it away first (keys are never overwritten)")
    for kind in chosen:
        if kind == "signing":
            keys.write_signing_key(targets[kind])
            made["signing_key_file"] = str(targets[kind])
            made["public_key_file"] = str(out / keys.PUBLIC_KEY_NAME)
        else:
            keys.write_subject_key(targets[kind])
            made["subject_key_file"] = str(targets[kind])
    for k, v in made.items():
        print(f"{k:18} {v}")
    o.emit_json(args.json, made)
    return 0
