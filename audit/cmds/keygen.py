"""``audit keygen``: create a checkpoint signing key pair and a subject master key (files, 0600)."""

from __future__ import annotations

from pathlib import Path

import click

from audit.cli import OK, UsageError
from audit.cmds import options as o


@click.command(help="Create audit key files (mode 0600); existing files are never overwritten.")
@click.option(
    "--dir",
    "directory",
    type=click.Path(file_okay=False, path_type=Path),
    metavar="DIR",
    help="directory for the keys (default $CG_HOME/audit)",
)
@click.option(
    "--kind",
    type=click.Choice(["signing", "subject", "both"]),
    default="both",
    show_default=True,
    help="which keys to create",
)
@o.json_option
@o.out_option("also write the key file paths as JSON to FILE")
def keygen(directory: Path | None, kind: str, as_json: bool, out: Path | None) -> int:
    from audit import keys

    target_dir = directory or keys.dev_key_dir()
    made: dict[str, str] = {}
    targets = {"signing": target_dir / keys.SIGNING_KEY_NAME, "subject": target_dir / keys.SUBJECT_KEY_NAME}
    chosen = ["signing", "subject"] if kind == "both" else [kind]
    for k in chosen:
        if targets[k].exists():
            raise UsageError(f"{targets[k]} exists; move it away first (keys are never overwritten)")
    for k in chosen:
        if k == "signing":
            keys.write_signing_key(targets[k])
            made["signing_key_file"] = str(targets[k])
            made["public_key_file"] = str(target_dir / keys.PUBLIC_KEY_NAME)
        else:
            keys.write_subject_key(targets[k])
            made["subject_key_file"] = str(targets[k])
    o.report("\n".join(f"{k:18} {v}" for k, v in made.items()), made, as_json, out)
    return OK
