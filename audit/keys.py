"""Key files: the Ed25519 checkpoint signing key and the subject master key.

Both are files (never config values, never logged). When none is configured a
development key is created on first use under ``$CG_HOME/audit/`` (default
``~/.cache/compliance-gateway``) with 0600 permissions, and a warning is logged
once per process, so that a demo runs with no setup but nobody mistakes it for
production.

The subject master key (32 random bytes, base64 in the file) yields, through
HKDF with distinct labels, the HMAC key that turns raw subject ids into actors
and the key-encryption key that wraps each subject's data key.
"""

from __future__ import annotations

import base64
import binascii
import logging
import os
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
    PublicFormat,
    load_pem_private_key,
    load_pem_public_key,
)

from audit.errors import KeyFileError

log = logging.getLogger("audit.keys")
_warned: set[str] = set()

SIGNING_KEY_NAME = "signing-key.pem"
PUBLIC_KEY_NAME = "signing-key.pub.pem"
SUBJECT_KEY_NAME = "subject-key"


def cg_home() -> Path:
    return Path(os.environ.get("CG_HOME") or Path.home() / ".cache" / "compliance-gateway")


def dev_key_dir() -> Path:
    return cg_home() / "audit"


def _write_private(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(data)


def _warn_dev(kind: str, path: Path) -> None:
    if kind not in _warned:
        _warned.add(kind)
        log.warning("audit: using a development %s at %s; configure a key file for production", kind, path)


def write_signing_key(path: Path) -> Ed25519PrivateKey:
    key = Ed25519PrivateKey.generate()
    _write_private(path, key.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption()))
    pub = (
        path.with_name(path.name.removesuffix(".pem") + ".pub.pem")
        if path.name.endswith(".pem")
        else path.with_name(path.name + ".pub.pem")
    )
    pub.write_bytes(public_pem(key.public_key()))
    return key


def public_pem(key: Ed25519PublicKey) -> bytes:
    return key.public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo)


def write_subject_key(path: Path) -> bytes:
    secret = os.urandom(32)
    _write_private(path, base64.b64encode(secret) + b"\n")
    return secret


def load_signing_key(path: str | os.PathLike[str] | None) -> Ed25519PrivateKey:
    if path is None:
        p = dev_key_dir() / SIGNING_KEY_NAME
        _warn_dev("checkpoint signing key", p)
        if not p.exists():
            try:
                return write_signing_key(p)
            except FileExistsError:
                pass  # another process created it first
    else:
        p = Path(path)
    try:
        key = load_pem_private_key(p.read_bytes(), password=None)
    except OSError as exc:
        raise KeyFileError(f"cannot read signing key file {p}: {exc.strerror}") from None
    except (ValueError, TypeError):
        raise KeyFileError(f"signing key file {p} is not an unencrypted PEM private key") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise KeyFileError(f"signing key file {p} does not hold an Ed25519 key")
    return key


def load_public_key(path: str | os.PathLike[str] | None) -> Ed25519PublicKey:
    """A PEM public key, or the public half of a PEM private key; None means the development key."""
    p = Path(path) if path is not None else dev_key_dir() / SIGNING_KEY_NAME
    try:
        data = p.read_bytes()
    except FileNotFoundError:
        if path is None:
            raise KeyFileError(
                f"no public key given and no development key at {p}: pass --public-key PEM"
            ) from None
        raise KeyFileError(f"public key file {p} does not exist") from None
    except OSError as exc:
        raise KeyFileError(f"cannot read public key file {p}: {exc.strerror}") from None
    try:
        key = (
            load_pem_public_key(data)
            if b"PRIVATE" not in data
            else load_pem_private_key(data, None).public_key()
        )
    except (ValueError, TypeError):
        raise KeyFileError(f"public key file {p} is not a PEM key") from None
    if not isinstance(key, Ed25519PublicKey):
        raise KeyFileError(f"public key file {p} does not hold an Ed25519 key")
    return key


def load_subject_key(path: str | os.PathLike[str] | None) -> bytes:
    if path is None:
        p = dev_key_dir() / SUBJECT_KEY_NAME
        _warn_dev("subject key", p)
        if not p.exists():
            try:
                return write_subject_key(p)
            except FileExistsError:
                pass
    else:
        p = Path(path)
    try:
        raw = p.read_bytes().strip()
    except OSError as exc:
        raise KeyFileError(f"cannot read subject key file {p}: {exc.strerror}") from None
    try:
        secret = base64.b64decode(raw, validate=True)
    except binascii.Error:
        secret = b""
    if len(secret) < 32:
        raise KeyFileError(f"subject key file {p} must hold at least 32 random bytes, base64-encoded")
    return secret
