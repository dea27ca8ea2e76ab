"""Audit log throughput and verification cost, each against a baseline measured in the same run.

1. Appends per second with the chain, the Merkle frontier, canonical JSON,
   HMAC actors and AES-GCM sealing, against plain inserts of the same rows
   (same columns and indexes, same batch size, same durability settings, same
   database) -- for SQLite and PostgreSQL. Target: ratio >= 0.5.
2. ``audit verify`` time per record for N records, against hashing the same
   record bytes once with hashlib (SHA-256) alone.

    python bench/audit_bench.py                  # N = 100,000 for verify
    python bench/audit_bench.py --records 1000000
    python bench/audit_bench.py --no-postgres --json out.json

Prints a text table; writes JSON (default bench/results/audit_bench.json).
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import os
import platform
import sqlite3
import sys
import tempfile
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import orjson  # noqa: E402
from tqdm import tqdm  # noqa: E402

from audit.appender import Item  # noqa: E402
from audit.keys import load_public_key, write_signing_key, write_subject_key  # noqa: E402
from audit.log import open_log  # noqa: E402
from audit.record import utc_now  # noqa: E402
from audit.store import open_store  # noqa: E402
from audit.verify import verify_store  # noqa: E402
from audit.writer import open_writer  # noqa: E402

PG = "postgresql://postgres@127.0.0.1:5432/test"


def event(i: int) -> Item:
    return Item("gateway.request", {
        "request_id": f"req-{i:08d}", "route": "/v1/chat/completions", "model": "qwen2.5-7b-instruct",
        "upstream": "gpu-eu", "status": 200, "decision": "allow", "deny_reasons": [],
        "prompt_tokens": 180 + i % 50, "completion_tokens": 64,
        "timings_ms": {"auth": 0.21, "ratelimit": 0.05, "pii": 3.7, "policy": 0.42, "upstream": 812.5},
        "pii": {"EMAIL_ADDRESS": i % 2, "PHONE_NUMBER": i % 3}},
        tenant=f"tenant-{i % 8}", subject=f"user-{i % 500}", personal={"client_ip": f"10.1.{i % 250}.{i % 200}"})


def plain_row(seq: int, it: Item) -> tuple:
    """The same row without chain or encryption: what an application would insert with no audit log."""
    doc = {"time": utc_now(), "type": it.type, "actor": it.subject, "tenant": it.tenant, "payload": it.payload,
           "personal": it.personal}
    return (seq, doc["time"], it.type, it.subject, it.tenant, orjson.dumps(doc))


def _sqlite_plain(path: str, items: list[Item], batch: int) -> float:
    c = sqlite3.connect(path, isolation_level=None)
    c.execute("PRAGMA journal_mode=WAL")
    c.execute("PRAGMA synchronous=FULL")
    c.execute("CREATE TABLE plain (seq INTEGER PRIMARY KEY, time TEXT, type TEXT, actor TEXT, tenant TEXT, body BLOB)")
    for col in ("time", "actor", "tenant"):
        c.execute(f"CREATE INDEX plain_{col} ON plain ({col})")
    t = time.perf_counter()
    for s in range(0, len(items), batch):
        rows = [plain_row(s + j, it) for j, it in enumerate(items[s : s + batch])]
        c.execute("BEGIN IMMEDIATE")
        c.executemany("INSERT INTO plain VALUES (?, ?, ?, ?, ?, ?)", rows)
        c.execute("COMMIT")
    el = time.perf_counter() - t
    c.close()
    return len(items) / el


def _pg_plain(items: list[Item], batch: int) -> float:
    import psycopg

    table = f"bench_plain_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(PG) as c:
        c.execute(f"CREATE TABLE {table} (seq BIGINT PRIMARY KEY, time TEXT COLLATE \"C\", type TEXT, actor TEXT, "
                  "tenant TEXT, body BYTEA)")
        for col in ("time", "actor", "tenant"):
            c.execute(f"CREATE INDEX {table}_{col} ON {table} ({col})")
        c.commit()
        try:
            t = time.perf_counter()
            for s in range(0, len(items), batch):
                rows = [plain_row(s + j, it) for j, it in enumerate(items[s : s + batch])]
                with c.transaction(), c.cursor() as cur:
                    cur.execute("SELECT 1")  # same round trip the audit log spends on its head lock
                    with cur.copy(f"COPY {table} FROM STDIN") as cp:
                        for r in rows:
                            cp.write_row(r)
            el = time.perf_counter() - t
        finally:
            c.execute(f"DROP TABLE {table}")
            c.commit()
    return len(items) / el


def _audit_sync(url: str, keys: dict, items: list[Item], batch: int) -> float:
    with open_log(url, checkpoint_every=1000, **keys) as log:
        log.append_many(items[:batch])  # warm up: schema, keys
        rest = items[batch:]
        t = time.perf_counter()
        for s in range(0, len(rest), batch):
            log.append_many(rest[s : s + batch])
        el = time.perf_counter() - t
    return len(rest) / el


async def _audit_async(url: str, keys: dict, items: list[Item]) -> float:
    w = open_writer(url, checkpoint_every=1000, **keys)
    await w.start()
    t = time.perf_counter()
    window: set[asyncio.Future[int]] = set()
    for it in items:
        if len(window) >= 2000:  # like 2000 requests in flight at a gateway
            done, window = await asyncio.wait(window, return_when=asyncio.FIRST_COMPLETED)
        window.add(w.submit(it.type, it.payload, tenant=it.tenant, subject=it.subject, personal=it.personal))
    await asyncio.gather(*window)
    el = time.perf_counter() - t
    await w.aclose()
    return len(items) / el


def _drop_pg(url: str) -> None:
    s = open_store(url)
    s.open()
    s.drop()
    s.close()


def bench_appends(tmp: Path, keys: dict, n: int, batch: int, postgres: bool) -> list[dict]:
    items = [event(i) for i in range(n + batch)]
    out = []
    db = tmp / "bench.db"
    plain = _sqlite_plain(str(db), items[:n], batch)
    audited = _audit_sync(f"sqlite:///{db}", keys, items, batch)
    url_async = f"sqlite:///{db}?table=audit_async"
    audited_async = asyncio.run(_audit_async(url_async, keys, items[:n]))
    out.append({"store": "sqlite", "records": n, "batch": batch, "plain_per_s": plain, "audit_per_s": audited,
                "ratio": audited / plain, "audit_async_writer_per_s": audited_async,
                "async_ratio": audited_async / plain})
    if postgres:
        url = f"{PG}?table=bench_audit_{uuid.uuid4().hex[:8]}"
        url_a = f"{PG}?table=bench_audit_{uuid.uuid4().hex[:8]}"
        try:
            plain = _pg_plain(items[:n], batch)
            audited = _audit_sync(url, keys, items, batch)
            audited_async = asyncio.run(_audit_async(url_a, keys, items[:n]))
        finally:
            for u in (url, url_a):
                try:
                    _drop_pg(u)
                except Exception:  # noqa: BLE001 (best effort cleanup)
                    pass
        out.append({"store": "postgresql", "records": n, "batch": batch, "plain_per_s": plain,
                    "audit_per_s": audited, "ratio": audited / plain, "audit_async_writer_per_s": audited_async,
                    "async_ratio": audited_async / plain})
    return out


def bench_verify(tmp: Path, keys: dict, pub_file: str, n: int) -> dict:
    db = tmp / "verify.db"
    url = f"sqlite:///{db}"
    batch = 5000
    with open_log(url, checkpoint_every=10_000, **keys) as log:
        for s in tqdm(range(0, n, batch), desc=f"building {n} records", unit="batch", disable=not sys.stderr.isatty()):
            log.append_many([event(i) for i in range(s, min(n, s + batch))])
    store = open_store(url)
    store.open()
    try:
        t = time.perf_counter()
        bodies = [r.body for r in store.rows(batch=20_000)]
        read_s = time.perf_counter() - t
        t = time.perf_counter()
        sha = hashlib.sha256
        for b in bodies:
            sha(b).digest()
        hash_s = time.perf_counter() - t
        total_bytes = sum(map(len, bodies))
        del bodies
        rep = verify_store(store, load_public_key(pub_file), progress=sys.stderr.isatty())
    finally:
        store.close()
    if not rep.ok:
        raise SystemExit(f"verification failed: {rep.problems}")
    return {"records": n, "bytes": total_bytes, "verify_s": rep.seconds,
            "verify_us_per_record": rep.seconds / n * 1e6, "hashlib_us_per_record": hash_s / n * 1e6,
            "ratio_to_hashlib": rep.seconds / hash_s, "read_rows_us_per_record": read_s / n * 1e6,
            "checkpoints": rep.checkpoints}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--appends", type=int, default=20_000, help="records per append benchmark")
    ap.add_argument("--batch", type=int, default=200, help="records per transaction (group commit size)")
    ap.add_argument("--records", type=int, default=100_000, help="records to verify (issue target: 1000000)")
    ap.add_argument("--no-postgres", action="store_true")
    ap.add_argument("--json", type=Path, default=Path(__file__).parent / "results" / "audit_bench.json")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="cg-audit-bench-") as d:
        tmp = Path(d)
        write_signing_key(tmp / "sign.pem")
        write_subject_key(tmp / "subject")
        keys = {"signing_key_file": str(tmp / "sign.pem"), "subject_key_file": str(tmp / "subject")}
        appends = bench_appends(tmp, keys, args.appends, args.batch, not args.no_postgres)
        verify = bench_verify(tmp, keys, str(tmp / "sign.pub.pem"), args.records)
    result = {"machine": {"python": platform.python_version(), "cpus": os.cpu_count()}, "appends": appends,
              "verify": verify}
    print(f"\naudit appends ({args.appends} records, {args.batch} per transaction; same rows, same database)")
    print(f"{'store':<11} {'plain/s':>10} {'audit/s':>10} {'ratio':>6} {'async writer/s':>15} {'ratio':>6}")
    for a in appends:
        print(f"{a['store']:<11} {a['plain_per_s']:>10.0f} {a['audit_per_s']:>10.0f} {a['ratio']:>6.2f} "
              f"{a['audit_async_writer_per_s']:>15.0f} {a['async_ratio']:>6.2f}")
    v = verify
    print(f"\naudit verify of {v['records']} records (SQLite): {v['verify_s']:.2f} s, "
          f"{v['verify_us_per_record']:.2f} us/record; hashlib SHA-256 of the same bytes "
          f"{v['hashlib_us_per_record']:.2f} us/record; ratio {v['ratio_to_hashlib']:.1f}x "
          f"(reading the rows alone: {v['read_rows_us_per_record']:.2f} us/record)")
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(result, indent=2) + "\n")
    print(f"\nJSON: {args.json}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
