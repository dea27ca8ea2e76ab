"""JWT authentication (pyjwt): verified identity on the request context, or 401.

Only algorithms on the configured allow-list are accepted, each with the key
type it needs: HMAC tokens are checked only against a configured secret and
never against a public key (the classic RS256/HS256 confusion), ``alg: none``
never. ``exp`` is required; ``iss``, ``aud`` and ``nbf`` are checked with a
small leeway. Verified tokens are cached until they expire, so the signature
is checked once per token, not once per request.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import time
from typing import TYPE_CHECKING, Any

import jwt
import orjson

from gateway.auth.keys import KeySet
from gateway.chain.context import Identity, RequestContext
from gateway.chain.errors import Unauthorized
from gateway.chain.plugins import Plugin
from gateway.config import AuthSettings

if TYPE_CHECKING:
    from jwt.types import Options

HMAC_ALGS = {"HS256", "HS384", "HS512"}


class JWTAuthPlugin(Plugin):
    name = "auth"
    section = "auth"
    Settings = AuthSettings

    def __init__(self, settings: AuthSettings, config: Any) -> None:
        super().__init__(settings, config)
        self.keys = KeySet(settings)
        self._cache: dict[str, tuple[Identity, float]] = {}
        self._algs = frozenset(settings.algorithms)
        require = ["exp"]
        if settings.issuer:
            require.append("iss")
        if settings.audience:
            require.append("aud")
        self._options: Options = {"require": require, "verify_aud": bool(settings.audience)}
        self._pending_refresh: asyncio.Task[bool] | None = None
        self._trusted = settings.trusted_payload_header.lower() if settings.trusted_payload_header else None

    async def startup(self) -> None:
        if self.settings.enabled:
            await self.keys.load()

    async def ready(self) -> tuple[bool, str]:
        if not self.settings.enabled:
            return True, "disabled"
        if self.settings.jwks_url and not self.keys.jwks:
            return False, "no JWKS keys loaded"
        return True, "dev key" if self.keys.using_dev_key else "ok"

    async def on_request(self, ctx: RequestContext) -> None:
        if (
            not self.settings.enabled or ctx.identity is not None
        ):  # a host verified the caller (guardrail API key)
            return
        if self._trusted is not None:
            ctx.identity = self._trusted_identity(ctx.headers.get(self._trusted))
            return
        header = ctx.headers.get("authorization")
        if not header:
            raise Unauthorized("missing bearer token", code="missing_token", error="invalid_request")
        scheme, _, token = header.partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            raise Unauthorized("the Authorization header must be 'Bearer <token>'", error="invalid_request")
        cached = self._cache.get(token)
        if cached is not None:
            identity, exp = cached
            if time.time() < exp + self.settings.leeway_seconds:
                ctx.identity = identity
                return
            del self._cache[token]
        identity, exp = await self._verify(token)
        cache = self._cache
        if self.settings.cache_size:
            if len(cache) >= self.settings.cache_size:
                cache.pop(next(iter(cache)))
            cache[token] = (identity, exp)
        ctx.identity = identity

    async def _key_for(self, header: dict[str, Any]) -> Any:
        alg = header.get("alg")
        if alg in HMAC_ALGS:
            return self.keys.hmac_secret
        kid = header.get("kid")
        if self.settings.jwks_url:
            if self.keys.jwks_stale() or (kid is not None and kid not in self.keys.jwks):
                await self.keys.refresh_jwks(force=False)
            if kid is not None and kid in self.keys.jwks:
                return self.keys.jwks[kid].key
            if kid is None and len(self.keys.jwks) == 1:
                return next(iter(self.keys.jwks.values())).key
            if self.keys.static_key is None:
                raise Unauthorized("the token's signing key is not known")
        return self.keys.static_key

    async def _verify(self, token: str) -> tuple[Identity, float]:
        s = self.settings
        try:
            header = jwt.get_unverified_header(token)
        except jwt.DecodeError:
            raise Unauthorized("the token is malformed") from None
        alg = header.get("alg")
        if not isinstance(alg, str) or alg not in self._algs:
            raise Unauthorized("the token's signing algorithm is not accepted")
        key = await self._key_for(header)
        if key is None:
            raise Unauthorized("the token's signing algorithm is not accepted")
        try:
            claims = jwt.decode(
                token,
                key,
                algorithms=[alg],
                audience=s.audience,
                issuer=s.issuer,
                leeway=s.leeway_seconds,
                options=self._options,
            )
        except jwt.ExpiredSignatureError:
            raise Unauthorized("the token has expired", code="token_expired") from None
        except jwt.ImmatureSignatureError:
            raise Unauthorized("the token is not valid yet", code="token_not_yet_valid") from None
        except jwt.InvalidAudienceError:
            raise Unauthorized(
                "the token is not meant for this gateway (audience)", code="invalid_audience"
            ) from None
        except jwt.InvalidIssuerError:
            raise Unauthorized("the token's issuer is not trusted", code="invalid_issuer") from None
        except jwt.MissingRequiredClaimError as exc:
            raise Unauthorized(
                f"the token lacks the required claim '{exc.claim}'", code="missing_claim"
            ) from None
        except jwt.InvalidSignatureError:
            raise Unauthorized("the token's signature is invalid", code="invalid_signature") from None
        except (jwt.InvalidKeyError, jwt.InvalidAlgorithmError):
            raise Unauthorized("the token's signing algorithm is not accepted") from None
        except jwt.InvalidTokenError:
            raise Unauthorized("the token is invalid") from None
        return self._identity(claims), float(claims["exp"])

    def _trusted_identity(self, payload: str | None) -> Identity:
        """The identity from a payload a trusted proxy verified (Envoy jwt_authn), cached like tokens."""
        if not payload:
            raise Unauthorized("missing bearer token", code="missing_token", error="invalid_request")
        cached = self._cache.get(payload)
        now = time.time()
        if cached is not None and now < cached[1] + self.settings.leeway_seconds:
            return cached[0]
        try:
            claims = orjson.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
        except (binascii.Error, ValueError):
            raise Unauthorized("the forwarded identity is malformed") from None
        if not isinstance(claims, dict):
            raise Unauthorized("the forwarded identity is malformed")
        exp = claims.get("exp")
        if not isinstance(exp, (int, float)) or isinstance(exp, bool):
            raise Unauthorized("the token lacks the required claim 'exp'", code="missing_claim")
        if now > exp + self.settings.leeway_seconds:
            raise Unauthorized("the token has expired", code="token_expired")
        if self.settings.issuer and claims.get("iss") != self.settings.issuer:
            raise Unauthorized("the token's issuer is not trusted", code="invalid_issuer")
        aud = claims.get("aud")
        if self.settings.audience and self.settings.audience not in (aud if isinstance(aud, list) else [aud]):
            raise Unauthorized("the token is not meant for this gateway (audience)", code="invalid_audience")
        identity = self._identity(claims)
        if self.settings.cache_size:
            if len(self._cache) >= self.settings.cache_size:
                self._cache.pop(next(iter(self._cache)))
            self._cache[payload] = (identity, float(exp))
        return identity

    def _identity(self, claims: dict[str, Any]) -> Identity:
        s = self.settings
        subject = claims.get(s.subject_claim)
        tenant = claims.get(s.tenant_claim)
        if not isinstance(subject, str) or not subject:
            raise Unauthorized(f"the token lacks the '{s.subject_claim}' claim", code="missing_claim")
        if not isinstance(tenant, str) or not tenant:
            raise Unauthorized(f"the token lacks the '{s.tenant_claim}' claim", code="missing_claim")
        raw_roles = claims.get(s.roles_claim, ())
        if isinstance(raw_roles, str):
            roles = tuple(raw_roles.split())
        elif isinstance(raw_roles, list) and all(isinstance(r, str) for r in raw_roles):
            roles = tuple(raw_roles)
        else:
            raise Unauthorized(
                f"the token's '{s.roles_claim}' claim must be a list of strings", code="invalid_claim"
            )
        return Identity(subject=subject, tenant=tenant, roles=roles, claims=claims)
