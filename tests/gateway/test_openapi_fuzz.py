"""The gateway's own OpenAPI document, and schemathesis fuzzing a live gateway against it.

schemathesis (pinned in the dev extra) reads ``/openapi.json`` from a real gateway on loopback
(auth, rate limit, PII, audit on a real echo model server) and sends well-formed and malformed
requests to every route: none may get a 500 or hang.
"""

from __future__ import annotations

import re
import subprocess
import sys

import httpx
import orjson

from gateway.hosts.proxy.openapi import build_document
from tests.gateway.conftest import auth

MIN_CASES = 1000


def test_openapi_document_describes_routes_and_request_shapes(upstream, gateway_factory) -> None:
    _, up_url = upstream
    url, _ = gateway_factory(upstreams=[{"name": "u", "url": up_url}])
    r = httpx.get(f"{url}/openapi.json")
    assert r.status_code == 200 and r.headers["content-type"] == "application/json"
    doc = r.json()
    assert doc == orjson.loads(orjson.dumps(build_document()))
    assert doc["openapi"].startswith("3.1")
    for path in (
        "/v1/chat/completions",
        "/v1/completions",
        "/v1/embeddings",
        "/v1/models",
        "/healthz",
        "/readyz",
    ):
        assert path in doc["paths"], path
    chat = doc["components"]["schemas"]["ChatCompletionRequest"]
    assert set(chat["required"]) == {"model", "messages"}
    assert "415" in doc["paths"]["/v1/chat/completions"]["post"]["responses"]


def test_schemathesis_finds_no_500_and_no_hang(upstream, gateway_factory, token, tmp_path) -> None:
    _, up_url = upstream
    url, _ = gateway_factory(
        upstreams=[{"name": "u", "url": up_url, "timeouts": {"first_byte": 5, "total": 10}}],
        plugins=["auth", "ratelimit", "pii", "audit"],
        rate_limit={
            "tenant": {"requests_per_minute": 10**6, "tokens_per_minute": 10**9},
            "subject": {"requests_per_minute": 10**6, "tokens_per_minute": 10**9},
        },
    )
    cmd = [
        sys.executable,
        "-c",
        "import sys; from schemathesis.cli import schemathesis; sys.exit(schemathesis())",
        "run",
        f"{url}/openapi.json",
        "--header",
        f"Authorization: Bearer {token}",
        "--phases",
        "coverage,fuzzing",
        "--max-examples",
        "170",
        "--generation-deterministic",
        "--checks",
        "not_a_server_error",
        "--request-timeout",
        "10",
        "--no-color",
    ]
    out = subprocess.run(
        cmd, capture_output=True, text=True, timeout=240, cwd=tmp_path
    )  # its .schemathesis/ cache
    text = out.stdout + out.stderr
    m = re.search(r"(\d+) generated", text)
    cases = int(m.group(1)) if m else 0
    print(f"schemathesis ran {cases} generated cases against the live gateway")
    assert out.returncode == 0, text[-6000:]
    assert cases >= MIN_CASES, text[-3000:]
    # The gateway still answers after the fuzzing.
    r = httpx.post(
        f"{url}/v1/chat/completions",
        headers=auth(token),
        json={"model": "echo-1", "messages": [{"role": "user", "content": "hi"}]},
    )
    assert r.status_code == 200
