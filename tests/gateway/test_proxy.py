"""The request path end to end: real gateway, real upstream, real HTTP on loopback."""

from __future__ import annotations

import json
import time

import httpx
import orjson

from tests.gateway.conftest import audit_events, auth
from tests.gateway.upstream_app import EchoUpstream
from tests.servers import ServerThread, closed_port

CHAT = {"model": "echo-1", "messages": [{"role": "user", "content": "hello there"}]}


def test_chat_roundtrip_headers_and_upstream_sees_body(upstream, gateway_factory, token, tmp_path):
    up, up_url = upstream
    url, _ = gateway_factory(upstreams=[{"name": "u", "url": up_url}])
    r = httpx.post(f"{url}/v1/chat/completions", json=CHAT, headers=auth(token))
    assert r.status_code == 200, r.text
    assert r.json()["choices"][0]["message"]["content"] == "echo says: hello there"
    assert up.received[-1]["messages"] == CHAT["messages"]
    # The client's JWT is never forwarded to the model server.
    assert "authorization" not in up.headers[-1]
    assert up.headers[-1]["x-request-id"] == r.headers["x-request-id"]
    timing = r.headers["server-timing"]
    for stage in ("auth", "route", "ratelimit", "upstream_ttfb"):
        assert f"{stage};dur=" in timing
    assert int(r.headers["x-ratelimit-remaining-requests"]) >= 0


def test_completions_and_embeddings(upstream, gateway_factory, token):
    _, up_url = upstream
    url, _ = gateway_factory(upstreams=[{"name": "u", "url": up_url}])
    r = httpx.post(f"{url}/v1/completions", json={"model": "echo-1", "prompt": "abc"}, headers=auth(token))
    assert r.status_code == 200 and r.json()["choices"][0]["text"] == "echo says: abc"
    r = httpx.post(
        f"{url}/v1/embeddings", json={"model": "echo-1", "input": ["ab", "abcd"]}, headers=auth(token)
    )
    assert r.status_code == 200 and [d["embedding"][0] for d in r.json()["data"]] == [2.0, 4.0]


def test_several_upstreams_by_model_name(gateway_factory, token):
    a, b = EchoUpstream("alpha"), EchoUpstream("beta")
    with ServerThread(a) as sa, ServerThread(b) as sb:
        url, _ = gateway_factory(
            upstreams=[
                {"name": "a", "url": sa.url, "models": ["model-a"]},
                {"name": "b", "url": sb.url, "models": ["model-b", "*"]},
            ]
        )
        for model, expect in (("model-a", "alpha"), ("model-b", "beta"), ("anything", "beta")):
            r = httpx.post(f"{url}/v1/chat/completions", json={**CHAT, "model": model}, headers=auth(token))
            assert r.json()["choices"][0]["message"]["content"].startswith(expect), model
        r = httpx.get(f"{url}/v1/models", headers=auth(token))
        ids = {m["id"] for m in r.json()["data"]}
        assert {"model-a", "model-b", "echo-1"} <= ids


def test_unknown_model_is_404_after_auth(gateway_factory, token):
    a = EchoUpstream("alpha")
    with ServerThread(a) as sa:
        url, _ = gateway_factory(upstreams=[{"name": "a", "url": sa.url, "models": ["only-this"]}])
        r = httpx.post(f"{url}/v1/chat/completions", json={**CHAT, "model": "nope"}, headers=auth(token))
        assert r.status_code == 404 and r.json()["error"]["code"] == "model_not_found"
        # An anonymous caller learns nothing about which models exist.
        r = httpx.post(f"{url}/v1/chat/completions", json={**CHAT, "model": "nope"})
        assert r.status_code == 401


def test_streaming_passes_chunk_by_chunk(gateway_factory, token):
    slow = EchoUpstream("slow", chunk_delay=0.15)
    with ServerThread(slow) as s:
        url, _ = gateway_factory(upstreams=[{"name": "s", "url": s.url}])
        body = {**CHAT, "messages": [{"role": "user", "content": "one two three four five"}], "stream": True}
        arrivals: list[float] = []
        text = ""
        t0 = time.perf_counter()
        with httpx.stream("POST", f"{url}/v1/chat/completions", json=body, headers=auth(token)) as r:
            assert r.status_code == 200
            assert r.headers["content-type"].startswith("text/event-stream")
            for line in r.iter_lines():
                if line.startswith("data: ") and line != "data: [DONE]":
                    arrivals.append(time.perf_counter() - t0)
                    text += json.loads(line[6:])["choices"][0]["delta"]["content"]
                elif line == "data: [DONE]":
                    arrivals.append(-1)
        assert text == "slow says: one two three four five"
        assert arrivals[-1] == -1
        # The first chunk reached the client long before the last one was produced.
        assert arrivals[0] < arrivals[-2] - 0.5


def test_client_disconnect_cancels_upstream(gateway_factory, token):
    endless = EchoUpstream("endless", chunk_delay=0.05)
    endless.endless = True
    with ServerThread(endless) as s:
        url, _ = gateway_factory(upstreams=[{"name": "s", "url": s.url}])
        body = {**CHAT, "stream": True}
        with httpx.stream("POST", f"{url}/v1/chat/completions", json=body, headers=auth(token)) as r:
            for line in r.iter_lines():
                if line.startswith("data: "):
                    break
        deadline = time.monotonic() + 5
        while not endless.cancelled_flag and time.monotonic() < deadline:
            time.sleep(0.05)
        assert endless.cancelled_flag, "the upstream kept generating after the client left"


def test_stream_usage_counts_completion_tokens(upstream, gateway_factory, token, tmp_path):
    up, up_url = upstream
    url, _ = gateway_factory(upstreams=[{"name": "u", "url": up_url}])
    body = {**CHAT, "stream": True, "stream_options": {"include_usage": True}}
    with httpx.stream("POST", f"{url}/v1/chat/completions", json=body, headers=auth(token)) as r:
        lines = [ln for ln in r.iter_lines() if ln.startswith("data: ")]
    assert lines[-1] == "data: [DONE]"
    assert "usage" in lines[-2]  # the client asked for usage and gets it
    # A client that did not ask gets no usage chunk, yet completion tokens are still counted exactly.
    with httpx.stream(
        "POST", f"{url}/v1/chat/completions", json={**CHAT, "stream": True}, headers=auth(token)
    ) as r:
        lines = [ln for ln in r.iter_lines() if ln.startswith("data: ")]
    assert not any("usage" in ln for ln in lines)
    assert up.received[-1]["stream_options"] == {"include_usage": True}
    events = audit_events(tmp_path / "audit.jsonl", 2)
    assert [e["payload"]["completion_tokens"] for e in events[-2:]] == [4, 4]  # "echo says: hello there"


def test_upstream_down_is_502_and_slow_is_504(gateway_factory, token):
    url, _ = gateway_factory(upstreams=[{"name": "gone", "url": f"http://127.0.0.1:{closed_port()}"}])
    r = httpx.post(f"{url}/v1/chat/completions", json=CHAT, headers=auth(token))
    assert r.status_code == 502 and r.json()["error"]["type"] == "upstream_error"
    slow = EchoUpstream("slow", first_byte_delay=3)
    with ServerThread(slow) as s:
        url2, _ = gateway_factory(upstreams=[{"name": "slow", "url": s.url, "timeouts": {"first_byte": 0.3}}])
        t0 = time.perf_counter()
        r = httpx.post(f"{url2}/v1/chat/completions", json=CHAT, headers=auth(token), timeout=10)
        assert r.status_code == 504 and r.json()["error"]["code"] == "gateway_timeout"
        assert time.perf_counter() - t0 < 2.5
        # The worker is not stuck: the next request is answered promptly too.
        r = httpx.post(f"{url2}/v1/chat/completions", json=CHAT, headers=auth(token), timeout=10)
        assert r.status_code == 504


def test_upstream_5xx_is_502_without_leaking(gateway_factory, token):
    bad = EchoUpstream("bad", fail_status=500)
    with ServerThread(bad) as s:
        url, _ = gateway_factory(upstreams=[{"name": "bad", "url": s.url}])
        r = httpx.post(f"{url}/v1/chat/completions", json=CHAT, headers=auth(token))
        assert r.status_code == 502
        assert "upstream failure" not in r.text and "Traceback" not in r.text


def test_bad_input(upstream, gateway_factory, token):
    _, up_url = upstream
    url, _ = gateway_factory(upstreams=[{"name": "u", "url": up_url}], server={"max_body_bytes": 2048})
    h = {**auth(token), "content-type": "application/json"}
    cases = [
        (b"{not json", 400, "invalid_json"),
        (b"[1,2]", 400, "invalid_json"),
        (b"", 400, "invalid_json"),
        (orjson.dumps({"model": 3, "messages": []}), 400, "invalid_type"),
        (orjson.dumps({"model": "echo-1", "messages": "hi"}), 400, "invalid_type"),
        (
            orjson.dumps({"model": "echo-1", "messages": [{"role": "user", "content": 5}]}),
            400,
            "invalid_type",
        ),
        (orjson.dumps({**CHAT, "max_tokens": -1}), 400, "invalid_type"),
        (orjson.dumps({**CHAT, "stream": "yes"}), 400, "invalid_type"),
        (
            orjson.dumps({"model": "echo-1", "messages": [{"role": "user", "content": "x" * 5000}]}),
            413,
            "payload_too_large",
        ),
    ]
    for raw, status, code in cases:
        r = httpx.post(f"{url}/v1/chat/completions", content=raw, headers=h)
        assert r.status_code == status, (raw[:40], r.text)
        err = r.json()["error"]
        assert err["code"] == code and err["type"] and err["message"]
        assert "Traceback" not in r.text
    r = httpx.post(
        f"{url}/v1/completions", json={"model": "echo-1", "prompt": [1, 2, 3]}, headers=auth(token)
    )
    assert r.status_code == 400 and r.json()["error"]["code"] == "unsupported_input"

    # A chunked body (no content-length) over the limit is cut off too.
    def gen():
        for _ in range(10):
            yield b"x" * 1000

    r = httpx.post(f"{url}/v1/chat/completions", content=gen(), headers=h)
    assert r.status_code == 413
    r = httpx.get(f"{url}/v1/chat/completions", headers=auth(token))
    assert r.status_code == 405
    r = httpx.get(f"{url}/nope")
    assert r.status_code == 404 and r.json()["error"]["code"] == "not_found"
    assert len(upstream[0].received) == 0  # nothing invalid was forwarded


def test_health_ready_metrics(gateway_factory, token, upstream):
    _, up_url = upstream
    url, _ = gateway_factory(upstreams=[{"name": "u", "url": up_url}])
    assert httpx.get(f"{url}/healthz").json() == {"status": "ok"}
    r = httpx.get(f"{url}/readyz")
    assert r.status_code == 200 and r.json()["checks"]["upstream:u"]["ok"] is True
    httpx.post(f"{url}/v1/chat/completions", json=CHAT, headers=auth(token))
    m = httpx.get(f"{url}/metrics").text
    assert 'gateway_stage_seconds_count{stage="auth",tenant="acme"}' in m
    assert 'gateway_requests_total{route="chat",status="200",tenant="acme"} 1.0' in m
    assert 'gateway_requests_in_flight{tenant="acme"} 0.0' in m  # admitted, then done
    assert 'gateway_audit_write_seconds_count{tenant="acme"}' in m
    assert 'gateway_tokens_total{kind="completion",tenant="acme"} 4.0' in m
    down, _ = gateway_factory(upstreams=[{"name": "gone", "url": f"http://127.0.0.1:{closed_port()}"}])
    r = httpx.get(f"{down}/readyz")
    assert r.status_code == 503 and r.json()["checks"]["upstream:gone"]["ok"] is False


def test_upstream_stalling_mid_stream_ends_stream_with_in_band_error(gateway_factory, token):
    stalling = EchoUpstream("stall")
    stalling.stall_after = 2
    with ServerThread(stalling) as s:
        url, _ = gateway_factory(upstreams=[{"name": "s", "url": s.url, "timeouts": {"first_byte": 0.5}}])
        t0 = time.perf_counter()
        with httpx.stream(
            "POST",
            f"{url}/v1/chat/completions",
            json={**CHAT, "stream": True},
            headers=auth(token),
            timeout=10,
        ) as r:
            lines = [ln for ln in r.iter_lines() if ln.startswith("data: ")]
        assert time.perf_counter() - t0 < 5
        assert len(lines) == 3 and "delta" in lines[0]
        err = json.loads(lines[-1][6:])["error"]
        assert err["code"] == "gateway_timeout" and err["type"] == "upstream_error"
