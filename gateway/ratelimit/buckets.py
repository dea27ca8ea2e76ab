"""Token buckets: in-process (the embedded default) and in Redis (shared by replicas).

A request is checked against several buckets at once (tenant and subject,
requests and tokens) and is admitted only if every bucket has room; then all
of them are charged. In Redis this check-and-charge is one Lua script, so it
is atomic across any number of gateway replicas. Levels refill continuously
at ``capacity / 60`` per second (limits are per minute).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from importlib import resources
from typing import Protocol


@dataclass(slots=True, frozen=True)
class Bucket:
    key: str
    capacity: float
    rate: float  # units per second
    cost: float


@dataclass(slots=True)
class Verdict:
    allowed: bool
    levels: list[float]  # level of each bucket after the decision
    retry_after: float  # seconds until the request would fit (0 when allowed)


class Limiter(Protocol):
    async def acquire(self, buckets: list[Bucket], *, force: bool = False) -> Verdict: ...

    async def ping(self) -> None: ...

    async def aclose(self) -> None: ...


class MemoryLimiter:
    def __init__(self, max_keys: int = 1_000_000) -> None:
        self._state: dict[str, tuple[float, float]] = {}
        self._max_keys = max_keys

    async def acquire(self, buckets: list[Bucket], *, force: bool = False) -> Verdict:
        now = time.monotonic()
        state = self._state
        levels: list[float] = []
        allowed = True
        wait = 0.0
        for b in buckets:
            entry = state.get(b.key)
            level = b.capacity if entry is None else min(b.capacity, entry[0] + (now - entry[1]) * b.rate)
            levels.append(level)
            if level < b.cost:
                allowed = False
                wait = max(wait, (b.cost - level) / b.rate)
        if allowed or force:
            levels = [lv - b.cost for lv, b in zip(levels, buckets, strict=True)]
        if len(state) >= self._max_keys:
            state.clear()  # bounded memory; a full bucket is the conservative restart state
        for lv, b in zip(levels, buckets, strict=True):
            state[b.key] = (lv, now)
        return Verdict(allowed, levels, 0.0 if allowed else wait)

    async def ping(self) -> None:
        return None

    async def aclose(self) -> None:
        return None


class RedisLimiter:
    def __init__(self, url: str) -> None:
        import redis.asyncio as aioredis

        self._redis = aioredis.Redis.from_url(url, socket_connect_timeout=1.0, socket_timeout=1.0)
        lua = resources.files("gateway.ratelimit").joinpath("token_bucket.lua").read_text()
        self._script = self._redis.register_script(lua)

    async def acquire(self, buckets: list[Bucket], *, force: bool = False) -> Verdict:
        args: list[float | int] = []
        for b in buckets:
            args.extend((b.capacity, b.rate / 1000.0, b.cost))
        args.append(1 if force else 0)
        allowed, wait_ms, levels = await self._script(keys=[b.key for b in buckets], args=args)
        return Verdict(bool(int(allowed)), [float(x) for x in levels], int(wait_ms) / 1000.0)

    async def ping(self) -> None:
        await self._redis.ping()

    async def aclose(self) -> None:
        await self._redis.aclose()


def format_reset(seconds: float) -> str:
    """OpenAI-style durations: 20ms, 1.5s, 6m0s."""
    if seconds < 1:
        return f"{max(0, math.ceil(seconds * 1000))}ms"
    if seconds < 60:
        return f"{seconds:.3g}s"
    m, s = divmod(int(math.ceil(seconds)), 60)
    return f"{m}m{s}s"
