"""No answer without its record, tested on a real `gateway serve` process.

- kill -9 under 16 concurrent clients, five times: every request the client saw complete (a 200
  JSON body, or a stream that reached ``[DONE]``) has its audit record; `audit verify` then passes
  with the tail "not yet signed" (exit 3) and the next start signs it (exit 0).
- SIGTERM under load: the listener closes, streams in flight run to their end within
  ``server.shutdown_grace_s`` (one longer than the grace is cut only when the grace is over, and its
  record says "cancelled"), the audit tail is signed, the process exits 0.
- The store failing at request time (the SQLite files made immutable; the PostgreSQL connection cut):
  answers are 200 with a record, or 503 audit_unavailable: never 200 without a record.
"""

from __future__ import annotations

import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import orjson
import psycopg
import pytest

from gateway.auth.devkey import mint
from tests.gateway.upstream_app import EchoUpstream
from tests.servers import ServerThread, closed_port

ROOT = Path(__file__).resolve().parents[2]
PY = sys.executable
CLIENTS = 16
TOKEN = mint("alice", "acme", ["user"])
HEADERS = {"Authorization": f"Bearer {TOKEN}"}


def _body(i: int, stream: bool, model: str = "echo-1") -> dict[str, Any]:
    return {
        "model": model,
        "stream": stream,
        "messages": [{"role": "user", "content": f"request number {i}"}],
    }


class Gateway:
    """`python -m gateway serve --config FILE` as a child process on a free port."""

    def __init__(self, tmp: Path, config: dict[str, Any], name: str = "gw") -> None:
        self.port = closed_port()
        self.url = f"http://127.0.0.1:{self.port}"
        cfg = {**config, "server": {**config.get("server", {}), "port": self.port}}
        self.cfg_path = tmp / f"{name}.yaml"
        self.cfg_path.write_text(json.dumps(cfg))  # JSON is YAML
        self.log = tmp / f"{name}.log"
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        self.proc = subprocess.Popen(
            [PY, "-m", "gateway", "serve", "--config", str(self.cfg_path), "--log-level", "warning"],
            cwd=ROOT,
            env=env,
            stdout=open(self.log, "ab"),
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 60
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f"gateway exited {self.proc.returncode}:\n{self.log.read_text()[-3000:]}")
            try:
                if httpx.get(f"{self.url}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                self.proc.kill()
                raise TimeoutError(self.log.read_text()[-3000:])
            time.sleep(0.05)

    def kill(self, sig: int = signal.SIGKILL) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(10)


class Load:
    """CLIENTS threads posting in a loop; remembers what each client saw complete."""

    def __init__(self, url: str, stream_every: int = 3, model: str = "echo-1") -> None:
        self.url = url
        self.stream_every = stream_every
        self.model = model
        self.acked: set[str] = set()
        self.statuses: dict[int, int] = {}
        self.stop = threading.Event()
        self.errors = 0
        self.cut = 0
        self.last_error = ""
        self._lock = threading.Lock()
        self.threads = [threading.Thread(target=self._client, args=(c,), daemon=True) for c in range(CLIENTS)]

    def __enter__(self) -> Load:
        for t in self.threads:
            t.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        for t in self.threads:
            t.join(30)

    def wait_for(self, answers: int, timeout: float = 10.0) -> None:
        """Until the clients have seen this many complete answers (a loaded machine is slow to start)."""
        deadline = time.monotonic() + timeout
        while len(self.acked) < answers and time.monotonic() < deadline:
            time.sleep(0.01)

    def _client(self, c: int) -> None:
        i = 0
        with httpx.Client(timeout=httpx.Timeout(20.0, connect=2.0)) as client:
            while not self.stop.is_set():
                i += 1
                stream = i % self.stream_every == 0
                try:
                    with client.stream(
                        "POST",
                        f"{self.url}/v1/chat/completions",
                        headers=HEADERS,
                        json=_body(c * 100000 + i, stream, self.model),
                    ) as r:
                        data = r.read()
                        status = r.status_code
                        rid = r.headers.get("x-request-id")
                except httpx.HTTPError as exc:
                    with self._lock:
                        self.errors += 1
                        self.last_error = repr(exc)
                    time.sleep(0.01)
                    continue
                complete = status == 200 and (not stream or data.rstrip().endswith(b"data: [DONE]"))
                with self._lock:
                    if status == 200 and not complete:
                        self.cut += 1  # a stream that started and ended without [DONE]
                    self.statuses[status] = self.statuses.get(status, 0) + 1
                    if complete and rid:
                        self.acked.add(rid)


def sqlite_records(db: Path) -> list[dict[str, Any]]:
    with sqlite3.connect(db) as c:
        rows = c.execute("SELECT body FROM audit_records ORDER BY seq").fetchall()
    return [orjson.loads(b) for (b,) in rows]


def request_ids(records: list[dict[str, Any]]) -> set[str]:
    return {r["payload"]["request_id"] for r in records if r.get("type") == "gateway.request"}


def verify(store: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [PY, "-m", "audit", "verify", "--store", store],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        timeout=60,
    )


@pytest.fixture
def echo() -> Any:
    with ServerThread(EchoUpstream()) as srv:
        yield srv.url


def _config(up_url: str, store: str, **extra: Any) -> dict[str, Any]:
    return {
        "upstreams": [{"name": "u", "url": up_url}],
        "plugins": ["auth", "audit"],
        "audit": {"store": store},
        **extra,
    }


def test_kill9_under_load_loses_no_acknowledged_record(echo, tmp_path) -> None:
    db = tmp_path / "audit.db"
    store = f"sqlite:///{db}"
    rng = random.Random(11)
    total = 0
    for rep in range(5):
        gw = Gateway(tmp_path, _config(echo, store), name=f"kill{rep}")
        try:
            with Load(gw.url) as load:
                load.wait_for(20)
                time.sleep(rng.uniform(0.0, 0.3))
                gw.kill(signal.SIGKILL)  # in the middle of answering
                gw.proc.wait(10)
                time.sleep(0.2)
            acked = set(load.acked)
        finally:
            gw.close()
        recorded = request_ids(sqlite_records(db))
        missing = acked - recorded
        print(
            f"kill -9 run {rep}: {len(acked)} acknowledged, {len(recorded)} recorded in total, "
            f"{len(missing)} missing"
        )
        assert acked, (
            f"the load never got an answer before the kill: {load.statuses} errors={load.errors} {load.last_error}"
        )
        assert not missing, f"run {rep}: {len(missing)} acknowledged requests have no audit record"
        total += len(acked)
    # Right after the crash the log verifies; the records after the last checkpoint are "not yet signed".
    v = verify(store)
    assert v.returncode == 3, v.stdout + v.stderr
    assert "not yet signed" in v.stdout and "NOT YET SIGNED" in v.stdout
    # The next start signs them.
    gw = Gateway(tmp_path, _config(echo, store), name="after")
    gw.kill(signal.SIGTERM)
    assert gw.proc.wait(20) == 0
    v = verify(store)
    assert v.returncode == 0 and "result            OK" in v.stdout, v.stdout + v.stderr
    print(f"kill -9 x5: {total} acknowledged requests, none without a record")


def test_sigterm_drains_streams_signs_the_tail_and_exits_0(tmp_path) -> None:
    """Fast requests and 1 s streams under load, then SIGTERM with a 2.5 s grace."""
    grace = 2.5
    fast = EchoUpstream()
    slow = EchoUpstream(chunk_delay=0.05)  # "request number N" answers in ~6 chunks: ~0.3 s
    longer = EchoUpstream(chunk_delay=0.25)
    db = tmp_path / "audit.db"
    store = f"sqlite:///{db}"
    with ServerThread(fast) as f, ServerThread(slow) as s, ServerThread(longer) as lg:
        cfg = {
            "upstreams": [
                {"name": "fast", "url": f.url, "models": ["echo-1"]},
                {"name": "slow", "url": s.url, "models": ["slow"]},
                {"name": "long", "url": lg.url, "models": ["long"]},
            ],
            "plugins": ["auth", "audit"],
            "audit": {"store": store},
            "server": {"shutdown_grace_s": grace},
        }
        gw = Gateway(tmp_path, cfg)
        try:
            # One stream that outlives the grace: 24 words at 0.25 s.
            long_events: list[float] = []
            long_result: dict[str, Any] = {}

            def long_stream() -> None:
                words = " ".join(f"w{i}" for i in range(22))
                body = {"model": "long", "stream": True, "messages": [{"role": "user", "content": words}]}
                try:
                    with httpx.stream(
                        "POST", f"{gw.url}/v1/chat/completions", headers=HEADERS, json=body, timeout=30
                    ) as r:
                        long_result["rid"] = r.headers.get("x-request-id")
                        for chunk in r.iter_raw():
                            long_events.append(time.monotonic())
                            long_result["tail"] = chunk
                except httpx.HTTPError as exc:
                    long_result["error"] = type(exc).__name__

            lt = threading.Thread(target=long_stream, daemon=True)
            lt.start()
            with Load(gw.url, stream_every=2, model="slow") as load, Load(gw.url, stream_every=4) as load2:
                load.wait_for(10)
                load2.wait_for(10)
                t_term = time.monotonic()
                gw.kill(signal.SIGTERM)
                time.sleep(0.3)
                with pytest.raises(httpx.ConnectError):  # the listener is closed
                    httpx.get(f"{gw.url}/healthz", timeout=2)
                rc = gw.proc.wait(grace + 15)
            lt.join(10)
        finally:
            gw.close()
    assert rc == 0, gw.log.read_text()[-3000:]
    acked = load.acked | load2.acked
    records = sqlite_records(db)
    assert acked and not acked - request_ids(records)
    # Nothing in flight was cut: every stream a client started (all shorter than the grace) ended with [DONE].
    assert load.statuses.get(200, 0) > 0
    assert load.cut == 0 and load2.cut == 0, (load.cut, load2.cut)
    # The long stream ran until the grace was over, then was cut, and its record says so.
    assert long_events and long_events[-1] - t_term >= grace - 0.3, (long_events[-1] - t_term, long_result)
    assert not long_result.get("tail", b"").rstrip().endswith(b"[DONE]")
    rec = next(r for r in records if r.get("payload", {}).get("request_id") == long_result["rid"])
    assert rec["payload"]["outcome"] == "cancelled" and rec["payload"]["host"] == "proxy"
    # The tail was signed at shutdown.
    v = verify(store)
    assert v.returncode == 0, v.stdout + v.stderr


def _store_failure_run(url: str, break_store: Any, seconds: float = 1.2) -> tuple[set[str], dict[int, int]]:
    with Load(url) as load:
        load.wait_for(20)
        break_store()
        time.sleep(seconds)
    return set(load.acked), dict(load.statuses)


def test_sqlite_made_immutable_gives_503_never_200_without_record(echo, tmp_path) -> None:
    db = tmp_path / "audit.db"
    gw = Gateway(tmp_path, _config(echo, f"sqlite:///{db}"))
    # The database and its write-ahead log, where every write lands. Not the -shm wal-index: SQLite
    # memory-maps it, and a shared mapping of a file made immutable under a running process faults
    # with SIGBUS in any SQLite program (the process dies: no answer goes out without its record, but
    # no 503 either). docs/audit.md states this limit.
    files = [db, Path(f"{db}-wal")]

    def immutable() -> None:
        subprocess.run(["chattr", "+i", *[str(f) for f in files if f.exists()]], check=True)

    try:
        acked, statuses = _store_failure_run(gw.url, immutable)
        after = httpx.post(f"{gw.url}/v1/chat/completions", headers=HEADERS, json=_body(0, False))
    finally:
        subprocess.run(["chattr", "-i", *[str(f) for f in files if f.exists()]], check=False)
        gw.close()
    print("store made immutable:", statuses)
    assert after.status_code == 503 and after.json()["error"]["code"] == "audit_unavailable"
    assert statuses.get(503, 0) > 0
    assert set(statuses) <= {200, 503}, statuses
    missing = acked - request_ids(sqlite_records(db))
    assert not missing, f"{len(missing)} answers were released without a durable record"


def test_postgres_connection_cut_gives_503_never_200_without_record(echo, tmp_path) -> None:
    table = f"cg_dur_{uuid.uuid4().hex[:10]}"
    store = f"postgresql://postgres@127.0.0.1:5432/test?table={table}"
    gw = Gateway(tmp_path, _config(echo, store))

    def cut() -> None:
        # Our own connections only: their last query names our table.
        with psycopg.connect("postgresql://postgres@127.0.0.1:5432/test", autocommit=True) as c:
            c.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE pid <> pg_backend_pid() AND query LIKE %s",
                (f"%{table}%",),
            )
            # ... and keep them from coming back for a while: every insert fails.
            c.execute(f"ALTER TABLE {table}_records ADD CONSTRAINT cg_block CHECK (false) NOT VALID")

    try:
        acked, statuses = _store_failure_run(gw.url, cut)
    finally:
        gw.close()
    try:
        with psycopg.connect("postgresql://postgres@127.0.0.1:5432/test", autocommit=True) as c:
            rows = c.execute(f"SELECT body FROM {table}_records").fetchall()
            recorded = request_ids([orjson.loads(bytes(b) if not isinstance(b, str) else b) for (b,) in rows])
    finally:
        with psycopg.connect("postgresql://postgres@127.0.0.1:5432/test", autocommit=True) as c:
            for suffix in ("_records", "_checkpoints", "_head", "_keys", "_meta", "_pruned"):
                c.execute(f"DROP TABLE IF EXISTS {table}{suffix}")
    print("postgres cut:", statuses)
    assert statuses.get(503, 0) > 0
    assert set(statuses) <= {200, 503}, statuses
    missing = acked - recorded
    assert not missing, f"{len(missing)} answers were released without a durable record"
