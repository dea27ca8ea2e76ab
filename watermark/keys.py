"""Watermark keys: one 256-bit secret, a key id, and a salted commitment.

Why a commitment: in a dispute the owner reveals the secret; anyone can then check
it against the commitment published *before* the dispute (SHA-256 over a domain
prefix, a random salt and the secret), so the owner cannot pick a key after seeing
the suspect model. Every scheme (text, weights, fingerprint, report signing) uses
its own subkey derived with HKDF, so revealing one never weakens another.

At rest the secret is either plain hex or encrypted with a passphrase: scrypt
derives a key, AES-256-GCM encrypts the secret, and the public fields (key id,
commitment, salt, KDF parameters) are the GCM associated data, so editing any of
them makes decryption fail. A plain key is checked against its commitment on load.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from watermark.errors import KeyFileError

FORMAT = "compliance-gateway/watermark-key"
VERSION = 1
_COMMIT_PREFIX = b"cg-watermark-commitment-v1\x00"
_KEYID_PREFIX = b"cg-watermark-keyid-v1\x00"
# scrypt cost: about 0.1 s and 32 MiB; stored in the file so it can be raised later.
SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**15, 8, 1


def _commit(salt: bytes, secret: bytes) -> str:
    return hashlib.sha256(_COMMIT_PREFIX + salt + secret).hexdigest()


def _key_id(commitment: str) -> str:
    return hashlib.sha256(_KEYID_PREFIX + bytes.fromhex(commitment)).hexdigest()[:16]


@dataclass(frozen=True)
class WatermarkKey:
    """An unlocked key. ``secret`` never leaves this object except through ``derive``."""

    secret: bytes = field(repr=False)
    salt: bytes
    commitment: str
    key_id: str

    @classmethod
    def generate(cls) -> WatermarkKey:
        secret, salt = secrets.token_bytes(32), secrets.token_bytes(16)
        commitment = _commit(salt, secret)
        return cls(secret=secret, salt=salt, commitment=commitment, key_id=_key_id(commitment))

    def derive(self, label: str, length: int = 32) -> bytes:
        """A subkey for one purpose (HKDF-SHA256, the label is the info string)."""
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.kdf.hkdf import HKDF

        hkdf = HKDF(algorithm=hashes.SHA256(), length=length, salt=b"cg-watermark-v1", info=label.encode())
        return hkdf.derive(self.secret)

    def prf(self, label: str, *parts: bytes | str | int) -> bytes:
        """A keyed hash of ``parts`` (HMAC-SHA256 under the subkey for ``label``)."""
        mac = hmac.new(self.derive(label), digestmod=hashlib.sha256)
        for part in parts:
            data = part.encode() if isinstance(part, str) else part
            if isinstance(part, int):
                data = part.to_bytes(16, "big", signed=True)
            mac.update(len(data).to_bytes(8, "big") + data)
        return mac.digest()

    def seed(self, label: str, *parts: bytes | str | int) -> int:
        """A 63-bit seed for a PRNG, keyed (for torch/numpy generators)."""
        return int.from_bytes(self.prf(label, *parts)[:8], "big") >> 1

    def signing_key(self):  # -> Ed25519PrivateKey
        """The Ed25519 key that signs verification reports (derived, so nothing else to store)."""
        from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

        return Ed25519PrivateKey.from_private_bytes(self.derive("report-signing"))

    def public_key_hex(self) -> str:
        from cryptography.hazmat.primitives import serialization

        raw = (
            self.signing_key()
            .public_key()
            .public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        )
        return raw.hex()

    def public_record(self) -> dict[str, str]:
        """What may be published now: key id, salted commitment, report verification key."""
        return {
            "key_id": self.key_id,
            "commitment": self.commitment,
            "signing_public_key": self.public_key_hex(),
        }

    def reveal(self) -> dict[str, str]:
        """What the owner reveals in a dispute so a third party can check the commitment."""
        return {"salt": self.salt.hex(), "secret": self.secret.hex(), "commitment": self.commitment}


def check_reveal(salt_hex: str, secret_hex: str, commitment: str) -> bool:
    """Does a revealed (salt, secret) open the published commitment?"""
    return hmac.compare_digest(_commit(bytes.fromhex(salt_hex), bytes.fromhex(secret_hex)), commitment)


def check_opening(record: Any, opening: Any) -> dict[str, str]:
    """Check a reveal against the public record; the validated record, or ReportError naming the failure.

    Three things must hold: (salt, secret) open the commitment, the key id derives from
    the commitment, and the report-signing public key derives from the secret (so reports
    signed with it were made by the holder of this committed key).
    """
    from watermark.errors import ReportError
    from watermark.report import public_record

    rec = public_record(record)
    if not isinstance(opening, dict) or not all(isinstance(opening.get(f), str) for f in ("salt", "secret")):
        raise ReportError(
            "not a reveal: it needs the fields salt and secret (what 'watermark reveal' printed)"
        )
    try:
        salt, secret = bytes.fromhex(opening["salt"]), bytes.fromhex(opening["secret"])
    except ValueError:
        raise ReportError("the reveal's salt or secret is not hex") from None
    if len(secret) != 32 or not check_reveal(opening["salt"], opening["secret"], rec["commitment"]):
        raise ReportError(
            "COMMITMENT NOT OPENED: the revealed salt and secret do not hash to the published commitment"
        )
    key = WatermarkKey(secret=secret, salt=salt, commitment=rec["commitment"], key_id=rec["key_id"])
    if key.public_key_hex() != rec["signing_public_key"]:
        raise ReportError("the published report-signing key does not derive from the revealed secret")
    return rec


def _aad(doc: dict[str, Any]) -> bytes:
    public = {k: doc[k] for k in ("format", "version", "key_id", "commitment", "salt")}
    public["kdf"] = doc["encryption"]["kdf"]
    return json.dumps(public, sort_keys=True, separators=(",", ":")).encode()


def _scrypt(passphrase: str, salt: bytes, n: int, r: int, p: int) -> bytes:
    from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

    return Scrypt(salt=salt, length=32, n=n, r=r, p=p).derive(passphrase.encode())


def to_document(key: WatermarkKey, passphrase: str | None = None) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "format": FORMAT,
        "version": VERSION,
        "key_id": key.key_id,
        "commitment": key.commitment,
        "salt": key.salt.hex(),
        "signing_public_key": key.public_key_hex(),
    }
    if passphrase is None:
        doc["secret"] = key.secret.hex()
        return doc
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    kdf_salt, nonce = secrets.token_bytes(16), secrets.token_bytes(12)
    doc["encryption"] = {
        "kdf": {"name": "scrypt", "salt": kdf_salt.hex(), "n": SCRYPT_N, "r": SCRYPT_R, "p": SCRYPT_P},
        "cipher": "AES-256-GCM",
        "nonce": nonce.hex(),
    }
    aes = AESGCM(_scrypt(passphrase, kdf_salt, SCRYPT_N, SCRYPT_R, SCRYPT_P))
    doc["encryption"]["ciphertext"] = aes.encrypt(nonce, key.secret, _aad(doc)).hex()
    return doc


def save_key(key: WatermarkKey, path: str | Path, passphrase: str | None = None) -> None:
    """Write the key file with mode 0600; refuses to overwrite (a lost key loses all evidence)."""
    path = Path(path)
    if path.exists():
        raise KeyFileError(f"{path} exists; refusing to overwrite a watermark key (choose another --out)")
    data = json.dumps(to_document(key, passphrase), indent=2).encode()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data + b"\n")


def from_document(doc: Any, passphrase: str | None = None) -> WatermarkKey:
    try:
        if not isinstance(doc, dict) or doc.get("format") != FORMAT:
            raise KeyFileError("not a watermark key file (missing format marker)")
        if doc.get("version") != VERSION:
            raise KeyFileError(f"unsupported key file version {doc.get('version')!r}")
        salt = bytes.fromhex(doc["salt"])
        commitment, key_id = str(doc["commitment"]), str(doc["key_id"])
        if "encryption" in doc:
            if passphrase is None:
                raise KeyFileError("the key is encrypted: give its passphrase (--passphrase-env VAR)")
            from cryptography.exceptions import InvalidTag
            from cryptography.hazmat.primitives.ciphers.aead import AESGCM

            enc = doc["encryption"]
            kdf = enc["kdf"]
            if kdf.get("name") != "scrypt":
                raise KeyFileError(f"unsupported key derivation {kdf.get('name')!r}")
            aes = AESGCM(
                _scrypt(passphrase, bytes.fromhex(kdf["salt"]), int(kdf["n"]), int(kdf["r"]), int(kdf["p"]))
            )
            try:
                secret = aes.decrypt(bytes.fromhex(enc["nonce"]), bytes.fromhex(enc["ciphertext"]), _aad(doc))
            except InvalidTag:
                raise KeyFileError(
                    "cannot decrypt the key: wrong passphrase, or the key file was modified"
                ) from None
        else:
            secret = bytes.fromhex(doc["secret"])
    except KeyFileError:
        raise
    except (KeyError, TypeError, ValueError) as exc:
        raise KeyFileError(f"malformed key file ({type(exc).__name__} on field {exc})") from None
    if len(secret) != 32 or not hmac.compare_digest(_commit(salt, secret), commitment):
        raise KeyFileError("key file tampered: the secret does not match its commitment")
    if key_id != _key_id(commitment):
        raise KeyFileError("key file tampered: the key id does not match the commitment")
    key = WatermarkKey(secret=secret, salt=salt, commitment=commitment, key_id=key_id)
    if "signing_public_key" in doc and doc["signing_public_key"] != key.public_key_hex():
        raise KeyFileError("key file tampered: the report signing key does not match the secret")
    return key


def load_key(path: str | Path, passphrase: str | None = None) -> WatermarkKey:
    """Load and check a key file; every failure is a KeyFileError naming the problem."""
    path = Path(path)
    try:
        doc = json.loads(path.read_text())
    except FileNotFoundError:
        raise KeyFileError(
            f"key file {path} not found (create one with 'watermark keygen --out {path}')"
        ) from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise KeyFileError(f"key file {path} is not readable JSON ({type(exc).__name__})") from None
    return from_document(doc, passphrase)


def passphrase_from_env(var: str | None) -> str | None:
    """Read a passphrase from the named environment variable (never from argv: it would show in ps)."""
    if var is None:
        return None
    value = os.environ.get(var)
    if not value:
        raise KeyFileError(
            f"environment variable {var} is empty or unset (it should hold the key passphrase)"
        )
    return value
