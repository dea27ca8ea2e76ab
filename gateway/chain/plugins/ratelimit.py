"""Per-tenant and per-subject limits on requests and tokens per minute.

Prompt tokens are estimated from the request and charged up front; completion
tokens are counted from the response and charged afterwards (a bucket may go
below zero, so the next requests wait). Subject ids are hashed before they
become bucket keys: Redis key names are visible to anyone with ``KEYS``.
"""

from __future__ import annotations

import hashlib
import logging
import math
from typing import Any

from gateway.chain.context import RequestContext
from gateway.chain.errors import RateLimited, ServiceUnavailable
from gateway.chain.plugins import Plugin
from gateway.config import Limits, RateLimitSettings
from gateway.ratelimit.buckets import Bucket, Limiter, MemoryLimiter, RedisLimiter, format_reset

log = logging.getLogger("gateway.ratelimit")

LIMITER_BACKENDS: dict[str, Any] = {
    "memory": lambda s: MemoryLimiter(),
    "redis": lambda s: RedisLimiter(s.redis_url),
}


def _subject_key(subject: str) -> str:
    return hashlib.blake2b(subject.encode(), digest_size=12, person=b"cg-ratelimit").hexdigest()


class RateLimitPlugin(Plugin):
    name = "ratelimit"
    section = "rate_limit"
    Settings = RateLimitSettings

    def __init__(self, settings: RateLimitSettings, config: Any) -> None:
        super().__init__(settings, config)
        self.limiter: Limiter = LIMITER_BACKENDS[settings.backend](settings)
        self._prefix = settings.key_prefix

    async def startup(self) -> None:
        try:
            await self.limiter.ping()
        except Exception as exc:  # Redis may come up after us; requests fail closed meanwhile
            log.warning("rate limit backend not reachable at start (%s)", type(exc).__name__)

    async def shutdown(self) -> None:
        await self.limiter.aclose()

    async def ready(self) -> tuple[bool, str]:
        try:
            await self.limiter.ping()
            return True, self.settings.backend
        except Exception as exc:
            return False, f"{self.settings.backend}: {type(exc).__name__}"

    def _keys(self, ctx: RequestContext) -> tuple[str, str, Limits, Limits]:
        ident = ctx.identity
        tenant = ident.tenant if ident else "anonymous"
        subject = _subject_key(ident.subject if ident else (ctx.client or "anonymous"))
        p = self._prefix
        return (
            f"{p}t:{tenant}",
            f"{p}s:{tenant}:{subject}",
            self.settings.tenants.get(tenant, self.settings.tenant),
            self.settings.subject,
        )

    def _buckets(
        self, ctx: RequestContext, tokens: float, *, requests: bool
    ) -> tuple[list[Bucket], list[str]]:
        tkey, skey, tl, sl = self._keys(ctx)
        buckets: list[Bucket] = []
        kinds: list[str] = []
        for key, lim in ((tkey, tl), (skey, sl)):
            if requests and lim.requests_per_minute:
                buckets.append(Bucket(key + ":r", lim.requests_per_minute, lim.requests_per_minute / 60.0, 1))
                kinds.append("requests")
            if lim.tokens_per_minute:
                buckets.append(
                    Bucket(key + ":k", lim.tokens_per_minute, lim.tokens_per_minute / 60.0, tokens)
                )
                kinds.append("tokens")
        return buckets, kinds

    async def on_request(self, ctx: RequestContext) -> None:
        buckets, kinds = self._buckets(ctx, max(ctx.prompt_tokens, 1), requests=True)
        if not buckets:
            return
        for b, kind in zip(buckets, kinds, strict=True):
            if kind == "tokens" and b.cost > b.capacity:
                raise RateLimited(
                    f"this request's estimated {int(b.cost)} tokens exceed the limit of {int(b.capacity)} tokens per minute",
                    code="tokens_exceed_limit",
                )
        try:
            verdict = await self.limiter.acquire(buckets)
        except Exception as exc:
            if self.settings.fail_open:
                ctx.audit["ratelimit"] = {"fail_open": True}
                return
            raise ServiceUnavailable(f"rate limit backend unavailable ({type(exc).__name__})") from None
        headers = self._headers(buckets, kinds, verdict.levels)
        if not verdict.allowed:
            retry = max(1, math.ceil(verdict.retry_after))
            headers.append(("retry-after", str(retry)))
            raise RateLimited(f"rate limit reached; retry after {retry} s", headers=headers)
        ctx.response_headers.extend(headers)

    @staticmethod
    def _headers(buckets: list[Bucket], kinds: list[str], levels: list[float]) -> list[tuple[str, str]]:
        out: list[tuple[str, str]] = []
        for kind in ("requests", "tokens"):
            tight = [(lv, b) for lv, b, k in zip(levels, buckets, kinds, strict=True) if k == kind]
            if not tight:
                continue
            level, b = min(tight, key=lambda x: x[0] / x[1].capacity)
            out.append((f"x-ratelimit-limit-{kind}", str(int(b.capacity))))
            out.append((f"x-ratelimit-remaining-{kind}", str(max(0, int(level)))))
            out.append((f"x-ratelimit-reset-{kind}", format_reset((b.capacity - level) / b.rate)))
        return out

    async def on_complete(self, ctx: RequestContext) -> None:
        if ctx.completion_tokens <= 0:
            return
        buckets, _ = self._buckets(ctx, ctx.completion_tokens, requests=False)
        if buckets:
            try:
                await self.limiter.acquire(buckets, force=True)
            except Exception as exc:
                log.warning("could not charge completion tokens (%s)", type(exc).__name__)
