"""``watermark keygen --out key.json [--passphrase-env VAR]``."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from watermark.commands.common import command


@command
def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(prog="watermark keygen", description="Create a watermark key and its public commitment.")
    p.add_argument("--out", required=True, help="key file to create (mode 0600, never overwritten)")
    p.add_argument("--passphrase-env", metavar="VAR", help="encrypt the secret with the passphrase in this variable")
    p.add_argument("--public-out", metavar="FILE",
                   help="where to write the public record (default: KEY.public.json beside the key)")
    args = p.parse_args(argv)
    from watermark.errors import KeyFileError
    from watermark.keys import WatermarkKey, passphrase_from_env, save_key

    out = Path(args.out)
    public = Path(args.public_out) if args.public_out else out.with_name(out.stem + ".public.json")
    if public.exists():
        raise KeyFileError(f"{public} exists; refusing to overwrite a public record (choose another --public-out)")
    passphrase = passphrase_from_env(args.passphrase_env)
    key = WatermarkKey.generate()
    save_key(key, out, passphrase)
    record = json.dumps(key.public_record(), indent=2)
    public.write_text(record + "\n")
    print(f"wrote {out} and {public}; publish this record now (it commits to the key without revealing it):")
    print(record)
    return 0
