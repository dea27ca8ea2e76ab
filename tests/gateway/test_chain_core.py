"""The host-facing chain core (gateway/chain/core.py), driven directly and through the proxy host.

- The StreamRelay takes an SSE body in byte chunks split anywhere (mid-line, mid-placeholder) and
  gives the client the same bytes for every chunking, placeholders restored exactly.
- server.max_json_depth: bodies nested 300-1,000 deep get 400 before any plugin, never 500, and the
  log stays a few lines long.
- A client that leaves mid-stream leaves a record saying "cancelled"; every record names its host.
"""

from __future__ import annotations

import asyncio
import logging
import time

import httpx
import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gateway.chain.core import Chain
from gateway.chain.errors import BadRequest, GatewayError, ServiceUnavailable, UnsupportedMediaType
from gateway.config import load_config
from tests.gateway.conftest import audit_events, auth
from tests.gateway.upstream_app import EchoUpstream
from tests.servers import ServerThread

EMAIL = "maria.gonzalez@example.com"


def _sse(texts: list[str], *, usage: bool = True) -> bytes:
    out = b""
    for t in texts:
        ev = {
            "id": "c1",
            "object": "chat.completion.chunk",
            "model": "m",
            "choices": [{"index": 0, "delta": {"content": t}, "finish_reason": None}],
        }
        out += b"data: " + orjson.dumps(ev) + b"\n\n"
    if usage:
        out += b'data: {"id":"c1","choices":[],"usage":{"prompt_tokens":3,"completion_tokens":%d}}\n\n' % len(
            texts
        )
    return out + b"data: [DONE]\n\n"


def _content(sse: bytes) -> str:
    out = []
    for line in sse.split(b"\n"):
        if line.startswith(b"data: {"):
            ev = orjson.loads(line[6:])
            for c in ev.get("choices") or []:
                out.append((c.get("delta") or {}).get("content") or "")
    return "".join(out)


@pytest.fixture(scope="module")
def pii_chain(tmp_path_factory):
    """A chain with the PII plugin pseudonymizing (regex recognizers only) and a jsonl audit log."""
    tmp = tmp_path_factory.mktemp("core")
    cfg = load_config(
        None,
        environ={},
        overrides={
            "plugins": ["pii", "audit"],
            "upstreams": [{"name": "u", "url": "http://127.0.0.1:9"}],
            "pii": {"default_operator": "pseudonymize", "ner": {"enabled": False}},
            "audit": {"store": f"jsonl://{tmp / 'audit.jsonl'}"},
        },
    )
    chain = Chain(cfg, host="test")
    loop = asyncio.new_event_loop()
    loop.run_until_complete(chain.startup())
    yield chain, loop, tmp / "audit.jsonl"
    loop.run_until_complete(chain.shutdown())
    loop.close()


def _request(chain: Chain, loop: asyncio.AbstractEventLoop, body: dict, headers: dict | None = None):
    ctx = chain.new_context(
        route="chat",
        method="POST",
        path="/v1/chat/completions",
        headers=headers or {"content-type": "application/json"},
        client="10.0.0.1",
    )
    try:
        fwd = loop.run_until_complete(chain.request(ctx, orjson.dumps(body)))
    except GatewayError as exc:  # as a host does: record the refusal
        chain.fail(ctx, exc)
        loop.run_until_complete(chain.commit(ctx))
        raise
    return ctx, orjson.loads(fwd)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(cuts=st.lists(st.integers(min_value=0, max_value=4000), max_size=40), crlf=st.booleans())
def test_stream_relay_any_chunking_gives_the_same_bytes(pii_chain, cuts, crlf) -> None:
    chain, loop, _ = pii_chain
    ctx, fwd = _request(
        chain,
        loop,
        {"model": "m", "stream": True, "messages": [{"role": "user", "content": f"write to {EMAIL} please"}]},
    )
    sent = fwd["messages"][0]["content"]
    assert EMAIL not in sent
    placeholder = sent.split("write to ")[1].split(" please")[0]
    assert fwd["stream_options"] == {"include_usage": True}  # asked for by the gateway...
    # The model echoes the placeholder, split across events at awkward places.
    text = f"Sure, {placeholder} noted."
    pieces = [text[i : i + 3] for i in range(0, len(text), 3)]
    body = _sse(pieces)
    if crlf:
        body = body.replace(b"\n", b"\r\n")
    relay = chain.stream(ctx)
    points = sorted({c % (len(body) + 1) for c in cuts})
    out = b""
    last = 0
    for p in [*points, len(body)]:
        out += relay.feed(body[last:p])
        last = p
    assert relay.done
    out += relay.end()
    assert _content(out) == f"Sure, {EMAIL} noted."
    assert out.endswith(b"data: [DONE]\n\n")
    assert b'"usage"' not in out  # ...and stripped again: the client did not ask for it
    assert ctx.completion_tokens == len(pieces)
    loop.run_until_complete(chain.commit(ctx))
    assert ctx.outcome == "ok"


def test_stream_relay_without_done_ends_with_in_band_error(pii_chain) -> None:
    chain, loop, _ = pii_chain
    ctx, _ = _request(
        chain, loop, {"model": "m", "stream": True, "messages": [{"role": "user", "content": "hi"}]}
    )
    relay = chain.stream(ctx)
    body = _sse(["a", "b"], usage=False).replace(b"data: [DONE]\n\n", b"")
    out = relay.feed(body[:7]) + relay.feed(body[7:]) + relay.end()
    assert _content(out) == "ab" and b"upstream_incomplete" in out and b"[DONE]" not in out
    assert ctx.status == 502
    loop.run_until_complete(chain.commit(ctx))
    assert ctx.outcome == "error"


def test_request_refuses_non_json_and_encoded_bodies(pii_chain) -> None:
    chain, loop, _ = pii_chain
    body = {"model": "m", "messages": [{"role": "user", "content": "hi"}]}
    for headers in (
        {"content-type": "text/plain"},
        {"content-type": "application/x-www-form-urlencoded"},
        {"content-type": "application/json", "content-encoding": "gzip"},
    ):
        with pytest.raises(UnsupportedMediaType):
            _request(chain, loop, body, headers)
    ctx, _ = _request(chain, loop, body, {"content-type": "application/json; charset=utf-8"})
    loop.run_until_complete(chain.commit(ctx))


def test_commit_is_idempotent_and_records_host_and_outcome(pii_chain) -> None:
    chain, loop, path = pii_chain
    ctx, _ = _request(chain, loop, {"model": "m", "messages": [{"role": "user", "content": "hi"}]})
    out = loop.run_until_complete(
        chain.response_json(
            ctx, orjson.dumps({"choices": [{"index": 0, "message": {"role": "assistant", "content": "ok"}}]})
        )
    )
    assert orjson.loads(out)["choices"][0]["message"]["content"] == "ok"
    loop.run_until_complete(chain.commit(ctx))
    loop.run_until_complete(chain.commit(ctx))
    events = [e for e in audit_events(path, 1) if e["payload"]["request_id"] == ctx.request_id]
    assert len(events) == 1
    assert events[0]["payload"]["host"] == "test" and events[0]["payload"]["outcome"] == "ok"


def test_commit_withholds_the_answer_when_the_record_cannot_be_written(pii_chain) -> None:
    chain, loop, _ = pii_chain
    ctx, _ = _request(chain, loop, {"model": "m", "messages": [{"role": "user", "content": "hi"}]})
    audit = chain.pipeline.plugin("audit")
    writer = audit.writer
    writer._broken = True  # the jsonl sink's own "write failed" state
    try:
        with pytest.raises(ServiceUnavailable) as exc:
            loop.run_until_complete(chain.commit(ctx))
        assert exc.value.code == "audit_unavailable"
    finally:
        writer._broken = False


def _nested(depth: int, where: str) -> bytes:
    inner = b"[" * depth + b"1" + b"]" * depth
    if where == "content":
        return b'{"model":"m","messages":[{"role":"user","content":' + inner + b"}]}"
    if where == "extra":
        return b'{"model":"m","messages":[{"role":"user","content":"hi"}],"x":' + inner + b"}"
    obj = b'{"a":' * depth + b"1" + b"}" * depth
    return b'{"model":"m","messages":[{"role":"user","content":"hi"}],"metadata":' + obj + b"}"


def test_parse_depth_limit() -> None:
    from gateway.chain.requests import parse_json_object

    ok = b'{"a":' * 63 + b"1" + b"}" * 63
    assert parse_json_object(ok, 64)
    with pytest.raises(BadRequest) as exc:
        parse_json_object(b'{"a":' * 65 + b"1" + b"}" * 65, 64)
    assert exc.value.code == "json_too_deep" and exc.value.status == 400


def test_deep_nesting_is_400_before_any_plugin_and_logs_little(gateway_factory, token, caplog) -> None:
    up = EchoUpstream()
    with ServerThread(up) as s:
        url, _ = gateway_factory(
            upstreams=[{"name": "u", "url": s.url}],
            plugins=["auth", "ratelimit", "pii", "audit"],
            pii={"default_operator": "pseudonymize", "ner": {"enabled": False}},
        )
        caplog.clear()
        with caplog.at_level(logging.DEBUG):
            for depth in (65, 300, 600, 1000, 1100, 5000):
                for where in ("content", "extra", "object"):
                    r = httpx.post(
                        f"{url}/v1/chat/completions",
                        content=_nested(depth, where),
                        headers={**auth(token), "content-type": "application/json"},
                    )
                    assert r.status_code == 400, (depth, where, r.text)
                    assert r.json()["error"]["type"] == "invalid_request_error"
            # Unauthenticated deep bodies too: the limit comes before every plugin.
            r = httpx.post(f"{url}/v1/chat/completions", content=_nested(1000, "content"))
            assert r.status_code == 400
        assert not up.received, "a too-deep body reached the model server"
        logged = "\n".join(
            rec.getMessage()
            for rec in caplog.records
            if rec.name.split(".")[0] in ("gateway", "audit", "uvicorn", "asyncio", "privacy")
        )
        assert len(logged) < 2000, logged[:2000]
        assert "Traceback" not in logged and "RecursionError" not in logged
        # A deeply nested answer from the model server is a 502, not a 500.
        deep = EchoUpstream()

        async def deep_answer(scope, receive, send):  # noqa: ANN001
            if scope["type"] != "http":
                return await deep(scope, receive, send)
            while (await receive()).get("more_body"):
                pass
            body = (
                b'{"choices":[{"index":0,"message":{"role":"assistant","content":"x"}}],"x":'
                + b"[" * 400
                + b"]" * 400
                + b"}"
            )
            await send(
                {
                    "type": "http.response.start",
                    "status": 200,
                    "headers": [(b"content-type", b"application/json")],
                }
            )
            await send({"type": "http.response.body", "body": body})

        with ServerThread(deep_answer) as d:
            url2, _ = gateway_factory(
                upstreams=[{"name": "d", "url": d.url}],
                plugins=["auth", "pii", "audit"],
                pii={"default_operator": "pseudonymize", "ner": {"enabled": False}},
            )
            r = httpx.post(
                f"{url2}/v1/chat/completions",
                headers=auth(token),
                json={"model": "m", "messages": [{"role": "user", "content": f"mail {EMAIL}"}]},
            )
            assert r.status_code == 502, r.text


def test_client_leaving_mid_stream_leaves_a_cancelled_record(gateway_factory, token, tmp_path) -> None:
    endless = EchoUpstream("endless", chunk_delay=0.05)
    endless.endless = True
    with ServerThread(endless) as s:
        url, _ = gateway_factory(upstreams=[{"name": "s", "url": s.url}])
        body = {"model": "echo-1", "stream": True, "messages": [{"role": "user", "content": "go on"}]}
        with httpx.stream("POST", f"{url}/v1/chat/completions", json=body, headers=auth(token)) as r:
            rid = r.headers["x-request-id"]
            for line in r.iter_lines():
                if line.startswith("data: "):
                    break
        deadline = time.monotonic() + 5
        rec = None
        while rec is None and time.monotonic() < deadline:
            events = audit_events(tmp_path / "audit.jsonl", 1, timeout=0.5)
            rec = next((e for e in events if e["payload"]["request_id"] == rid), None)
        assert rec is not None
        assert rec["payload"]["outcome"] == "cancelled" and rec["payload"]["status"] == 499
        assert rec["payload"]["host"] == "proxy"
