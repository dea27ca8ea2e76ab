"""Two ways to keep "no answer without its record", measured on the real audit writer (SQLite).

Each simulated request spends ``--upstream-ms`` waiting on its model server. Designs:

    queued        the record is queued after the answer, never awaited (no guarantee: the baseline)
    group-commit  the record is queued after the answer and the answer waits for its COMMIT
                  (what the gateway does: Chain.commit)
    write-ahead   a "request" record is committed before the upstream call, then an "outcome"
                  record is queued after it without waiting (two records per request)

At each concurrency it prints p50 latency and req/s, and both as ratios to ``queued`` measured in
the same run. Run:

    python bench/gateway/durability_bench.py                 # c=1 and c=64, 3 s each
    python bench/gateway/durability_bench.py --seconds 5 --concurrency 1,16,64
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from audit.writer import open_writer  # noqa: E402

PAYLOAD = {
    "request_id": "r",
    "route": "chat",
    "model": "bench",
    "status": 200,
    "decision": "allow",
    "prompt_tokens": 14,
    "completion_tokens": 3,
    "timings_ms": {"auth": 0.05, "ratelimit": 0.02},
}


async def one(design: str, writer, upstream_s: float, i: int) -> None:  # noqa: ANN001
    payload = {**PAYLOAD, "request_id": f"r{i}"}
    if design == "write-ahead":
        await writer.submit("gateway.request", {**payload, "phase": "request"}, tenant="t", subject="s")
        await asyncio.sleep(upstream_s)
        writer.submit("gateway.outcome", {"request_id": payload["request_id"], "status": 200}, tenant="t")
        return
    await asyncio.sleep(upstream_s)
    fut = writer.submit("gateway.request", payload, tenant="t", subject="s")
    if design == "group-commit":
        await fut


async def run(
    design: str, concurrency: int, seconds: float, upstream_s: float, d: Path
) -> tuple[float, float]:
    writer = open_writer(
        f"sqlite:///{d / f'{design}-{concurrency}.db'}", checkpoint_every=10_000, checkpoint_seconds=3600
    )
    await writer.start()
    lat: list[float] = []
    stop = time.perf_counter() + seconds
    counter = iter(range(10**9))

    async def client() -> None:
        while time.perf_counter() < stop:
            t0 = time.perf_counter()
            await one(design, writer, upstream_s, next(counter))
            lat.append(time.perf_counter() - t0)

    t0 = time.perf_counter()
    await asyncio.gather(*(client() for _ in range(concurrency)))
    elapsed = time.perf_counter() - t0
    await writer.aclose()
    return statistics.median(lat) * 1000, len(lat) / elapsed


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--concurrency", default="1,64")
    ap.add_argument("--seconds", type=float, default=3.0)
    ap.add_argument("--upstream-ms", type=float, default=1.0)
    args = ap.parse_args(argv)
    os.environ.setdefault("CG_HOME", tempfile.mkdtemp(prefix="cg-bench-home-"))
    designs = ["queued", "group-commit", "write-ahead"]
    print(f"{'design':<14}{'conc':>5}{'p50 ms':>9}{'req/s':>9}{'+p50 ms':>9}{'x req/s':>9}")
    with tempfile.TemporaryDirectory() as tmp:
        for c in (int(x) for x in args.concurrency.split(",")):
            base: tuple[float, float] | None = None
            for design in designs:
                p50, rps = asyncio.run(run(design, c, args.seconds, args.upstream_ms / 1000, Path(tmp)))
                base = base or (p50, rps)
                print(f"{design:<14}{c:>5}{p50:>9.3f}{rps:>9.0f}{p50 - base[0]:>9.3f}{rps / base[1]:>9.3f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
