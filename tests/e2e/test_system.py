"""The whole system as an operator runs it: processes, not objects.

`gateway dev-upstream --model tiny` (a real transformers model on CPU) and
`gateway serve` with the full chain (auth, rate limit, PII, policy, audit on
SQLite) as subprocesses on loopback; then `audit verify` over what they wrote.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from gateway.auth.devkey import mint
from tests.servers import closed_port

PY = sys.executable
SECRET_EMAIL = "maria.gonzalez@example.com"
SECRET_PHONE = "13812345678"


def _wait(url: str, proc: subprocess.Popen, log: Path, timeout: float = 120) -> None:
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        if proc.poll() is not None:
            raise RuntimeError(f"process exited ({proc.returncode}):\n{log.read_text()[-3000:]}")
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise TimeoutError(f"{url} not ready:\n{log.read_text()[-3000:]}")


@pytest.fixture(scope="module")
def system(tmp_path_factory) -> Iterator[dict]:
    d = tmp_path_factory.mktemp("e2e")
    env = {**os.environ, "CG_HOME": os.environ["CG_HOME"]}
    up_port, gw_port = closed_port(), closed_port()
    procs = []
    up_log, gw_log = d / "upstream.log", d / "gateway.log"
    try:
        up = subprocess.Popen(
            [PY, "-m", "gateway", "dev-upstream", "--model", "tiny", "--port", str(up_port)],
            env=env,
            stdout=open(up_log, "w"),
            stderr=subprocess.STDOUT,
        )
        procs.append(up)
        _wait(f"http://127.0.0.1:{up_port}/health", up, up_log)
        store = f"sqlite:///{d / 'audit.db'}"
        cfg = {
            "server": {"port": gw_port},
            "upstreams": [{"name": "dev", "url": f"http://127.0.0.1:{up_port}", "labels": {"region": "eu"}}],
            "plugins": ["auth", "ratelimit", "pii", "policy", "audit"],
            "audit": {"store": store, "checkpoint_seconds": 0.5},
            "pii": {"ner": {"enabled": False}},
        }
        (d / "gateway.yaml").write_text(json.dumps(cfg))
        gw = subprocess.Popen(
            [PY, "-m", "gateway", "serve", "--config", str(d / "gateway.yaml")],
            env=env,
            stdout=open(gw_log, "w"),
            stderr=subprocess.STDOUT,
        )
        procs.append(gw)
        _wait(f"http://127.0.0.1:{gw_port}/readyz", gw, gw_log)
        yield {
            "gw": f"http://127.0.0.1:{gw_port}",
            "up": f"http://127.0.0.1:{up_port}",
            "store": store,
            "dir": d,
            "gw_log": gw_log,
        }
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            try:
                p.wait(timeout=15)
            except subprocess.TimeoutExpired:
                p.kill()


def _auth(**claims) -> dict[str, str]:
    return {"Authorization": "Bearer " + mint("cust-4711", "acme", ["user"], extra=claims or None)}


def test_pii_never_reaches_the_model_server_and_is_audited(system):
    body = {
        "model": "tiny-llama",
        "max_tokens": 8,
        "messages": [
            {"role": "system", "content": "You help customers."},
            {"role": "user", "content": f"My email is {SECRET_EMAIL} and my phone is {SECRET_PHONE}."},
        ],
    }
    r = httpx.post(f"{system['gw']}/v1/chat/completions", json=body, headers=_auth(), timeout=60)
    assert r.status_code == 200, r.text
    received = httpx.get(f"{system['up']}/debug/requests").json()
    seen = json.dumps(received, ensure_ascii=False)
    assert SECRET_EMAIL not in seen and SECRET_PHONE not in seen
    assert "You help customers." in seen  # non-PII text is untouched
    metrics = httpx.get(f"{system['gw']}/metrics").text
    assert 'gateway_pii_entities_total{entity_type="EMAIL_ADDRESS",tenant="acme"}' in metrics
    assert SECRET_EMAIL not in metrics


def test_streaming_through_the_full_chain(system):
    body = {
        "model": "tiny-llama",
        "max_tokens": 6,
        "stream": True,
        "messages": [{"role": "user", "content": f"write to {SECRET_EMAIL}"}],
    }
    with httpx.stream(
        "POST", f"{system['gw']}/v1/chat/completions", json=body, headers=_auth(), timeout=60
    ) as r:
        assert r.status_code == 200
        lines = [ln for ln in r.iter_lines() if ln.startswith("data: ")]
    assert lines[-1] == "data: [DONE]" and len(lines) >= 2


def test_policy_denies_with_reasons(system):
    body = {"model": "llama-2-7b-uncensored", "messages": [{"role": "user", "content": "hi"}]}
    r = httpx.post(f"{system['gw']}/v1/chat/completions", json=body, headers=_auth(), timeout=30)
    assert r.status_code == 403, r.text
    assert "deny list" in r.json()["error"]["message"]


def test_audit_log_verifies_and_holds_no_raw_pii(system):
    time.sleep(1.5)  # the gateway's writer signs a checkpoint once records sat unsigned for 0.5 s
    v = subprocess.run(
        [PY, "-m", "audit", "verify", "--store", system["store"]], capture_output=True, text=True
    )
    assert v.returncode == 0, v.stdout + v.stderr
    out = subprocess.run(
        [PY, "-m", "audit", "export", "--store", system["store"], "--format", "jsonl"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    records = [json.loads(json.loads(x)["body"]) for x in out.splitlines() if '"kind":"record"' in x]
    reqs = [r for r in records if r["type"] == "gateway.request"]
    assert len(reqs) >= 3
    assert any(r["payload"]["pii"].get("EMAIL_ADDRESS") for r in reqs)
    assert any(r["payload"]["status"] == 403 for r in reqs)
    for blob in (
        out,
        (system["dir"] / "audit.db").read_bytes().decode("latin-1"),
        system["gw_log"].read_text(),
    ):
        assert SECRET_EMAIL not in blob and SECRET_PHONE not in blob and "cust-4711" not in blob
