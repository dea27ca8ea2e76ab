"""Through a real gateway (auth, pii, policy, audit to SQLite) and a real upstream:

- the shipped policy's Chinese-ID rule fires on what the PII engine really emits:
  a checksum-valid resident ID from a tenant without ``kyc`` gets 403 and never
  reaches the model server; a tenant with ``kyc`` passes (redacted);
- a model name that no upstream lists (a ``*`` route) is client input: it is
  kept only in the record's encrypted personal part (readable in the subject's
  access report), never in the plain payload or the policy's audited input, and
  a model name that holds personal data is refused before the model server.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import orjson

from gateway.auth.devkey import mint

RID = "11010519491231002X"  # GB 11643 check digit valid


def _records(store: str, at_least: int) -> list[dict[str, Any]]:
    deadline = time.monotonic() + 10
    while True:
        out = subprocess.run(
            [
                sys.executable,
                "-m",
                "audit",
                "export",
                "--store",
                store,
                "--format",
                "jsonl",
                "--type",
                "gateway.request",
            ],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        recs = [orjson.loads(orjson.loads(x)["body"]) for x in out.splitlines() if '"kind":"record"' in x]
        if len(recs) >= at_least or time.monotonic() > deadline:
            return recs
        time.sleep(0.2)


def _h(subject: str, tenant: str) -> dict[str, str]:
    return {"Authorization": "Bearer " + mint(subject, tenant, ["user"])}


def test_resident_id_without_kyc_is_denied_before_the_model_server(upstream, gateway_factory, tmp_path: Path):
    up, up_url = upstream
    store = f"sqlite:///{tmp_path / 'audit.db'}"
    url, _ = gateway_factory(
        upstreams=[
            {"name": "us-gpu", "url": up_url, "models": ["qwen2.5-7b-instruct"], "labels": {"region": "us"}},
            {"name": "cn-gpu", "url": up_url, "models": ["qwen-cn"], "labels": {"region": "cn"}},
        ],
        plugins=["auth", "pii", "policy", "audit"],
        pii={"ner": {"enabled": False}},
        policy={"reload_interval_s": 0},
        audit={"store": store},
    )
    ask = {
        "model": "qwen2.5-7b-instruct",
        "messages": [{"role": "user", "content": f"我的身份证号是 {RID}，请核对"}],
    }
    r = httpx.post(f"{url}/v1/chat/completions", json=ask, headers=_h("bob", "globex"))
    assert r.status_code == 403, r.text
    err = r.json()["error"]
    assert (
        err["type"] == "permission_error" and "CN_RESIDENT_ID" in err["message"] and "kyc" in err["message"]
    )
    assert RID not in r.text and up.received == []
    # The same tenant without the ID is served; a tenant with kyc is served, the ID redacted.
    clean = {**ask, "messages": [{"role": "user", "content": "请核对我的订单"}]}
    assert (
        httpx.post(f"{url}/v1/chat/completions", json=clean, headers=_h("bob", "globex")).status_code == 200
    )
    r = httpx.post(
        f"{url}/v1/chat/completions", json={**ask, "model": "qwen-cn"}, headers=_h("li", "zhongbank")
    )
    assert r.status_code == 200, r.text
    assert RID not in orjson.dumps(up.received[-1]).decode() and "<CN_RESIDENT_ID_1>" in str(up.received[-1])
    recs = _records(store, 3)
    denied = recs[0]["payload"]
    assert denied["status"] == 403 and denied["pii"] == {"CN_RESIDENT_ID": 1}
    assert any("CN_RESIDENT_ID" in reason for reason in denied["deny_reasons"])
    assert RID.encode() not in b"".join(p.read_bytes() for p in tmp_path.glob("audit.db*"))


def test_unlisted_model_names_stay_out_of_the_plain_audit_record(upstream, gateway_factory, tmp_path: Path):
    up, up_url = upstream
    store = f"sqlite:///{tmp_path / 'audit.db'}"
    url, _ = gateway_factory(
        upstreams=[{"name": "eu-gpu", "url": up_url, "models": ["echo-1", "*"], "labels": {"region": "eu"}}],
        plugins=["auth", "pii", "policy", "audit"],
        pii={"ner": {"enabled": False}},
        policy={"reload_interval_s": 0},
        audit={"store": store},
    )
    h = _h("alice", "acme")
    private, denied_name, email = "acme-finetune-zq7x", "zq7x-jailbreak-v2", "maria.gonzalez@example.com"
    msg = [{"role": "user", "content": "hello"}]
    assert (
        httpx.post(
            f"{url}/v1/chat/completions", json={"model": "echo-1", "messages": msg}, headers=h
        ).status_code
        == 200
    )
    r = httpx.post(f"{url}/v1/chat/completions", json={"model": private, "messages": msg}, headers=h)
    assert r.status_code == 200 and up.received[-1]["model"] == private
    r = httpx.post(f"{url}/v1/chat/completions", json={"model": denied_name, "messages": msg}, headers=h)
    assert r.status_code == 403 and denied_name in r.json()["error"]["message"]  # the caller may see it
    n = len(up.received)
    r = httpx.post(f"{url}/v1/chat/completions", json={"model": email, "messages": msg}, headers=h)
    assert r.status_code == 400 and r.json()["error"]["code"] == "personal_data_in_model"
    assert email not in r.text and len(up.received) == n
    recs = _records(store, 4)
    by_status = [(rec["payload"]["status"], rec["payload"]) for rec in recs]
    assert [s for s, _ in by_status] == [200, 200, 403, 400]
    assert by_status[0][1]["model"] == "echo-1" and "model_configured" not in by_status[0][1]
    for _, p in by_status[1:]:
        assert p["model"] is None and p["model_configured"] is False
    assert by_status[1][1]["policy"]["input"]["model"] is None and by_status[1][1]["policy"]["model_redacted"]
    assert by_status[2][1]["deny_reasons"] == [
        "model <model> is denied: fine-tunes named as jailbreaks are not allowed"
    ]
    plain = orjson.dumps(recs).decode()
    raw = b"".join(p.read_bytes() for p in tmp_path.glob("audit.db*"))
    for name in (private, denied_name, email):
        assert name not in plain and name.encode() not in raw
    # Kept, encrypted, for the data subject: their access report has it.
    access = subprocess.run(
        [
            sys.executable,
            "-m",
            "audit",
            "export",
            "--store",
            store,
            "--report",
            "access",
            "--subject",
            "alice",
            "--format",
            "jsonl",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    assert private in access.stdout
