"""Subjects: keyed-hash actor ids and per-subject encryption of personal data.

A raw subject id never reaches the log: the actor is HMAC-SHA256(subject key, id).
Personal data (a client IP, say) is sealed with AES-256-GCM under a data key
that belongs to that actor alone; data keys live in the store's keys table,
wrapped by a key-encryption key. Destroying an actor's data key (erasure,
GDPR Art. 17) leaves ciphertext that nobody can open, while the record bytes,
and so every hash and signature over them, stay exactly as they were.
"""

from __future__ import annotations

import base64
import hmac
import os
from hashlib import sha256
from typing import Any

import orjson
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from audit.errors import AuditError

_NONCE = 12


def _b64(b: bytes) -> str:
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()


def _unb64(s: str) -> bytes:
    return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))


def _derive(master: bytes, label: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=label).derive(master)


class PersonalDataError(AuditError):
    """Personal data cannot be opened (key erased, or ciphertext altered)."""


class SubjectCrypto:
    """Actor hashing, data-key wrapping and sealing, all derived from one master key."""

    def __init__(self, master: bytes) -> None:
        self._hmac_key = _derive(master, b"compliance-gateway audit actor v1")
        self._kek = AESGCM(_derive(master, b"compliance-gateway audit key-wrap v1"))
        self._pool: list[bytes] = []
        self._actors: dict[str, str] = {}  # subject -> actor; HMAC is deterministic, so caching is safe
        # (actor, kid, wrapped) -> unwrapped key; the store is still asked every batch whether the key
        # exists, so an erasure in another process takes effect at this process's next batch.
        self._unwrapped: dict[tuple[str, str, bytes], AESGCM] = {}

    def actor(self, subject: str) -> str:
        got = self._actors.get(subject)
        if got is None:
            if not isinstance(subject, str):
                raise ValueError("subject must be a string")
            got = hmac.new(self._hmac_key, subject.encode(), sha256).hexdigest()
            if len(self._actors) >= 100_000:
                self._actors.clear()
            self._actors[subject] = got
        return got

    def new_data_key(self, actor: str) -> tuple[str, bytes]:
        """(key id, wrapped key) for a fresh data key of ``actor``."""
        kid = _b64(os.urandom(12))
        nonce = os.urandom(_NONCE)
        wrapped = nonce + self._kek.encrypt(nonce, os.urandom(32), f"{actor}|{kid}".encode())
        return kid, wrapped

    def unwrap(self, actor: str, kid: str, wrapped: bytes) -> AESGCM:
        hit = self._unwrapped.get((actor, kid, wrapped))
        if hit is not None:
            return hit
        try:
            key = self._kek.decrypt(wrapped[:_NONCE], wrapped[_NONCE:], f"{actor}|{kid}".encode())
        except InvalidTag:
            raise PersonalDataError(
                "a data key does not unwrap: wrong subject key file or altered key row"
            ) from None
        aead = AESGCM(key)
        if len(self._unwrapped) >= 50_000:
            self._unwrapped.clear()
        self._unwrapped[(actor, kid, wrapped)] = aead
        return aead

    def forget(self, actor: str) -> None:
        """Drop cached keys of ``actor`` (after erasing them)."""
        for k in [k for k in self._unwrapped if k[0] == actor]:
            del self._unwrapped[k]

    def _nonce(self) -> bytes:
        """A fresh random 96-bit nonce, drawn from a pool refilled by one urandom call per 512 nonces."""
        if not self._pool:
            blob = os.urandom(_NONCE * 512)
            self._pool = [blob[i : i + _NONCE] for i in range(0, len(blob), _NONCE)]
        return self._pool.pop()

    def seal(self, actor: str, kid: str, key: AESGCM, personal: dict[str, Any]) -> dict[str, str]:
        nonce = self._nonce()
        ct = key.encrypt(nonce, orjson.dumps(personal), f"{actor}|{kid}".encode())
        return {"kid": kid, "n": _b64(nonce), "ct": _b64(ct)}

    @staticmethod
    def open(actor: str, key: AESGCM, sealed: dict[str, str]) -> dict[str, Any]:
        try:
            pt = key.decrypt(_unb64(sealed["n"]), _unb64(sealed["ct"]), f"{actor}|{sealed['kid']}".encode())
        except (InvalidTag, KeyError, ValueError):
            raise PersonalDataError("personal data does not decrypt (altered record or wrong key)") from None
        data: dict[str, Any] = orjson.loads(pt)  # what seal() encrypted: a JSON object
        return data
