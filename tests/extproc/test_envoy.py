"""The chain inside a real Envoy (ext_proc), in front of a real model server.

One Envoy and one `gateway extproc` process serve the whole module (the chain takes
seconds to import); the test that kills the processor runs last.
"""

from __future__ import annotations

import gzip
import json
import subprocess
import sys
import time

import httpx
import openai
import orjson
import pytest

from gateway.auth.devkey import mint
from tests.extproc.conftest import Stack, bearer

EMAIL = "li.wei@example.com"
PHONE = "13812345678"


def chat(text: str, **extra: object) -> dict[str, object]:
    return {"model": "echo-1", "messages": [{"role": "user", "content": text}], **extra}


def records(store: str) -> list[dict]:
    out = subprocess.run(
        [sys.executable, "-m", "audit", "export", "--store", store, "--format", "jsonl"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return [orjson.loads(orjson.loads(x)["body"]) for x in out.splitlines() if '"kind":"record"' in x]


def request_records(store: str, ids: set[str], timeout: float = 10.0) -> list[dict]:
    deadline = time.monotonic() + timeout
    while True:
        got = [
            r for r in records(store) if r["type"] == "gateway.request" and r["payload"]["request_id"] in ids
        ]
        if len({r["payload"]["request_id"] for r in got}) >= len(ids) or time.monotonic() > deadline:
            return got
        time.sleep(0.1)


def test_pii_redacted_in_and_restored_out(stack: Stack, token: str) -> None:
    r = httpx.post(
        f"{stack.url}/v1/chat/completions",
        json=chat(f"mail {EMAIL} or call {PHONE}"),
        headers=bearer(token),
        timeout=30,
    )
    assert r.status_code == 200, r.text
    seen = stack.upstream.received[-1]["messages"][0]["content"]
    assert EMAIL not in seen and PHONE not in seen and "<EMAIL_ADDRESS_1>" in seen, seen
    assert r.json()["choices"][0]["message"]["content"] == f"echo says: mail {EMAIL} or call {PHONE}"
    assert int(r.headers["content-length"]) == len(r.content)
    timing = r.headers["server-timing"]
    assert "pii;dur=" in timing and "policy;dur=" in timing and "upstream_ttfb;dur=" in timing, timing
    # The caller's credential is not passed on to the model server.
    assert "authorization" not in stack.upstream.headers[-1]
    assert stack.upstream.headers[-1]["x-request-id"] == r.headers["x-request-id"]


def test_chunked_request_body_is_screened_whole(stack: Stack, token: str) -> None:
    raw = orjson.dumps(chat(f"mail {EMAIL} now"))

    def pieces():  # no content-length: HTTP/1.1 chunked, cut inside the e-mail address
        cut = raw.index(b"@")
        yield raw[:cut]
        yield raw[cut:]

    r = httpx.post(
        f"{stack.url}/v1/chat/completions",
        content=pieces(),
        headers={**bearer(token), "content-type": "application/json"},
        timeout=30,
    )
    assert r.status_code == 200, r.text
    assert EMAIL not in json.dumps(stack.upstream.received[-1])
    assert r.json()["choices"][0]["message"]["content"] == f"echo says: mail {EMAIL} now"


def test_stream_restores_placeholders_split_across_chunks(stack: Stack, token: str) -> None:
    text = f"write to {EMAIL}, {PHONE} or {EMAIL}"
    chunks: list[bytes] = []
    with httpx.stream(
        "POST",
        f"{stack.url}/v1/chat/completions",
        json=chat(text, stream=True),
        headers=bearer(token),
        timeout=30,
    ) as s:
        assert s.status_code == 200
        assert s.headers["content-type"].startswith("text/event-stream")
        for c in s.iter_raw():
            chunks.append(c)
    seen = stack.upstream.received[-1]
    assert EMAIL not in json.dumps(seen) and seen["stream_options"] == {"include_usage": True}
    body = b"".join(chunks).decode()
    events = [json.loads(ln[6:]) for ln in body.split("\n") if ln.startswith("data: {")]
    out = "".join(c["delta"].get("content") or "" for e in events for c in e.get("choices", []))
    assert out == f"echo says: {text}"
    assert body.rstrip().endswith("data: [DONE]")
    assert not any("usage" in e for e in events)  # the usage chunk we asked for is stripped
    assert len(chunks) > 3  # it really streamed, it was not buffered whole


def test_policy_denial_never_reaches_the_model_server(stack: Stack, token: str) -> None:
    before = len(stack.upstream.received)
    r = httpx.post(
        f"{stack.url}/v1/chat/completions",
        json={**chat("hi"), "model": "llama-2-7b-uncensored"},
        headers=bearer(token),
        timeout=30,
    )
    assert r.status_code == 403, r.text
    assert r.json()["error"]["type"] == "permission_error"
    assert "x-request-id" in r.headers
    assert len(stack.upstream.received) == before


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer not.a.jwt"},
        {"Authorization": "Basic eDp5"},
        {"Authorization": "Bearer " + mint("alice", "acme", ["user"], ttl=-120)},
    ],
)
def test_missing_or_bad_token_is_401(stack: Stack, headers: dict[str, str]) -> None:
    before = len(stack.upstream.received)
    r = httpx.post(f"{stack.url}/v1/chat/completions", json=chat(EMAIL), headers=headers, timeout=30)
    assert r.status_code == 401, r.text
    assert r.json()["error"]["type"] == "authentication_error"
    assert r.headers["www-authenticate"].startswith("Bearer")
    assert EMAIL not in r.text
    assert len(stack.upstream.received) == before


def test_rate_limited_is_429_with_retry_after(stack: Stack) -> None:
    tok = mint("bob", "initech", ["user"])
    codes = []
    for _ in range(3):
        r = httpx.post(f"{stack.url}/v1/chat/completions", json=chat("hi"), headers=bearer(tok), timeout=30)
        codes.append(r.status_code)
    assert codes[:2] == [200, 200] and codes[2] == 429, codes
    assert int(r.headers["retry-after"]) >= 1
    assert any(k.startswith("x-ratelimit-") for k in r.headers)
    assert r.json()["error"]["type"] == "rate_limit_error"


def test_bad_bodies_are_refused_and_never_forwarded(stack: Stack, token: str) -> None:
    before = len(stack.upstream.received)
    url = f"{stack.url}/v1/chat/completions"
    big = chat("x" * 70_000)
    r = httpx.post(url, json=big, headers=bearer(token), timeout=30)
    assert r.status_code == 413 and r.json()["error"]["code"] == "payload_too_large", r.text
    gz = gzip.compress(orjson.dumps(chat(EMAIL)))
    r = httpx.post(
        url,
        content=gz,
        headers={**bearer(token), "content-type": "application/json", "content-encoding": "gzip"},
        timeout=30,
    )
    assert r.status_code == 415, r.text
    r = httpx.post(
        url,
        content=b"model=echo-1&prompt=" + EMAIL.encode(),
        headers={**bearer(token), "content-type": "application/x-www-form-urlencoded"},
        timeout=30,
    )
    assert r.status_code == 415, r.text
    r = httpx.post(
        url,
        content=b"{not json " + EMAIL.encode(),
        headers={**bearer(token), "content-type": "application/json"},
        timeout=30,
    )
    assert r.status_code == 400 and r.json()["error"]["type"] == "invalid_request_error", r.text
    assert EMAIL not in r.text
    r = httpx.post(url, headers=bearer(token), timeout=30)  # no body at all
    assert r.status_code == 400, r.text
    r = httpx.get(url, headers=bearer(token), timeout=30)
    assert r.status_code == 405, r.text
    r = httpx.post(f"{stack.url}/v1/files", json={}, headers=bearer(token), timeout=30)
    assert r.status_code == 404, r.text
    assert len(stack.upstream.received) == before


def test_upstream_errors_become_openai_errors(stack: Stack, token: str) -> None:
    url = f"{stack.url}/v1/chat/completions"
    try:
        stack.upstream.fail_status = 500  # the model server failing: 502, its body not passed on
        r = httpx.post(url, json=chat(EMAIL), headers=bearer(token), timeout=30)
        assert r.status_code == 502 and r.json()["error"]["type"] == "upstream_error", r.text
        stack.upstream.fail_status = 400  # its own complaint about the request: passed on as is
        r = httpx.post(url, json=chat(EMAIL), headers=bearer(token), timeout=30)
        assert r.status_code == 400 and r.json()["error"]["message"] == "upstream failure", r.text
    finally:
        stack.upstream.fail_status = None
    recs = request_records(stack.store, {r.headers["x-request-id"]})
    assert recs and recs[0]["payload"]["status"] == 400


def test_openai_sdk_through_envoy(stack: Stack, token: str) -> None:
    client = openai.OpenAI(base_url=f"{stack.url}/v1", api_key=token, max_retries=0)
    out = client.chat.completions.create(
        model="echo-1", messages=[{"role": "user", "content": f"hi {EMAIL}"}]
    )
    assert out.choices[0].message.content == f"echo says: hi {EMAIL}"
    assert EMAIL not in json.dumps(stack.upstream.received[-1])
    parts = [
        c.choices[0].delta.content or ""
        for c in client.chat.completions.create(
            model="echo-1", messages=[{"role": "user", "content": f"hi {EMAIL}"}], stream=True
        )
        if c.choices
    ]
    assert "".join(parts) == f"echo says: hi {EMAIL}"
    with pytest.raises(openai.PermissionDeniedError):
        client.chat.completions.create(
            model="llama-2-7b-uncensored", messages=[{"role": "user", "content": "x"}]
        )
    with pytest.raises(openai.AuthenticationError):
        openai.OpenAI(base_url=f"{stack.url}/v1", api_key="nope", max_retries=0).chat.completions.create(
            model="echo-1", messages=[{"role": "user", "content": "x"}]
        )


def test_one_audit_record_per_request_and_verify(stack: Stack, token: str) -> None:
    ids = set()
    for body, h in [
        (chat(EMAIL), bearer(token)),
        (chat("x", stream=True), bearer(token)),
        ({**chat("x"), "model": "llama-2-7b-uncensored"}, bearer(token)),
        (chat("x"), {}),
    ]:
        r = httpx.post(f"{stack.url}/v1/chat/completions", json=body, headers=h, timeout=30)
        ids.add(r.headers["x-request-id"])
    got = request_records(stack.store, ids)
    assert sorted(r["payload"]["request_id"] for r in got) == sorted(ids)  # one each, no more
    assert {r["payload"]["status"] for r in got} == {200, 403, 401}
    assert all(r["payload"]["host"] == "extproc" for r in got)
    assert EMAIL not in json.dumps(got)
    deadline = time.monotonic() + 15
    while True:  # exit 3 = verified, tail not signed yet: the writer signs it within checkpoint_seconds
        v = subprocess.run(
            [sys.executable, "-m", "audit", "verify", "--store", stack.store], capture_output=True, text=True
        )
        if v.returncode != 3 or time.monotonic() > deadline:
            break
        time.sleep(0.3)
    assert v.returncode == 0, v.stdout + v.stderr


def test_client_gone_mid_stream_is_audited_as_cancelled(stack: Stack, token: str) -> None:
    stack.upstream.stall_after_events = 2
    try:
        with httpx.stream(
            "POST",
            f"{stack.url}/v1/chat/completions",
            json=chat(f"hi {EMAIL}", stream=True),
            headers=bearer(token),
            timeout=30,
        ) as s:
            rid = s.headers["x-request-id"]
            next(s.iter_raw())  # the first bytes arrive, then the client hangs up
    finally:
        stack.upstream.stall_after_events = None
    got = request_records(stack.store, {rid})
    assert len(got) == 1, got
    assert got[0]["payload"]["outcome"] == "cancelled" and got[0]["payload"]["status"] == 499


def test_garbage_mid_stream_ends_the_answer_in_band(stack: Stack, token: str) -> None:
    stack.upstream.garbage_after_events = 3
    try:
        with httpx.stream(
            "POST",
            f"{stack.url}/v1/chat/completions",
            json=chat(f"hi {EMAIL} there", stream=True),
            headers=bearer(token),
            timeout=30,
        ) as s:
            rid = s.headers["x-request-id"]
            body = b"".join(s.iter_raw()).decode()
    finally:
        stack.upstream.garbage_after_events = None
    events = [json.loads(ln[6:]) for ln in body.split("\n") if ln.startswith("data: {")]
    assert events[-1]["error"]["code"] == "upstream_invalid", body[-300:]
    assert "[DONE]" not in body  # and nothing after the error event (it is the last one)
    recs = request_records(stack.store, {rid})
    assert len(recs) == 1 and recs[0]["payload"]["status"] == 502


def test_zz_processor_killed_envoy_fails_closed(stack: Stack, token: str) -> None:
    before = len(stack.upstream.received)
    stack.extproc.kill()
    for body in (chat(EMAIL), chat(EMAIL, stream=True)):
        r = httpx.post(f"{stack.url}/v1/chat/completions", json=body, headers=bearer(token), timeout=30)
        assert r.status_code >= 500, r.text
        assert EMAIL not in r.text
    assert len(stack.upstream.received) == before
