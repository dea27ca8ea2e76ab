"""``watermark keygen --out key.json [--passphrase-env VAR] [--public-out FILE]``."""

from __future__ import annotations

import json
from pathlib import Path

import click

from commandline import OK
from watermark.commands.common import wm_errors


@click.command(help="Create a watermark key, its key id and its salted public commitment.")
@click.option(
    "--out",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    metavar="FILE",
    help="key file to create (mode 0600, never overwritten)",
)
@click.option(
    "--passphrase-env", metavar="VAR", help="encrypt the secret with the passphrase in this variable"
)
@click.option(
    "--public-out",
    type=click.Path(dir_okay=False, path_type=Path),
    metavar="FILE",
    help="where to write the public record (default: KEY.public.json beside the key)",
)
@wm_errors
def keygen(out: Path, passphrase_env: str | None, public_out: Path | None) -> int:
    from watermark.errors import KeyFileError
    from watermark.keys import WatermarkKey, passphrase_from_env, save_key

    public = public_out if public_out else out.with_name(out.stem + ".public.json")
    if public.exists():
        raise KeyFileError(
            f"{public} exists; refusing to overwrite a public record (choose another --public-out)"
        )
    passphrase = passphrase_from_env(passphrase_env)
    key = WatermarkKey.generate()
    save_key(key, out, passphrase)
    record = json.dumps(key.public_record(), indent=2)
    public.write_text(record + "\n")
    print(f"wrote {out} and {public}; publish this record now (it commits to the key without revealing it):")
    print(record)
    return OK
