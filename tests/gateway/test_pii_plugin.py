"""The PII plugin's hooks, called directly with a RequestContext (real engine, real model)."""

from __future__ import annotations

import asyncio
import copy
import json

import pytest
from pydantic import ValidationError

from gateway.chain.context import Identity, RequestContext
from gateway.chain.errors import BadRequest, PayloadTooLarge, ServiceUnavailable
from gateway.chain.plugins.pii import PIIPlugin

EMAIL, PHONE, CARD = "maria.gonzalez@example.com", "13812345678", "4111 1111 1111 1111"


def make_ctx(body, route="chat", tenant="acme"):
    ctx = RequestContext(request_id="r1", route=route, method="POST", path="/v1/x", headers={}, body=body)
    ctx.identity = Identity(subject="alice", tenant=tenant) if tenant else None
    return ctx


async def started(**settings) -> PIIPlugin:
    plugin = PIIPlugin(PIIPlugin.Settings.model_validate(settings), config=None)
    await plugin.startup()
    return plugin


@pytest.fixture(scope="module")
def plugin():
    return asyncio.run(started())


@pytest.fixture(scope="module")
def pseudo():
    return asyncio.run(started(default_operator="pseudonymize", ner={"enabled": False}))


def chat_body():
    return {
        "model": "m",
        "messages": [
            {"role": "system", "content": "You help Maria Gonzalez's team."},
            {"role": "user", "content": f"I am Maria Gonzalez, mail {EMAIL}, phone {PHONE}."},
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": f"card {CARD}"},
                    {"type": "image_url", "image_url": {"url": "http://x"}},
                ],
            },
            {
                "role": "assistant",
                "content": None,
                "tool_calls": [
                    {
                        "id": "c1",
                        "type": "function",
                        "function": {"name": "lookup", "arguments": json.dumps({"email": EMAIL, "n": 3})},
                    }
                ],
            },
            {"role": "tool", "tool_call_id": "c1", "content": f"found {EMAIL} on file"},
        ],
    }


async def test_chat_every_message_redacted_consistently(plugin):
    ctx = make_ctx(chat_body())
    await plugin.on_request(ctx)
    dumped = json.dumps(ctx.body)
    for secret in (EMAIL, PHONE, "4111", "Maria", "Gonzalez"):
        assert secret not in dumped
    msgs = ctx.body["messages"]
    assert msgs[1]["content"] == "I am <PERSON_1>, mail <EMAIL_ADDRESS_1>, phone <CN_MOBILE_1>."
    assert json.loads(msgs[3]["tool_calls"][0]["function"]["arguments"]) == {
        "email": "<EMAIL_ADDRESS_1>",
        "n": 3,
    }
    assert msgs[4]["content"] == "found <EMAIL_ADDRESS_1> on file"
    assert msgs[2]["content"][1] == {"type": "image_url", "image_url": {"url": "http://x"}}
    counts = {f.entity_type: f.count for f in ctx.pii}
    assert counts["EMAIL_ADDRESS"] == 3 and counts["CN_MOBILE"] == 1 and counts["CREDIT_CARD"] == 1
    assert ctx.audit["pii"] == counts
    assert EMAIL not in repr(ctx.pii) + repr(ctx.audit)


async def test_completions_and_embeddings(plugin):
    ctx = make_ctx(
        {"model": "m", "prompt": [f"mail {EMAIL}", "nothing here"]}, route="completions", tenant=None
    )
    await plugin.on_request(ctx)
    assert ctx.body["prompt"] == ["mail <EMAIL_ADDRESS_1>", "nothing here"]
    ctx = make_ctx({"model": "m", "input": f"phone {PHONE}"}, route="embeddings")
    await plugin.on_request(ctx)
    assert ctx.body["input"] == "phone <CN_MOBILE_1>"
    with pytest.raises(BadRequest):
        await plugin.on_request(make_ctx({"model": "m", "prompt": [1, 2, 3]}, route="completions"))


async def test_pseudonyms_restored_in_response_and_model_pii_redacted(pseudo):
    ctx = make_ctx({"model": "m", "messages": [{"role": "user", "content": f"write to {EMAIL}"}]})
    await pseudo.on_request(ctx)
    sent = ctx.body["messages"][0]["content"]
    assert sent == "write to <EMAIL_ADDRESS_1>"
    ctx.response = {
        "choices": [
            {
                "index": 0,
                "message": {
                    "role": "assistant",
                    "content": "Done: mailed <EMAIL_ADDRESS_1>; also try bob@evil.example",
                },
            }
        ]
    }
    await pseudo.on_response(ctx)
    assert (
        ctx.response["choices"][0]["message"]["content"]
        == f"Done: mailed {EMAIL}; also try <EMAIL_ADDRESS_2>"
    )


def _chunks(pieces):
    out = [
        {
            "id": "x",
            "object": "chat.completion.chunk",
            "model": "m",
            "choices": [{"index": 0, "delta": {"role": "assistant", "content": ""}, "finish_reason": None}],
        }
    ]
    for p in pieces:
        out.append(
            {
                "id": "x",
                "object": "chat.completion.chunk",
                "model": "m",
                "choices": [{"index": 0, "delta": {"content": p}, "finish_reason": None}],
            }
        )
    out.append(
        {
            "id": "x",
            "object": "chat.completion.chunk",
            "model": "m",
            "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}],
        }
    )
    return out


async def test_stream_restores_split_placeholders_and_redacts_split_pii(pseudo):
    ctx = make_ctx({"model": "m", "messages": [{"role": "user", "content": f"write to {EMAIL}"}]})
    await pseudo.on_request(ctx)
    pieces = ["Sure, I wrote to <EMA", "IL_ADDRESS", "_1> and", " to 139", "1234", "5678 today."]
    emitted = []
    for ch in _chunks(pieces):
        emitted.extend(pseudo.on_chunk(ctx, copy.deepcopy(ch)))
    emitted.extend(pseudo.on_stream_end(ctx))
    texts = [c["choices"][0]["delta"].get("content") or "" for c in emitted]
    assert "".join(texts) == f"Sure, I wrote to {EMAIL} and to <CN_MOBILE_1> today."
    assert not any("<EMA" in t and EMAIL not in t for t in texts)
    assert not any("139" in t or "5678" in t for t in texts)
    assert texts[0] == "" and texts[1] == "Sure, I wrote to "  # prose is not held
    assert emitted[-1]["choices"][0]["finish_reason"] == "stop"


async def test_stream_end_flushes_held_text_for_completions(pseudo):
    ctx = make_ctx({"model": "m", "prompt": f"to {EMAIL}"}, route="completions")
    await pseudo.on_request(ctx)
    first = pseudo.on_chunk(
        ctx, {"id": "x", "object": "text_completion", "choices": [{"index": 0, "text": "hello <EMAIL_ADD"}]}
    )
    assert first[0]["choices"][0]["text"] == "hello "
    tail = pseudo.on_stream_end(ctx)
    assert tail[0]["choices"][0]["text"] == "<EMAIL_ADD"


async def test_enforce_rewrites_from_original(plugin):
    ctx = make_ctx({"model": "m", "messages": [{"role": "user", "content": f"card {CARD}, mail {EMAIL}"}]})
    await plugin.on_request(ctx)
    assert ctx.body["messages"][0]["content"] == "card <CREDIT_CARD_1>, mail <EMAIL_ADDRESS_1>"
    ctx.pii_state.enforce({"CREDIT_CARD": "remove", "EMAIL_ADDRESS": "mask"})
    assert ctx.body["messages"][0]["content"] == "card , mail m*************@example.com"
    with pytest.raises(ValueError):
        ctx.pii_state.enforce({"CREDIT_CARD": "shred"})


async def test_fail_closed_without_leaking_text(plugin):
    cold = PIIPlugin(PIIPlugin.Settings(), None)  # startup never ran
    with pytest.raises(ServiceUnavailable):
        await cold.on_request(make_ctx(chat_body()))
    broken = await started(ner={"enabled": False})
    broken.engine.profile(None).recognizers.insert(0, None)  # a recognizer that cannot run
    with pytest.raises(ServiceUnavailable) as err:
        await broken.on_request(make_ctx(chat_body()))
    assert err.value.message == "PII engine unavailable" and EMAIL not in str(err.value)


async def test_hash_operator_needs_a_key_and_is_stable(tmp_path, monkeypatch):
    monkeypatch.delenv("CG_PII_HASH_KEY", raising=False)
    with pytest.raises(ValueError, match="pii.hash_key_file"):
        await started(default_operator="hash", ner={"enabled": False})
    key = tmp_path / "pii.key"
    key.write_bytes(b"k" * 32)
    p = await started(default_operator="hash", hash_key_file=str(key), ner={"enabled": False})
    outs = []
    for tenant in ("acme", "acme", "globex"):
        ctx = make_ctx({"model": "m", "input": f"mail {EMAIL}"}, route="embeddings", tenant=tenant)
        await p.on_request(ctx)
        outs.append(ctx.body["input"])
    assert outs[0] == outs[1] != outs[2] and EMAIL not in outs[0]


def test_settings_reject_unknown_keys():
    with pytest.raises(ValidationError) as err:
        PIIPlugin.Settings.model_validate({"operatorz": {}})
    assert "operatorz" in str(err.value)
    with pytest.raises(ValidationError):
        PIIPlugin.Settings.model_validate({"operators": {"EMAIL_ADDRESS": "shred"}})


async def test_large_input_runs_off_the_event_loop_and_limit_is_enforced():
    p = await started(ner={"enabled": False}, max_chars=1_100_000, offload_chars=10_000)
    text = ("log line 42 ok; contact ops@example.com. " * 25_000)[:1_000_000]
    ticks = 0

    async def heartbeat():
        nonlocal ticks
        while True:
            ticks += 1
            await asyncio.sleep(0.005)

    hb = asyncio.create_task(heartbeat())
    ctx = make_ctx({"model": "m", "input": text}, route="embeddings")
    await p.on_request(ctx)
    hb.cancel()
    assert "ops@example.com" not in ctx.body["input"] and ticks > 5
    with pytest.raises(PayloadTooLarge):
        await p.on_request(make_ctx({"model": "m", "input": text + text}, route="embeddings"))


# -- through the real gateway (real HTTP, echo upstream that repeats what it received) ------------
def test_gateway_pseudonymizes_upstream_and_restores_for_client(upstream, gateway_factory, token):
    import httpx

    from tests.gateway.conftest import auth

    up, up_url = upstream
    url, _ = gateway_factory(
        upstreams=[{"name": "u", "url": up_url}],
        plugins=["auth", "ratelimit", "pii", "audit"],
        pii={"default_operator": "pseudonymize", "ner": {"enabled": False}},
    )
    body = {"model": "echo-1", "messages": [{"role": "user", "content": f"mail {EMAIL} or {PHONE}"}]}
    r = httpx.post(f"{url}/v1/chat/completions", json=body, headers=auth(token), timeout=30)
    assert r.status_code == 200, r.text
    assert up.received[-1]["messages"][0]["content"] == "mail <EMAIL_ADDRESS_1> or <CN_MOBILE_1>"
    assert r.json()["choices"][0]["message"]["content"] == f"echo says: mail {EMAIL} or {PHONE}"
    with httpx.stream(
        "POST", f"{url}/v1/chat/completions", json={**body, "stream": True}, headers=auth(token), timeout=30
    ) as s:
        events = [json.loads(ln[6:]) for ln in s.iter_lines() if ln.startswith("data: {")]
    text = "".join(c["delta"].get("content") or "" for e in events for c in e.get("choices", []))
    assert text == f"echo says: mail {EMAIL} or {PHONE}"


async def test_durable_pseudonyms_in_redis_are_sealed_and_expire(tmp_path, monkeypatch):
    import uuid

    import redis.asyncio as aioredis

    monkeypatch.delenv("CG_PII_HASH_KEY", raising=False)
    prefix = f"cg:test:pii:{uuid.uuid4().hex}:"
    key = tmp_path / "pii.key"
    key.write_bytes(b"m" * 32)
    settings = {
        "ner": {"enabled": False},
        "default_operator": "pseudonymize",
        "hash_key_file": str(key),
        "pseudonym_store": {"key_prefix": prefix, "ttl_seconds": 60},
        "tenants": {"acme": {"durable_pseudonyms": True}, "globex": {"durable_pseudonyms": True}},
    }
    with pytest.raises(ValueError, match="pii.pseudonym_store"):
        await started(**{k: v for k, v in settings.items() if k != "pseudonym_store"})
    p = await started(**settings)
    r = aioredis.from_url("redis://127.0.0.1:6379/0")
    try:
        first = make_ctx({"model": "m", "input": f"mail {EMAIL}"}, route="embeddings")
        await p.on_request(first)
        token = first.body["input"].split()[1]
        assert token.startswith("<EMAIL_ADDRESS_") and EMAIL not in token
        keys = [k async for k in r.scan_iter(match=prefix + "*")]
        assert len(keys) == 1 and 0 < await r.ttl(keys[0]) <= 60
        assert EMAIL.encode() not in await r.get(keys[0]) and token.encode() not in keys[0]
        # A later request of the same tenant gets the same token and can restore it from the store.
        later = make_ctx({"model": "m", "messages": [{"role": "user", "content": "what did I send?"}]})
        await p.on_request(later)
        later.response = {
            "choices": [{"index": 0, "message": {"role": "assistant", "content": f"You sent {token}."}}]
        }
        await p.on_response(later)
        assert later.response["choices"][0]["message"]["content"] == f"You sent {EMAIL}."
        # Another tenant cannot open it.
        other = make_ctx({"model": "m", "messages": [{"role": "user", "content": "hi"}]}, tenant="globex")
        await p.on_request(other)
        other.response = {
            "choices": [{"index": 0, "message": {"role": "assistant", "content": f"You sent {token}."}}]
        }
        await p.on_response(other)
        assert other.response["choices"][0]["message"]["content"] == f"You sent {token}."
    finally:
        async for k in r.scan_iter(match=prefix + "*"):
            await r.delete(k)
        await r.aclose()
        await p.shutdown()


async def test_stream_keeps_choices_apart(pseudo):
    ctx = make_ctx({"model": "m", "messages": [{"role": "user", "content": f"write to {EMAIL}"}]})
    await pseudo.on_request(ctx)

    def ev(i, text, finish=None):
        return {
            "id": "x",
            "object": "chat.completion.chunk",
            "choices": [{"index": i, "delta": {"content": text}, "finish_reason": finish}],
        }

    out = []
    for e in (
        ev(0, "A: <EMAIL_"),
        ev(1, "B: call 138"),
        ev(0, "ADDRESS_1>"),
        ev(1, "12345678", "stop"),
        ev(0, " ok", "stop"),
    ):
        out.extend(pseudo.on_chunk(ctx, e))
    out.extend(pseudo.on_stream_end(ctx))
    by_index: dict[int, str] = {}
    for e in out:
        for c in e["choices"]:
            by_index[c["index"]] = by_index.get(c["index"], "") + (c["delta"].get("content") or "")
    assert by_index == {0: f"A: {EMAIL} ok", 1: "B: call <CN_MOBILE_1>"}
