"""A durable, expiring, encrypted pseudonym store (opt-in per tenant).

By default a pseudonym map lives only as long as its request. A tenant with
``durable_pseudonyms: true`` gets stable pseudonyms (keyed-hash tokens, the
same value always maps to the same ``<TYPE_hex>``) whose values are kept in
Redis for ``ttl_seconds``, so a response that quotes a pseudonym from an
earlier request is still restored. Values are sealed with AES-256-GCM under a
per-tenant key (HKDF from the PII master secret), with the tenant and token as
associated data: a value copied to another tenant's key does not open. Redis
sees token digests and ciphertext, never a value.
"""

from __future__ import annotations

import hashlib
import os

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF


class PseudonymStore:
    def __init__(self, url: str, key_prefix: str, ttl_seconds: int, master: bytes) -> None:
        self.url = url
        self.key_prefix = key_prefix
        self.ttl = ttl_seconds
        self._master = master
        self._aead: dict[str, AESGCM] = {}
        self._redis = None

    async def start(self) -> None:
        import redis.asyncio as aioredis

        self._redis = aioredis.from_url(self.url)
        await self._redis.ping()

    async def close(self) -> None:
        if self._redis is not None:
            await self._redis.aclose()

    def _cipher(self, tenant: str) -> AESGCM:
        c = self._aead.get(tenant)
        if c is None:
            key = HKDF(hashes.SHA256(), 32, salt=None, info=b"cg-pii-store:" + tenant.encode()).derive(
                self._master
            )
            c = self._aead[tenant] = AESGCM(key)
        return c

    def _key(self, tenant: str, token: str) -> str:
        digest = hashlib.sha256(_aad(tenant, token)).hexdigest()
        return self.key_prefix + digest

    async def put_many(self, tenant: str, items: dict[str, str]) -> None:
        if not items:
            return
        assert self._redis is not None, "PseudonymStore.start() was not called"
        cipher = self._cipher(tenant)
        pipe = self._redis.pipeline(transaction=False)
        for token, value in items.items():
            nonce = os.urandom(12)
            sealed = nonce + cipher.encrypt(
                nonce, value.encode("utf-8", "surrogatepass"), _aad(tenant, token)
            )
            pipe.set(self._key(tenant, token), sealed, ex=self.ttl)
        await pipe.execute()

    async def get_many(self, tenant: str, tokens: list[str]) -> dict[str, str]:
        if not tokens:
            return {}
        assert self._redis is not None, "PseudonymStore.start() was not called"
        cipher = self._cipher(tenant)
        raw = await self._redis.mget([self._key(tenant, t) for t in tokens])
        out = {}
        for token, sealed in zip(tokens, raw, strict=True):
            if sealed:
                value = cipher.decrypt(sealed[:12], sealed[12:], _aad(tenant, token))
                out[token] = value.decode("utf-8", "surrogatepass")
        return out


def _aad(tenant: str, token: str) -> bytes:
    return tenant.encode() + b"\x00" + token.encode()
