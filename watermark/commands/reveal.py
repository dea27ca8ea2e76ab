"""``watermark reveal --key KEY [--out FILE]``: print the opening of the key commitment.

This discloses the secret: do it only in a dispute, once the reports that matter are
signed. Anyone can then run ``watermark check-reveal PUBLIC_RECORD REVEAL``.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from commandline import OK, out_option
from watermark.commands.common import key_options, load_key, wm_errors, write_json


@click.command(
    help="Print the opening of the key commitment (JSON). This discloses the key's secret: "
    "do it only in a dispute."
)
@key_options
@out_option("write the opening to FILE instead of stdout")
@wm_errors
def reveal(key: Path, passphrase_env: str | None, out: Path | None) -> int:
    k = load_key(key, passphrase_env)
    opening = {
        "format": "compliance-gateway/watermark-reveal",
        "version": 1,
        "key_id": k.key_id,
        **k.reveal(),
        "signing_public_key": k.public_key_hex(),
    }
    print(
        "warning: this is the key's secret; once published, anyone can embed or remove this key's marks",
        file=sys.stderr,
    )
    write_json(opening, out)
    return OK
