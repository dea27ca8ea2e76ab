"""A fleet: three `gateway serve` replicas behind Debian's nginx, one replica killed under load.

Shared state lives where a real fleet keeps it: rate limits in Redis (one tenant
bucket for all replicas), one audit log in PostgreSQL (every replica appends to
the same hash chain), policy from an OPA REST server (the stand-in of
tests/policies/opa_server.py). nginx is started by the test with its own config
on free ports; it tags each answer with the replica that produced it
(``X-Upstream``), so the test knows where every request went.

Under load from concurrent clients (some streaming), one replica gets SIGKILL.
Afterwards:
- the tenant's limit held across replicas (admitted requests <= what one
  bucket allows over the run; three separate buckets would allow ~3x);
- the audit log is one gap-free sequence and `audit verify` passes;
- every acknowledged request (a complete answer: a JSON body, a stream that
  reached [DONE], or a 429) has its audit record;
- only requests in flight on the killed replica failed: every failure went to
  that replica and was sent before it was gone (SIGKILL sent and the process
  reaped); requests sent after that all complete on the survivors.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import orjson
import psycopg
import pytest
import redis

from audit.keys import write_signing_key, write_subject_key
from gateway.auth.devkey import mint
from gateway.policy.bundle import default_bundle_dir
from tests.gateway.upstream_app import EchoUpstream
from tests.policies.opa_server import ThreadedOpaServer
from tests.servers import ServerThread, closed_port

ROOT = Path(__file__).resolve().parents[2]
PY = sys.executable
PG = "postgresql://postgres@127.0.0.1:5432/test"
TENANT_RPM = 90
CLIENTS = 12
NGINX = shutil.which("nginx") or "/usr/sbin/nginx"


def _nginx_conf(d: Path, port: int, replicas: list[int]) -> str:
    servers = "\n".join(f"    server 127.0.0.1:{p} max_fails=1 fail_timeout=30s;" for p in replicas)
    temp = "\n".join(
        f"  {k}_temp_path {d / k};" for k in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    return f"""
user root;
worker_processes 1;
daemon off;
pid {d / "nginx.pid"};
error_log {d / "error.log"} warn;
events {{ worker_connections 1024; }}
http {{
  log_format fleet '$msec $status $upstream_addr $upstream_status $request_time';
  access_log {d / "access.log"} fleet;
{temp}
  upstream gateways {{
{servers}
  }}
  server {{
    listen 127.0.0.1:{port};
    location / {{
      proxy_pass http://gateways;
      proxy_http_version 1.1;
      proxy_buffering off;
      proxy_read_timeout 30s;
      proxy_next_upstream error timeout;
      add_header X-Upstream $upstream_addr always;
    }}
  }}
}}
"""


def _wait_ready(
    url: str, proc: subprocess.Popen, log: Path, path: str = "/readyz", timeout: float = 120
) -> None:
    deadline = time.monotonic() + timeout
    while True:
        if proc.poll() is not None:
            raise RuntimeError(f"exited {proc.returncode}:\n{log.read_text()[-3000:]}")
        try:
            if httpx.get(url + path, timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline:
            raise TimeoutError(f"{url}{path} not ready:\n{log.read_text()[-3000:]}")
        time.sleep(0.1)


@dataclass
class Outcome:
    sent: float
    done: float
    status: int | None  # None: the client saw a transport error
    complete: bool
    rid: str | None
    upstream: str  # the last replica nginx tried ("" if none)


class Load:
    """CLIENTS threads posting through nginx, every 4th request streamed; every outcome kept."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.stop = threading.Event()
        self.outcomes: list[Outcome] = []
        self._lock = threading.Lock()
        self.threads = [threading.Thread(target=self._client, args=(c,), daemon=True) for c in range(CLIENTS)]

    def __enter__(self) -> Load:
        for t in self.threads:
            t.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        for t in self.threads:
            t.join(60)

    def count(self, pred: Any) -> int:
        with self._lock:
            return sum(1 for o in self.outcomes if pred(o))

    def _client(self, c: int) -> None:
        headers = {"Authorization": "Bearer " + mint(f"agent-{c}", "acme", ["user"])}
        i = 0
        with httpx.Client(timeout=httpx.Timeout(30.0, connect=5.0)) as client:
            while not self.stop.is_set():
                i += 1
                stream = i % 4 == 0
                body = {
                    "model": "tiny-llama",
                    "stream": stream,
                    "max_tokens": 16,
                    "messages": [
                        {"role": "user", "content": f"ticket {c}-{i}: reach me at jane.roe@example.com"}
                    ],
                }
                sent = time.monotonic()
                status, data, rid, upstream = None, b"", None, ""
                try:
                    with client.stream(
                        "POST", f"{self.url}/v1/chat/completions", headers=headers, json=body
                    ) as r:
                        status = r.status_code
                        rid = r.headers.get("x-request-id")
                        upstream = r.headers.get("x-upstream", "").split(",")[-1].strip()
                        data = r.read()
                except httpx.HTTPError:
                    pass
                if status == 200:
                    complete = data.rstrip().endswith(b"data: [DONE]") if stream else b'"choices"' in data
                else:
                    complete = status == 429 and b'"error"' in data
                with self._lock:
                    self.outcomes.append(Outcome(sent, time.monotonic(), status, complete, rid, upstream))
                if status == 429:
                    time.sleep(0.02)


@pytest.fixture
def fleet(tmp_path):
    tag = uuid.uuid4().hex[:10]
    table, prefix = f"cg_fleet_{tag}", f"cg:rl:fleet-{tag}:"
    store = f"{PG}?table={table}"
    signing, subject = tmp_path / "signing.pem", tmp_path / "subject.key"
    write_signing_key(signing)
    write_subject_key(subject)
    procs: list[subprocess.Popen] = []
    with ServerThread(EchoUpstream()) as up, ThreadedOpaServer(str(default_bundle_dir())) as opa:
        try:
            replicas = []
            for n in range(3):
                port = closed_port()
                cfg = {
                    "server": {"port": port, "shutdown_grace_s": 5},
                    "upstreams": [{"name": "echo", "url": up.url, "labels": {"region": "eu"}}],
                    "plugins": ["auth", "ratelimit", "pii", "policy", "audit"],
                    "rate_limit": {
                        "backend": "redis",
                        "key_prefix": prefix,
                        "subject": {"requests_per_minute": 100_000, "tokens_per_minute": 10**9},
                        "tenants": {"acme": {"requests_per_minute": TENANT_RPM, "tokens_per_minute": 10**9}},
                    },
                    "audit": {
                        "store": store,
                        "signing_key_file": str(signing),
                        "subject_key_file": str(subject),
                        "checkpoint_seconds": 0.5,
                    },
                    "pii": {"ner": {"enabled": False}},
                    "policy": {"mode": "opa", "opa_url": opa.url},
                }
                path, log = tmp_path / f"gw{n}.yaml", tmp_path / f"gw{n}.log"
                path.write_text(json.dumps(cfg))
                p = subprocess.Popen(
                    [PY, "-m", "gateway", "serve", "--config", str(path), "--log-level", "warning"],
                    cwd=ROOT,
                    env={**os.environ, "PYTHONPATH": str(ROOT)},
                    stdout=open(log, "ab"),
                    stderr=subprocess.STDOUT,
                )
                procs.append(p)
                replicas.append({"port": port, "proc": p, "log": log, "addr": f"127.0.0.1:{port}"})
            for r in replicas:
                _wait_ready(f"http://127.0.0.1:{r['port']}", r["proc"], r["log"])
            ng_dir = tmp_path / "nginx"
            ng_dir.mkdir()
            lb_port = closed_port()
            (ng_dir / "nginx.conf").write_text(_nginx_conf(ng_dir, lb_port, [r["port"] for r in replicas]))
            ng_log = ng_dir / "stdout.log"
            ng = subprocess.Popen(
                [NGINX, "-p", str(ng_dir), "-c", str(ng_dir / "nginx.conf")],
                stdout=open(ng_log, "ab"),
                stderr=subprocess.STDOUT,
            )
            procs.append(ng)
            _wait_ready(f"http://127.0.0.1:{lb_port}", ng, ng_log, path="/healthz", timeout=30)
            yield {
                "lb": f"http://127.0.0.1:{lb_port}",
                "replicas": replicas,
                "store": store,
                "table": table,
                "signing": signing,
                "nginx_dir": ng_dir,
            }
        finally:
            for p in procs:
                if p.poll() is None:
                    p.send_signal(signal.SIGTERM)
            for p in procs:
                try:
                    p.wait(20)
                except subprocess.TimeoutExpired:
                    p.kill()
            r = redis.Redis.from_url("redis://127.0.0.1:6379/0")
            for k in r.scan_iter(match=prefix + "*"):
                r.delete(k)
            with psycopg.connect(PG, autocommit=True) as c:
                for suffix in ("_records", "_checkpoints", "_head", "_keys", "_meta", "_pruned"):
                    c.execute(f"DROP TABLE IF EXISTS {table}{suffix}")


def test_fleet_survives_a_killed_replica_with_one_limit_and_one_gap_free_audit_log(fleet):
    replicas = fleet["replicas"]
    victim = replicas[1]
    t_first = time.monotonic()
    with Load(fleet["lb"]) as load:
        # Warm up until every replica has answered, then kill one while requests are in flight on it.
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not all(
            load.count(lambda o, a=r["addr"]: o.upstream == a and o.complete) >= 5 for r in replicas
        ):
            time.sleep(0.05)
        t_kill = time.monotonic()
        victim["proc"].send_signal(signal.SIGKILL)
        victim["proc"].wait(10)
        t_dead = time.monotonic()  # until here the victim could still accept connections
        time.sleep(4.0)  # the survivors carry the load
    t_last = max(o.done for o in load.outcomes)
    # The survivors stop cleanly (they sign the audit tail, the victim's records included).
    for r in replicas:
        if r is not victim:
            r["proc"].send_signal(signal.SIGTERM)
    for r in replicas:
        if r is not victim:
            assert r["proc"].wait(30) == 0, r["log"].read_text()[-3000:]

    outcomes = list(load.outcomes)
    by_status: dict[Any, int] = {}
    for o in outcomes:
        by_status[o.status] = by_status.get(o.status, 0) + 1
    summary = f"statuses {by_status}, {len(outcomes)} requests"
    served = {
        r["addr"]: sum(1 for o in outcomes if o.upstream == r["addr"] and o.status == 200) for r in replicas
    }
    assert all(served[r["addr"]] > 0 for r in replicas), (served, summary)

    # 1. One tenant limit across the replicas: one token bucket (capacity TENANT_RPM, TENANT_RPM/60 per s).
    admitted = sum(1 for o in outcomes if o.status == 200)
    allowed = TENANT_RPM + (t_last - t_first) * TENANT_RPM / 60 + 1
    assert by_status.get(429, 0) > 0, summary
    assert admitted <= allowed, f"{admitted} admitted, one shared bucket allows {allowed:.0f}: {summary}"

    # 2. Only requests in flight on the killed replica failed.
    failed = [o for o in outcomes if not o.complete]
    assert failed, f"the kill hit no request in flight: {summary}"
    assert all(o.status in (200, 502) for o in failed), summary
    wrong = [o for o in failed if o.upstream != victim["addr"] or o.sent > t_dead]
    assert not wrong, f"{len(wrong)} failures not in flight on the killed replica: {wrong[:3]}"
    assert len(failed) <= CLIENTS
    after = [o for o in outcomes if o.sent > t_dead + 0.5]
    assert after and all(o.complete for o in after), summary

    # 3. One gap-free audit log that verifies, 4. with a record for every acknowledged request.
    with psycopg.connect(PG, autocommit=True) as c:
        rows = c.execute(f"SELECT seq, body FROM {fleet['table']}_records ORDER BY seq").fetchall()
    seqs = [s for s, _ in rows]
    assert seqs == list(range(seqs[0], seqs[0] + len(seqs))), "the audit sequence has gaps or repeats"
    bodies = [orjson.loads(bytes(b) if not isinstance(b, str) else b) for _, b in rows]
    recorded = {b["payload"]["request_id"] for b in bodies if b.get("type") == "gateway.request"}
    acked = {o.rid for o in outcomes if o.complete and o.rid}
    assert len(acked) == sum(1 for o in outcomes if o.complete)
    missing = acked - recorded
    assert not missing, f"{len(missing)} acknowledged requests have no audit record ({summary})"
    assert "jane.roe@example.com" not in json.dumps(bodies)
    v = subprocess.run(
        [PY, "-m", "audit", "verify", "--store", fleet["store"], "--public-key", str(fleet["signing"])],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert v.returncode == 0, v.stdout + v.stderr
    before = sum(1 for o in failed if o.sent <= t_kill)
    print(
        f"fleet: {summary}; served {served}; {len(failed)} failed ({before} sent before the SIGKILL), all in "
        "flight on the killed replica; "
        f"{len(acked)} acknowledged, all recorded in {len(rows)} audit records"
    )
