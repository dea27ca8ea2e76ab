"""``watermark keygen --out key.json [--passphrase-env VAR]``."""

from __future__ import annotations

import argparse
import json

from watermark.commands.common import command


@command
def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(prog="watermark keygen", description="Create a watermark key and its public commitment.")
    p.add_argument("--out", required=True, help="key file to create (mode 0600, never overwritten)")
    p.add_argument("--passphrase-env", metavar="VAR", help="encrypt the secret with the passphrase in this variable")
    args = p.parse_args(argv)
    from watermark.keys import WatermarkKey, passphrase_from_env, save_key

    key = WatermarkKey.generate()
    save_key(key, args.out, passphrase_from_env(args.passphrase_env))
    print(f"wrote {args.out}; publish this record now (it commits to the key without revealing it):")
    print(json.dumps(key.public_record(), indent=2))
    return 0
