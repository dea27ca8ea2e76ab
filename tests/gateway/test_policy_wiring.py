"""The policy stage inside the real gateway: decisions, obligations, reload events in the audit log."""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
from pathlib import Path

import httpx
import orjson

from gateway.auth.devkey import mint
from gateway.policy.bundle import default_bundle_dir

CHAT = {"model": "echo-1", "messages": [{"role": "user", "content": "hello"}]}


def _records(store: str) -> list[dict]:
    out = subprocess.run(
        [sys.executable, "-m", "audit", "export", "--store", store, "--format", "jsonl"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return [orjson.loads(orjson.loads(x)["body"]) for x in out.splitlines() if '"kind":"record"' in x]


def test_policy_decides_caps_tokens_and_audits_reload(upstream, gateway_factory, tmp_path: Path):
    up, up_url = upstream
    bundle = tmp_path / "bundle"
    shutil.copytree(default_bundle_dir(), bundle)
    store = f"sqlite:///{tmp_path / 'audit.db'}"
    url, _ = gateway_factory(
        upstreams=[{"name": "u", "url": up_url, "labels": {"region": "eu"}}],
        plugins=["auth", "policy", "audit"],
        policy={"bundle_dir": str(bundle), "reload_interval_s": 0.2},
        audit={"store": store},
    )
    h = {"Authorization": "Bearer " + mint("alice", "acme", ["user"])}
    r = httpx.post(f"{url}/v1/chat/completions", json={**CHAT, "max_tokens": 100000}, headers=h)
    assert r.status_code == 200, r.text
    assert up.received[-1]["max_tokens"] < 100000  # the max_tokens obligation capped it
    r = httpx.post(f"{url}/v1/chat/completions", json={**CHAT, "model": "llama-2-7b-uncensored"}, headers=h)
    assert r.status_code == 403 and r.json()["error"]["type"] == "permission_error"
    # A broken bundle is rejected, the old one keeps serving, and the rejection is audited.
    rego = next(bundle.glob("gateway/models.rego"))
    rego.write_text(rego.read_text() + "\nthis is not rego {\n")
    time.sleep(1.5)
    assert httpx.post(f"{url}/v1/chat/completions", json=CHAT, headers=h).status_code == 200
    time.sleep(0.5)
    types = [r["type"] for r in _records(store)]
    assert "policy.reload" in types, types
    reqs = [r for r in _records(store) if r["type"] == "gateway.request"]
    assert any(r["payload"].get("policy") for r in reqs)
    m = httpx.get(f"{url}/metrics").text
    assert "gateway_requests_total" in m
