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
    return Item(
        "gateway.request",
        {
            "request_id": f"req-{i:08d}",
            "route": "/v1/chat/completions",
            "model": "qwen2.5-7b-instruct",
            "upstream": "gpu-eu",
            "status": 200,
            "decision": "allow",
            "deny_reasons": [],
            "prompt_tokens": 180 + i % 50,
            "completion_tokens": 64,
            "timings_ms": {"auth": 0.21, "ratelimit": 0.05, "pii": 3.7, "policy": 0.42, "upstream": 812.5},
            "pii": {"EMAIL_ADDRESS": i % 2, "PHONE_NUMBER": i % 3},
        },
        tenant=f"tenant-{i % 8}",
        subject=f"user-{i % 500}",
        personal={"client_ip": f"10.1.{i % 250}.{i % 200}"},
    )


def plain_row(seq: int, it: Item) -> tuple:
    """The same row without chain or encryption: what an application would insert with no audit log."""
    doc = {
        "time": utc_now(),
        "type": it.type,
        "actor": it.subject,
        "tenant": it.tenant,
        "payload": it.payload,
        "personal": it.personal,
    }
    return (seq, doc["time"], it.type, it.subject, it.tenant, orjson.dumps(doc))


class _SQLitePlain:
    """Plain inserts: same columns (without the hashes), same indexes, WAL + synchronous=FULL."""

    def __init__(self, path: str) -> None:
        self.c = c = sqlite3.connect(path, isolation_level=None)
        c.execute("PRAGMA journal_mode=WAL")
        c.execute("PRAGMA synchronous=FULL")
        c.execute(
            "CREATE TABLE plain (seq INTEGER PRIMARY KEY, time TEXT, type TEXT, actor TEXT, tenant TEXT, "
            "body BLOB)"
        )
        for col in ("time", "actor", "tenant"):
            c.execute(f"CREATE INDEX plain_{col} ON plain ({col})")
        self.seq = 0

    def insert(self, items: list[Item]) -> None:
        rows = [plain_row(self.seq + j, it) for j, it in enumerate(items)]
        self.seq += len(rows)
        self.c.execute("BEGIN IMMEDIATE")
        self.c.executemany("INSERT INTO plain VALUES (?, ?, ?, ?, ?, ?)", rows)
        self.c.execute("COMMIT")

    def close(self) -> None:
        self.c.close()


class _PGPlain:
    """Plain inserts into PostgreSQL with COPY (the fastest plain path), one transaction a batch."""

    def __init__(self) -> None:
        import psycopg

        self.table = f"bench_plain_{uuid.uuid4().hex[:8]}"
        self.c = psycopg.connect(PG)
        self.c.execute(
            f'CREATE TABLE {self.table} (seq BIGINT PRIMARY KEY, time TEXT COLLATE "C", type TEXT, '
            "actor TEXT, tenant TEXT, body BYTEA)"
        )
        for col in ("time", "actor", "tenant"):
            self.c.execute(f"CREATE INDEX {self.table}_{col} ON {self.table} ({col})")
        self.c.commit()
        self.seq = 0

    def insert(self, items: list[Item]) -> None:
        rows = [plain_row(self.seq + j, it) for j, it in enumerate(items)]
        self.seq += len(rows)
        with self.c.transaction(), self.c.cursor() as cur, cur.copy(f"COPY {self.table} FROM STDIN") as cp:
            for r in rows:
                cp.write_row(r)

    def close(self) -> None:
        self.c.execute(f"DROP TABLE {self.table}")
        self.c.commit()
        self.c.close()


async def _submit_all(w, items: list[Item]) -> None:  # noqa: ANN001
    window: set[asyncio.Future[int]] = set()
    for it in items:
        if len(window) >= 2000:  # like 2000 requests in flight at a gateway
            _, window = await asyncio.wait(window, return_when=asyncio.FIRST_COMPLETED)
        window.add(w.submit(it.type, it.payload, tenant=it.tenant, subject=it.subject, personal=it.personal))
    await asyncio.gather(*window)


async def _compare(
    store: str,
    plain,
    url_sync: str,
    url_async: str,
    keys: dict,
    items: list[Item],  # noqa: ANN001
    batch: int,
    rounds: int,
) -> dict:
    """Alternate plain, synchronous-audit and async-writer rounds so that machine load hits all three alike."""
    per = len(items) // rounds
    t_plain = t_sync = t_async = 0.0
    log = open_log(url_sync, checkpoint_every=1000, **keys)
    w = open_writer(url_async, checkpoint_every=1000, **keys)
    await w.start()
    try:
        log.append_many(items[:batch])  # warm up both (schema, data keys)
        await _submit_all(w, items[:batch])
        plain.insert(items[:batch])
        for r in tqdm(range(rounds), desc=f"{store} rounds", disable=not sys.stderr.isatty(), leave=False):
            chunk = items[r * per : (r + 1) * per]
            t = time.perf_counter()
            for s in range(0, len(chunk), batch):
                plain.insert(chunk[s : s + batch])
            t_plain += time.perf_counter() - t
            t = time.perf_counter()
            for s in range(0, len(chunk), batch):
                log.append_many(chunk[s : s + batch])
            t_sync += time.perf_counter() - t
            t = time.perf_counter()
            await _submit_all(w, chunk)
            t_async += time.perf_counter() - t
    finally:
        log.close()
        await w.aclose()
        plain.close()
    n = per * rounds
    return {
        "store": store,
        "records": n,
        "batch": batch,
        "rounds": rounds,
        "plain_per_s": n / t_plain,
        "audit_per_s": n / t_sync,
        "ratio": t_plain / t_sync,
        "audit_async_writer_per_s": n / t_async,
        "async_ratio": t_plain / t_async,
    }


def _drop_pg(url: str) -> None:
    s = open_store(url)
    s.open()
    s.drop()
    s.close()


def bench_appends(tmp: Path, keys: dict, n: int, batch: int, rounds: int, postgres: bool) -> list[dict]:
    items = [event(i) for i in range(n)]
    out = [
        asyncio.run(
            _compare(
                "sqlite",
                _SQLitePlain(str(tmp / "plain.db")),
                f"sqlite:///{tmp}/audit.db",
                f"sqlite:///{tmp}/audit_async.db",
                keys,
                items,
                batch,
                rounds,
            )
        )
    ]
    if postgres:
        urls = [f"{PG}?table=bench_audit_{uuid.uuid4().hex[:8]}" for _ in range(2)]
        try:
            out.append(
                asyncio.run(_compare("postgresql", _PGPlain(), urls[0], urls[1], keys, items, batch, rounds))
            )
        finally:
            for u in urls:
                try:
                    _drop_pg(u)
                except Exception:  # noqa: BLE001 (best effort cleanup)
                    pass
    return out


def bench_verify(tmp: Path, keys: dict, pub_file: str, n: int) -> dict:
    db = tmp / "verify.db"
    url = f"sqlite:///{db}"
    batch = 5000
    with open_log(url, checkpoint_every=10_000, **keys) as log:
        for s in tqdm(
            range(0, n, batch), desc=f"building {n} records", unit="batch", disable=not sys.stderr.isatty()
        ):
            log.append_many([event(i) for i in range(s, min(n, s + batch))])
    store = open_store(url)
    store.open()
    try:
        t = time.perf_counter()
        bodies = [r[5] for r in store.scan()]
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
    return {
        "records": n,
        "bytes": total_bytes,
        "verify_s": rep.seconds,
        "verify_us_per_record": rep.seconds / n * 1e6,
        "hashlib_us_per_record": hash_s / n * 1e6,
        "ratio_to_hashlib": rep.seconds / hash_s,
        "read_rows_us_per_record": read_s / n * 1e6,
        "checkpoints": rep.checkpoints,
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--appends", type=int, default=20_000, help="records per append benchmark")
    ap.add_argument("--batch", type=int, default=200, help="records per transaction (group commit size)")
    ap.add_argument("--rounds", type=int, default=5, help="alternating rounds (evens out machine load)")
    ap.add_argument("--records", type=int, default=100_000, help="records to verify (issue target: 1000000)")
    ap.add_argument("--no-postgres", action="store_true")
    ap.add_argument("--json", type=Path, default=Path(__file__).parent / "results" / "audit_bench.json")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="cg-audit-bench-") as d:
        tmp = Path(d)
        write_signing_key(tmp / "sign.pem")
        write_subject_key(tmp / "subject")
        keys = {"signing_key_file": str(tmp / "sign.pem"), "subject_key_file": str(tmp / "subject")}
        appends = bench_appends(tmp, keys, args.appends, args.batch, args.rounds, not args.no_postgres)
        verify = bench_verify(tmp, keys, str(tmp / "sign.pub.pem"), args.records)
    result = {
        "machine": {"python": platform.python_version(), "cpus": os.cpu_count()},
        "appends": appends,
        "verify": verify,
    }
    print(
        f"\naudit appends ({args.appends} records in {args.rounds} alternating rounds, {args.batch} per transaction "
        "for plain and sync; the async writer batches by itself)"
    )
    print(f"{'store':<11} {'plain/s':>10} {'audit/s':>10} {'ratio':>6} {'async writer/s':>15} {'ratio':>6}")
    for a in appends:
        print(
            f"{a['store']:<11} {a['plain_per_s']:>10.0f} {a['audit_per_s']:>10.0f} {a['ratio']:>6.2f} "
            f"{a['audit_async_writer_per_s']:>15.0f} {a['async_ratio']:>6.2f}"
        )
    v = verify
    print(
        f"\naudit verify of {v['records']} records (SQLite): {v['verify_s']:.2f} s, "
        f"{v['verify_us_per_record']:.2f} us/record; hashlib SHA-256 of the same bytes "
        f"{v['hashlib_us_per_record']:.2f} us/record; ratio {v['ratio_to_hashlib']:.1f}x "
        f"(reading the rows alone: {v['read_rows_us_per_record']:.2f} us/record)"
    )
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(result, indent=2) + "\n")
    print(f"\nJSON: {args.json}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
