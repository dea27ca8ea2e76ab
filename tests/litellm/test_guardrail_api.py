"""The Generic Guardrail API on `gateway serve`, called over real HTTP the way LiteLLM 1.108 calls it."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.litellm.conftest import GUARDRAIL, Gateway

EMAIL = "mary.jones@example.org"
PHONE = "+1 212 555 0187"


def call(gw: Gateway, body: dict[str, Any], key: str | None = "__ok__", **headers: str) -> httpx.Response:
    h = dict(headers)
    if key is not None:
        h["x-api-key"] = gw.key if key == "__ok__" else key
    return httpx.post(gw.url + GUARDRAIL, json=body, headers=h, timeout=10)


def pre(texts: list[str], call_id: str, **extra: Any) -> dict[str, Any]:
    body = {
        "input_type": "request",
        "texts": texts,
        "model": "echo-1",
        "litellm_call_id": call_id,
        "request_data": {
            "user_api_key_team_id": "team-a",
            "user_api_key_user_id": "u1",
            "user_api_key_user_email": "boss@corp.example",
        },
    }
    body.update(extra)
    return body


def post(texts: list[str], call_id: str, **extra: Any) -> dict[str, Any]:
    body = pre(texts, call_id, **extra)
    body["input_type"] = "response"
    return body


def test_pre_call_redacts_and_post_call_restores_for_the_same_call(gw: Gateway) -> None:
    cid = str(uuid.uuid4())
    r = call(gw, pre([f"mail {EMAIL}", f"call {PHONE} or {EMAIL}"], cid))
    assert r.status_code == 200, r.text
    out = r.json()
    assert out["action"] == "GUARDRAIL_INTERVENED" and out["blocked_reason"] is None
    joined = " ".join(out["texts"])
    assert EMAIL not in joined and "555 0187" not in joined
    token = out["texts"][0].split()[-1]
    assert token.startswith("<EMAIL_ADDRESS_") and out["texts"][1].endswith(token)  # one value, one pseudonym
    # The model quotes the pseudonym; the post_call for the same call restores it.
    r = call(gw, post([f"I will write to {token}."], cid))
    out = r.json()
    assert (out["action"], out["texts"], out["blocked_reason"]) == (
        "GUARDRAIL_INTERVENED",
        [f"I will write to {EMAIL}."],
        None,
    )
    # Streamed rounds: a tail that may still be (part of) an identifier is held back.
    assert out["stream_holdback_chars"] == [len(EMAIL) + 1]
    out = call(gw, post(["Write to <EMAIL_ADDR"], cid)).json()
    assert out["action"] == "NONE" and out["stream_holdback_chars"] == [len("<EMAIL_ADDR")]
    # Another call id, or the same id from another team, gets nothing restored.
    r = call(gw, post([f"I will write to {token}."], str(uuid.uuid4())))
    assert r.json()["action"] == "NONE"
    other = post([f"I will write to {token}."], cid)
    other["request_data"]["user_api_key_team_id"] = "team-b"
    assert call(gw, other).json()["action"] == "NONE"


def test_clean_text_is_none_and_model_pii_is_redacted(gw: Gateway) -> None:
    r = call(gw, pre(["What is the capital of France?"], str(uuid.uuid4())))
    assert r.json() == {"action": "NONE", "texts": None, "blocked_reason": None}
    r = call(gw, post([f"Sure, write to {EMAIL}"], str(uuid.uuid4())))
    out = r.json()
    assert out["action"] == "GUARDRAIL_INTERVENED" and EMAIL not in out["texts"][0]


def test_structured_rows_carry_redacted_tool_call_arguments(gw: Gateway) -> None:
    args = orjson.dumps({"to": EMAIL}).decode()
    rows = [
        {"role": "user", "content": "send it"},
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [{"id": "c1", "type": "function", "function": {"name": "mail", "arguments": args}}],
        },
    ]
    tool_calls = rows[1]["tool_calls"]
    r = call(gw, pre(["send it"], str(uuid.uuid4()), structured_messages=rows, tool_calls=tool_calls))
    out = r.json()
    assert out["action"] == "GUARDRAIL_INTERVENED", out
    assert EMAIL not in r.text
    assert "<EMAIL_ADDRESS_" in out["structured_messages"][1]["tool_calls"][0]["function"]["arguments"]
    # Without the rows LiteLLM cannot take rewritten arguments back: blocked, never passed on.
    r = call(gw, pre(["send it"], str(uuid.uuid4()), tool_calls=tool_calls))
    out = r.json()
    assert out["action"] == "BLOCKED" and EMAIL not in r.text


def test_policy_denial_is_blocked_with_a_reason_free_of_pii(gw: Gateway) -> None:
    r = call(gw, pre([f"hi, I am {EMAIL}"], str(uuid.uuid4()), model="llama-2-7b-uncensored"))
    assert r.status_code == 200
    out = r.json()
    assert out["action"] == "BLOCKED" and out["texts"] is None
    assert "policy" in out["blocked_reason"] and EMAIL not in r.text


@pytest.mark.parametrize(
    "body, field",
    [
        ({"input_type": "request"}, "texts"),
        ({"input_type": "request", "texts": "a string"}, "texts"),
        ({"input_type": "request", "texts": [1, 2]}, "texts.0"),
        ({"input_type": "request", "texts": None}, "texts"),
        ({"input_type": "during_call", "texts": ["x"]}, "input_type"),
        ({"texts": ["x"]}, "input_type"),
        ({"input_type": "request", "texts": ["x"], "request_data": "team"}, "request_data"),
        ([1, 2, 3], None),
    ],
)
def test_bad_calls_are_400_in_the_openai_shape_never_none(gw: Gateway, body: Any, field: str | None) -> None:
    r = httpx.post(gw.url + GUARDRAIL, json=body, headers={"x-api-key": gw.key})
    assert r.status_code == 400, r.text
    err = r.json()["error"]
    assert err["type"] == "invalid_request_error" and "action" not in r.json()
    if field:
        assert f"'{field}'" in err["message"]


def test_bad_bodies(gw: Gateway) -> None:
    h = {"x-api-key": gw.key}
    assert httpx.post(gw.url + GUARDRAIL, content=b"{not json", headers=h).status_code == 400
    assert httpx.post(gw.url + GUARDRAIL, content=b"", headers=h).status_code == 400
    deep = b'{"input_type":"request","texts":["x"],"request_data":' + b"[" * 200 + b"]" * 200 + b"}"
    assert httpx.post(gw.url + GUARDRAIL, content=deep, headers=h).status_code == 400
    gz = httpx.post(gw.url + GUARDRAIL, content=b"\x1f\x8b", headers={**h, "content-encoding": "gzip"})
    assert gz.status_code == 415
    big = httpx.post(gw.url + GUARDRAIL, content=b"x" * (gw.app.config.server.max_body_bytes + 1), headers=h)
    assert big.status_code == 413
    assert httpx.get(gw.url + GUARDRAIL, headers=h).status_code == 405


def test_wrong_or_missing_key_is_401_and_leaks_nothing(gw: Gateway) -> None:
    body = pre([f"mail {EMAIL}"], str(uuid.uuid4()))
    for key in (None, "", "wrong-key-of-some-length", gw.key + "x", gw.key[:-1]):
        r = call(gw, body, key=key)
        assert r.status_code == 401, (key, r.text)
        assert r.json()["error"]["type"] == "authentication_error" and EMAIL not in r.text


def test_every_call_leaves_an_audit_record_without_text(gw: Gateway) -> None:
    before = len(gw.guardrail_events())
    cid = str(uuid.uuid4())
    call(gw, pre([f"mail {EMAIL}"], cid))
    call(gw, post(["ok"], cid))
    call(gw, pre(["x"], cid, model="llama-2-7b-uncensored"))
    events = gw.guardrail_events()
    assert len(events) >= before + 3
    last = events[-3:]
    assert [e["payload"]["guardrail"]["input_type"] for e in last] == ["request", "response", "request"]
    assert [e["payload"]["guardrail"]["action"] for e in last] == ["GUARDRAIL_INTERVENED", "NONE", "BLOCKED"]
    assert last[0]["tenant"] == "team-a" and last[0]["payload"]["pii"] == {"EMAIL_ADDRESS": 1}
    assert last[2]["payload"]["decision"] == "deny"
    raw = gw.audit.read_text()
    assert EMAIL not in raw and "boss@corp.example" not in raw


_TEXT = st.text(alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="<>@"), max_size=40)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(parts=st.lists(st.tuples(_TEXT, _TEXT), min_size=1, max_size=3))
def test_any_text_with_an_email_never_leaves_and_comes_back_exactly(
    gw: Gateway, parts: list[tuple[str, str]]
) -> None:
    cid = str(uuid.uuid4())
    texts = [f"{a} {EMAIL} {b}" for a, b in parts]
    out = call(gw, pre(texts, cid)).json()
    assert out["action"] == "GUARDRAIL_INTERVENED"
    assert all(EMAIL not in t for t in out["texts"])
    back = call(gw, post(out["texts"], cid)).json()
    assert back["texts"] == texts


def test_concurrent_calls_get_only_their_own_values_back(gw: Gateway) -> None:
    import asyncio

    async def one(client: httpx.AsyncClient, i: int) -> tuple[str, str]:
        cid, email = str(uuid.uuid4()), f"user{i}.x{uuid.uuid4().hex[:6]}@example.net"
        h = {"x-api-key": gw.key}
        out = (await client.post(GUARDRAIL, json=pre([f"I am {email}"], cid), headers=h)).json()
        token = out["texts"][0].split()[-1]
        back = (await client.post(GUARDRAIL, json=post([f"Hello {token}"], cid), headers=h)).json()
        return email, back["texts"][0]

    async def run() -> list[tuple[str, str]]:
        async with httpx.AsyncClient(base_url=gw.url, timeout=30) as client:
            return await asyncio.gather(*(one(client, i) for i in range(24)))

    for email, answer in asyncio.run(run()):
        assert answer == f"Hello {email}"


def test_audit_store_down_fails_closed_with_503_not_none(gw: Gateway) -> None:
    writer = gw.app.chain.pipeline.plugin("audit").writer
    writer._broken = True  # what a failed write does: the store cannot take records
    try:
        r = call(gw, pre([f"mail {EMAIL}"], str(uuid.uuid4())))
        assert r.status_code == 503, r.text
        assert "action" not in r.json() and EMAIL not in r.text
    finally:
        writer._broken = False
