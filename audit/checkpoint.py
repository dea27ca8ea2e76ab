"""Checkpoints in the C2SP tlog-checkpoint format, as Ed25519 signed notes (C2SP signed-note).

A checkpoint note::

    <origin>
    <tree size>
    <base64 root hash>
    chain <base64 chain hash at that size>
    time <RFC 3339 UTC>

    — <key name> <base64(4-byte key id || 64-byte Ed25519 signature)>

The first three lines are the standard checkpoint; ``chain`` and ``time`` are
extension lines (signed, opaque to other tlog tools), so one signature binds the
Merkle root and the hash chain. The key id is the first four bytes of
SHA-256(key name || "\\n" || 0x01 || public key), 0x01 naming Ed25519, so any
signed-note verifier (Go's ``golang.org/x/mod/sumdb/note``) accepts the note
given our verifier key string (:func:`verifier_key`).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from audit.errors import CheckpointError

ED25519_ALG = b"\x01"
SIG_PREFIX = "\u2014 "  # em dash and a space start every signature line


def _raw_public(key: Ed25519PublicKey) -> bytes:
    return key.public_bytes(Encoding.Raw, PublicFormat.Raw)


def key_id(name: str, public_key: Ed25519PublicKey) -> bytes:
    return hashlib.sha256(name.encode() + b"\n" + ED25519_ALG + _raw_public(public_key)).digest()[:4]


def verifier_key(name: str, public_key: Ed25519PublicKey) -> str:
    """The signed-note verifier key string: ``name+hexid+base64(0x01||key)``."""
    raw = ED25519_ALG + _raw_public(public_key)
    return f"{name}+{key_id(name, public_key).hex()}+{base64.b64encode(raw).decode()}"


@dataclass(frozen=True)
class Checkpoint:
    origin: str
    size: int
    root: bytes
    chain: bytes
    time: str

    def body(self) -> str:
        return (
            f"{self.origin}\n{self.size}\n{base64.b64encode(self.root).decode()}\n"
            f"chain {base64.b64encode(self.chain).decode()}\ntime {self.time}\n"
        )


def sign(cp: Checkpoint, private_key: Ed25519PrivateKey, key_name: str | None = None) -> str:
    """The full signed note for ``cp``; the key name defaults to the origin."""
    name = key_name or cp.origin
    if not name or any(c.isspace() or c == "+" for c in name):
        raise ValueError("a note key name may not be empty or hold spaces or '+'")
    body = cp.body()
    sig = private_key.sign(body.encode())
    kid = key_id(name, private_key.public_key())
    return f"{body}\n{SIG_PREFIX}{name} {base64.b64encode(kid + sig).decode()}\n"


def parse(note: str) -> tuple[Checkpoint, str, list[tuple[str, bytes]]]:
    """Split a note into its checkpoint, signed text and (key name, key id + signature) pairs."""
    body, sep, sigs = note.partition("\n\n")
    if not sep:
        raise CheckpointError("checkpoint note has no signature block")
    body += "\n"
    lines = body.split("\n")[:-1]
    if len(lines) < 3:
        raise CheckpointError("checkpoint note needs origin, size and root lines")
    origin, size_s, root_s, *ext = lines
    try:
        if not size_s.isdigit() or (len(size_s) > 1 and size_s[0] == "0"):
            raise ValueError(size_s)
        size = int(size_s)
        root = base64.b64decode(root_s, validate=True)
    except (ValueError, binascii.Error):
        raise CheckpointError("checkpoint note has a malformed size or root line") from None
    fields = {}
    for line in ext:
        k, _, v = line.partition(" ")
        fields[k] = v
    try:
        chain = base64.b64decode(fields.get("chain", ""), validate=True)
    except binascii.Error:
        raise CheckpointError("checkpoint note has a malformed chain line") from None
    signatures = []
    for line in sigs.split("\n"):
        if not line:
            continue
        if not line.startswith(SIG_PREFIX):
            raise CheckpointError("checkpoint note has a malformed signature line")
        name, _, b64 = line[len(SIG_PREFIX) :].rpartition(" ")
        try:
            blob = base64.b64decode(b64, validate=True)
        except binascii.Error:
            raise CheckpointError("checkpoint signature is not base64") from None
        signatures.append((name, blob))
    if len(root) != 32 or len(chain) != 32:
        raise CheckpointError("checkpoint root or chain hash is not 32 bytes")
    return Checkpoint(origin, size, root, chain, fields.get("time", "")), body, signatures


def verify(
    note: str, public_key: Ed25519PublicKey, *, origin: str | None = None, key_name: str | None = None
) -> Checkpoint:
    """Parse and check a note; raises CheckpointError unless a signature by ``public_key`` verifies."""
    cp, body, signatures = parse(note)
    if origin is not None and cp.origin != origin:
        raise CheckpointError(f"checkpoint is for log {cp.origin!r}, not {origin!r}")
    name = key_name or cp.origin
    kid = key_id(name, public_key)
    for sig_name, blob in signatures:
        if sig_name != name or blob[:4] != kid:
            continue
        try:
            public_key.verify(blob[4:], body.encode())
        except InvalidSignature:
            raise CheckpointError(f"checkpoint at size {cp.size}: bad signature") from None
        return cp
    raise CheckpointError(f"checkpoint at size {cp.size}: no signature by the given key")
