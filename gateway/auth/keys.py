"""Where verification keys come from: a PEM file, a JWKS URL, an HMAC secret, or the dev key.

JWKS documents are fetched asynchronously, cached, and refreshed when a token
names a ``kid`` we do not know; refreshes are spaced out so a flood of tokens
with made-up kids cannot turn the gateway into a JWKS hammer.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from typing import Any

import aiohttp
import jwt
from cryptography.hazmat.primitives import serialization

from gateway.config import AuthSettings, ConfigError

log = logging.getLogger("gateway.auth")

MIN_REFRESH_INTERVAL = 10.0  # seconds between JWKS refreshes triggered by unknown kids


class KeySet:
    def __init__(self, settings: AuthSettings) -> None:
        self.settings = settings
        self.static_key: Any = None  # PEM public key (or dev key)
        self.hmac_secret: bytes | None = None
        self.jwks: dict[str, jwt.PyJWK] = {}
        self._jwks_fetched = 0.0
        self._refresh_lock = asyncio.Lock()
        self.using_dev_key = False

    async def load(self) -> None:
        s = self.settings
        if s.public_key_file is not None:
            try:
                data = s.public_key_file.read_bytes()
            except OSError as exc:
                raise ConfigError(
                    f"invalid configuration: auth.public_key_file: cannot read ({exc.strerror})"
                ) from None
            try:
                if b"CERTIFICATE" in data:
                    from cryptography import x509

                    self.static_key = x509.load_pem_x509_certificate(data).public_key()
                else:
                    self.static_key = serialization.load_pem_public_key(data)
            except ValueError:
                raise ConfigError(
                    "invalid configuration: auth.public_key_file: not a PEM public key"
                ) from None
        secret: bytes | None = None
        if s.hs256_secret_file is not None:
            secret = s.hs256_secret_file.read_bytes().strip()
        elif s.hs256_secret_env:
            val = os.environ.get(s.hs256_secret_env)
            if not val:
                raise ConfigError(
                    f"invalid configuration: auth.hs256_secret_env: ${s.hs256_secret_env} is not set"
                )
            secret = val.encode()
        if secret is not None:
            if len(secret) < 32:
                raise ConfigError("invalid configuration: auth: the HS256 secret must be at least 32 bytes")
            self.hmac_secret = secret
        if "HS256" in s.algorithms and self.hmac_secret is None:
            raise ConfigError(
                "invalid configuration: auth.algorithms: HS256 needs hs256_secret_file or hs256_secret_env"
            )
        if s.jwks_url:
            await self.refresh_jwks(force=True)
        if self.static_key is None and not s.jwks_url and self.hmac_secret is None:
            from gateway.auth.devkey import load_or_create_dev_key

            self.static_key = load_or_create_dev_key().public_key()
            self.using_dev_key = True
            log.warning(
                "auth: no key configured; trusting the local DEVELOPMENT key (never do this in production)"
            )

    async def refresh_jwks(self, force: bool = False) -> bool:
        """Fetch the JWKS again; returns False when skipped because a refresh happened recently."""
        async with self._refresh_lock:
            if not force and time.monotonic() - self._jwks_fetched < MIN_REFRESH_INTERVAL:
                return False
            assert self.settings.jwks_url
            try:
                async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=5)) as session:
                    async with session.get(self.settings.jwks_url) as resp:
                        resp.raise_for_status()
                        doc = await resp.json(content_type=None)
                keyset = jwt.PyJWKSet.from_dict(doc)
            except (aiohttp.ClientError, TimeoutError, ValueError, jwt.PyJWKSetError) as exc:
                self._jwks_fetched = time.monotonic()
                if force and not self.jwks:
                    raise ConfigError(
                        f"invalid configuration: auth.jwks_url: cannot load keys ({type(exc).__name__})"
                    ) from None
                log.warning(
                    "auth: JWKS refresh failed (%s); keeping %d cached keys",
                    type(exc).__name__,
                    len(self.jwks),
                )
                return False
            self.jwks = {k.key_id: k for k in keyset.keys if k.key_id}
            self._jwks_fetched = time.monotonic()
            return True

    def jwks_stale(self) -> bool:
        return time.monotonic() - self._jwks_fetched > self.settings.jwks_cache_seconds
