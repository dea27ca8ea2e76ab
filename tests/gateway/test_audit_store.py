"""The gateway writing to the real audit log (SQLite and PostgreSQL), verified with `audit verify`."""

from __future__ import annotations

import subprocess
import sys
import time
import uuid

import httpx
import orjson
import psycopg

from tests.gateway.conftest import auth

CHAT = {"model": "echo-1", "messages": [{"role": "user", "content": "call me at alice@example.org"}]}


def _verify(store: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "audit", "verify", "--store", store], capture_output=True, text=True
    )


def _export(store: str) -> list[dict]:
    out = subprocess.run(
        [sys.executable, "-m", "audit", "export", "--store", store, "--format", "jsonl"],
        capture_output=True,
        text=True,
        check=True,
    )
    lines = [orjson.loads(x) for x in out.stdout.splitlines() if x.strip()]
    return [orjson.loads(r["body"]) for r in lines if r.get("kind") == "record"]


def test_sqlite_store_records_every_request_and_verifies(upstream, gateway_factory, token, tmp_path):
    _, up_url = upstream
    store = f"sqlite:///{tmp_path / 'audit.db'}"
    url, _ = gateway_factory(upstreams=[{"name": "u", "url": up_url}], audit={"store": store})
    for _ in range(5):
        assert httpx.post(f"{url}/v1/chat/completions", json=CHAT, headers=auth(token)).status_code == 200
    assert httpx.post(f"{url}/v1/chat/completions", json=CHAT).status_code == 401
    time.sleep(0.5)
    records = [r for r in _export(store) if r.get("type") == "gateway.request"]
    assert len(records) == 6
    assert sorted(r["payload"]["status"] for r in records) == [200] * 5 + [401]
    raw = orjson.dumps(records)
    assert b"alice@example.org" not in raw
    v = _verify(store)
    assert v.returncode == 0, v.stdout + v.stderr


def test_postgres_store_two_replicas_one_log(upstream, gateway_factory, token):
    _, up_url = upstream
    table = f"cg_gw_{uuid.uuid4().hex[:10]}"
    store = f"postgresql://postgres@127.0.0.1:5432/test?table={table}"
    try:
        url1, _ = gateway_factory(upstreams=[{"name": "u", "url": up_url}], audit={"store": store})
        url2, _ = gateway_factory(upstreams=[{"name": "u", "url": up_url}], audit={"store": store})
        for i in range(10):
            u = url1 if i % 2 else url2
            assert httpx.post(f"{u}/v1/chat/completions", json=CHAT, headers=auth(token)).status_code == 200
        time.sleep(0.5)
        records = [r for r in _export(store) if r.get("type") == "gateway.request"]
        assert len(records) == 10
        v = _verify(store)
        assert v.returncode == 0, v.stdout + v.stderr
    finally:
        with psycopg.connect("postgresql://postgres@127.0.0.1:5432/test", autocommit=True) as conn:
            rows = conn.execute(
                "select tablename from pg_tables where tablename like %s", (table + "%",)
            ).fetchall()
            for (t,) in rows:
                conn.execute(f'drop table if exists "{t}" cascade')
