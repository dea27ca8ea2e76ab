"""Per-tenant HMAC keys for the keyed-hash operator, derived from one master secret.

The master secret comes from a file or an environment variable (never the
config file). Each tenant's key is HKDF-SHA256(master, info="cg-pii-hash:" + tenant),
so tokens of one tenant cannot be joined with another tenant's.
"""

from __future__ import annotations

import hashlib
import hmac
import os
from pathlib import Path

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF


class KeyError_(ValueError):
    """No usable master secret: the message names where it was looked for, never its value."""


def load_master_secret(key_file: Path | None, key_env: str | None) -> bytes | None:
    if key_file is not None:
        data = Path(key_file).read_bytes().strip()
        if len(data) < 16:
            raise KeyError_(f"hash key file {key_file} holds fewer than 16 bytes")
        return data
    if key_env and os.environ.get(key_env):
        data = os.environ[key_env].encode()
        if len(data) < 16:
            raise KeyError_(f"environment variable {key_env} holds fewer than 16 bytes")
        return data
    return None


class TenantKeys:
    def __init__(self, master: bytes) -> None:
        self._master = master
        self._cache: dict[str, bytes] = {}

    def key(self, tenant: str) -> bytes:
        k = self._cache.get(tenant)
        if k is None:
            k = HKDF(hashes.SHA256(), 32, salt=None, info=b"cg-pii-hash:" + tenant.encode()).derive(
                self._master
            )
            self._cache[tenant] = k
        return k

    def token(self, tenant: str, entity_type: str, normalized_value: str, length: int = 16) -> str:
        mac = hmac.new(
            self.key(tenant), entity_type.encode() + b"\x00" + normalized_value.encode(), hashlib.sha256
        )
        return mac.hexdigest()[:length]
