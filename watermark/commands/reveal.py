"""``watermark reveal --key KEY [--out FILE]``: print the opening of the key commitment.

This discloses the secret: do it only in a dispute, once the reports that matter are
signed. Anyone can then run ``watermark check-reveal PUBLIC_RECORD REVEAL``.
"""

from __future__ import annotations

import argparse
import sys

from watermark.commands.common import add_key_options, command, load_key_from_args, write_json


@command
def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(prog="watermark reveal", description="Print the opening of the key commitment.")
    add_key_options(p)
    p.add_argument("--out", metavar="FILE", help="write the opening to FILE instead of stdout")
    args = p.parse_args(argv)
    key = load_key_from_args(args)
    opening = {"format": "compliance-gateway/watermark-reveal", "version": 1, "key_id": key.key_id,
               **key.reveal(), "signing_public_key": key.public_key_hex()}
    print("warning: this is the key's secret; once published, anyone can embed or remove this key's marks",
          file=sys.stderr)
    write_json(opening, args.out)
    return 0
