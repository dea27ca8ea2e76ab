"""One upstream HTTP client alone, as the gateway would use it: N tasks on uvloop,
each POSTing the chat request in a loop over one pooled session, for D seconds.

    python bench/gateway/upstream_clients.py aiohttp|httpx URL CONCURRENCY SECONDS

Prints one JSON line: client, requests, rps, p50_ms, p99_ms. The benchmark runs
it once per client in a fresh process so neither warms the other.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time

import numpy as np
import uvloop

BODY = b'{"model":"bench","messages":[{"role":"user","content":"Say hello in one short sentence."}],"max_tokens":16}'
HEADERS = {"content-type": "application/json", "authorization": "Bearer client-bench"}


async def _aiohttp(url: str, concurrency: int, seconds: float) -> list[float]:
    import aiohttp

    lat: list[float] = []
    connector = aiohttp.TCPConnector(limit=concurrency * 2, ttl_dns_cache=300)
    async with aiohttp.ClientSession(connector=connector) as session:
        end = time.perf_counter() + seconds

        async def worker() -> None:
            while (t0 := time.perf_counter()) < end:
                async with session.post(url, data=BODY, headers=HEADERS) as r:
                    await r.read()
                lat.append(time.perf_counter() - t0)

        await asyncio.gather(*(worker() for _ in range(concurrency)))
    return lat


async def _httpx(url: str, concurrency: int, seconds: float) -> list[float]:
    import httpx

    lat: list[float] = []
    limits = httpx.Limits(max_connections=concurrency * 2, max_keepalive_connections=concurrency * 2)
    async with httpx.AsyncClient(limits=limits, timeout=30) as client:
        end = time.perf_counter() + seconds

        async def worker() -> None:
            while (t0 := time.perf_counter()) < end:
                r = await client.post(url, content=BODY, headers=HEADERS)
                r.read()
                lat.append(time.perf_counter() - t0)

        await asyncio.gather(*(worker() for _ in range(concurrency)))
    return lat


CLIENTS = {"aiohttp": _aiohttp, "httpx": _httpx}


def main() -> None:
    name, url, concurrency, seconds = sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4])
    started = time.perf_counter()
    lat = uvloop.run(CLIENTS[name](url, concurrency, seconds))
    elapsed = time.perf_counter() - started
    ms = np.asarray(lat) * 1000
    print(
        json.dumps(
            {
                "client": name,
                "requests": len(lat),
                "rps": round(len(lat) / elapsed, 1),
                "p50_ms": round(float(np.percentile(ms, 50)), 3),
                "p99_ms": round(float(np.percentile(ms, 99)), 3),
            }
        )
    )


if __name__ == "__main__":
    main()
