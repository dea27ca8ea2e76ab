import base64
import hashlib

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from audit import checkpoint as cp
from audit.errors import CheckpointError

KEY = Ed25519PrivateKey.generate()
CP = cp.Checkpoint(
    "example.com/log",
    42,
    hashlib.sha256(b"root").digest(),
    hashlib.sha256(b"chain").digest(),
    "2026-01-01T00:00:00.000000Z",
)


def test_note_has_the_c2sp_layout_and_a_signed_note_key_id() -> None:
    note = cp.sign(CP, KEY)
    body, sig = note.split("\n\n")
    assert body.split("\n")[:3] == ["example.com/log", "42", base64.b64encode(CP.root).decode()]
    assert sig.startswith("\u2014 example.com/log ")
    blob = base64.b64decode(sig.split(" ")[-1])
    raw = KEY.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    assert blob[:4] == hashlib.sha256(b"example.com/log\n\x01" + raw).digest()[:4]
    KEY.public_key().verify(blob[4:], (body + "\n").encode())  # signature over the note text
    vkey = cp.verifier_key("example.com/log", KEY.public_key())
    assert vkey.split("+")[1] == blob[:4].hex()


def test_verify_round_trip() -> None:
    assert cp.verify(cp.sign(CP, KEY), KEY.public_key(), origin="example.com/log") == CP


def test_other_key_other_origin_and_edits_are_rejected() -> None:
    note = cp.sign(CP, KEY)
    with pytest.raises(CheckpointError):
        cp.verify(note, Ed25519PrivateKey.generate().public_key())
    with pytest.raises(CheckpointError):
        cp.verify(note, KEY.public_key(), origin="other/log")
    with pytest.raises(CheckpointError):
        cp.verify(note.replace("\n42\n", "\n43\n"), KEY.public_key())
    other = cp.sign(cp.Checkpoint(CP.origin, 43, CP.root, CP.chain, CP.time), KEY)
    swapped = note.split("\n\n")[0] + "\n\n" + other.split("\n\n")[1]
    with pytest.raises(CheckpointError, match="bad signature"):
        cp.verify(swapped, KEY.public_key())
    with pytest.raises(CheckpointError):
        cp.verify("not a note", KEY.public_key())
