"""Every string that leaves for the model server is screened, by the field's meaning.

The PII plugin's request hook, called directly with a RequestContext (real engine).
The end-to-end property test through a real gateway and a real upstream is in
test_screening_property.py.
"""

from __future__ import annotations

import asyncio
import base64
import json
import struct
import zlib

import pytest

from gateway.chain.context import Identity, RequestContext
from gateway.chain.errors import BadRequest
from gateway.chain.plugins.pii import PIIPlugin
from gateway.config import GatewayConfig

EMAIL, MOBILE, CARD = "maria.gonzalez@example.com", "13812345678", "4111 1111 1111 1111"
RID = "11010519491231002X"  # a resident ID with a valid check digit


def _png() -> str:
    """A real 1x1 PNG, base64 (binary: not UTF-8)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    raw = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0))
    raw += chunk(b"IDAT", zlib.compress(b"\x00\xff\x00\x00")) + chunk(b"IEND", b"")
    return base64.b64encode(raw * 4).decode()  # a few hundred characters, like a real (small) image


PNG = _png()


def make_ctx(body, route="chat", model=None):
    return RequestContext(
        request_id="r1",
        route=route,
        method="POST",
        path="/v1/x",
        headers={},
        body=body,
        model=model if model is not None else body.get("model"),
        identity=Identity(subject="alice", tenant="acme"),
    )


async def _started(unknown="screen", config=None) -> PIIPlugin:
    plugin = PIIPlugin(PIIPlugin.Settings.model_validate({"unknown_fields": unknown}), config=config)
    await plugin.startup()
    return plugin


@pytest.fixture(scope="module")
def plugin():
    config = GatewayConfig.model_validate(
        {"upstreams": [{"name": "u", "url": "http://127.0.0.1:1", "models": ["echo-1", "*"]}]}
    )
    return asyncio.run(_started(config=config))


@pytest.fixture(scope="module")
def strict():
    return asyncio.run(_started("reject"))


async def _sent(plugin, body, route="chat") -> tuple[dict, RequestContext]:
    ctx = make_ctx(body, route)
    await plugin.on_request(ctx)
    return ctx.body, ctx


def _leaks(obj) -> list[str]:
    dumped = json.dumps(obj, ensure_ascii=False)
    return [v for v in (EMAIL, MOBILE, CARD, RID, "Maria Gonzalez") if v in dumped]


async def test_every_known_field_is_screened(plugin):
    schema = {
        "type": "object",
        "title": f"record of {EMAIL}",
        "properties": {EMAIL: {"type": "string", "description": f"call {MOBILE}", "enum": [RID, "x"]}},
        "required": [EMAIL],
    }
    body = {
        "model": "echo-1",
        "messages": [
            {"role": "system", "content": [{"type": "text", "text": f"card {CARD}"}]},
            {"role": "user", "name": "Maria Gonzalez", "content": f"hi, {EMAIL}"},
            {
                "role": "assistant",
                "content": None,
                "tool_calls": [
                    {
                        "id": f"call {MOBILE}",
                        "type": "function",
                        "function": {
                            "name": "lookup",
                            "arguments": json.dumps({"who": {"id": RID}, EMAIL: [MOBILE]}),
                        },
                    }
                ],
            },
            {"role": "tool", "tool_call_id": f"call {MOBILE}", "content": "ok"},
        ],
        "tools": [
            {
                "type": "function",
                "function": {"name": "lookup", "description": f"looks up {EMAIL}", "parameters": schema},
            }
        ],
        "response_format": {"type": "json_schema", "json_schema": {"name": "r", "schema": schema}},
        "stop": [f"{MOBILE} ", "END"],
        "user": EMAIL,
        "metadata": {"owner": EMAIL, f"id {RID}": "x"},
        "tool_choice": {"type": "function", "function": {"name": f"mail {EMAIL}"}},
        "max_tokens": 10,
    }
    sent, ctx = await _sent(plugin, body)
    assert not _leaks(sent), _leaks(sent)
    # Tool-call arguments stay valid JSON, with the same structure and redacted keys and values.
    args = json.loads(sent["messages"][2]["tool_calls"][0]["function"]["arguments"])
    assert args == {"who": {"id": "<CN_RESIDENT_ID_1>"}, "<EMAIL_ADDRESS_1>": ["<CN_MOBILE_1>"]}
    # Schema keys are renamed in place (order kept), and "required" follows them.
    params = sent["tools"][0]["function"]["parameters"]
    assert list(params["properties"]) == ["<EMAIL_ADDRESS_1>"] and params["required"] == ["<EMAIL_ADDRESS_1>"]
    assert list(sent["metadata"]) == ["owner", "id <CN_RESIDENT_ID_1>"]
    # Closed vocabularies, numbers and the model are untouched.
    assert sent["messages"][1]["role"] == "user" and sent["max_tokens"] == 10 and sent["model"] == "echo-1"
    assert sent["stop"] == ["<CN_MOBILE_1> ", "END"] and sent["messages"][1]["name"] == "<PERSON_1>"
    assert ctx.audit["pii"]["EMAIL_ADDRESS"] >= 8 and ctx.audit["pii"]["CN_RESIDENT_ID"] >= 3
    assert body["user"] == EMAIL  # the parsed original is not changed (the policy may re-redact from it)


async def test_completions_prompt_and_embeddings_input(plugin):
    sent, _ = await _sent(
        plugin, {"model": "m", "prompt": [f"to {EMAIL}", "x"], "suffix": MOBILE, "echo": True}, "completions"
    )
    assert sent["prompt"] == ["to <EMAIL_ADDRESS_1>", "x"] and sent["suffix"] == "<CN_MOBILE_1>"
    sent, _ = await _sent(
        plugin, {"model": "m", "input": [EMAIL, "y"], "encoding_format": "float"}, "embeddings"
    )
    assert sent["input"] == ["<EMAIL_ADDRESS_1>", "y"]
    for route, key in (("completions", "prompt"), ("embeddings", "input")):
        with pytest.raises(BadRequest, match="token ids"):
            await _sent(plugin, {"model": "m", key: [[1, 2], [3]]}, route)


async def test_image_urls_have_path_query_and_user_info_screened(plugin):
    urls = [
        f"https://img.example.org/u/{EMAIL}/photo.png?owner={MOBILE}&size=2#{RID}",
        "https://img.example.org/u/maria.gonzalez%2540example.com/p.png",  # encoded twice
        f"https://{EMAIL}/cat.png",  # user info + host form an address
        "https://img.example.org/cat.png?size=2&x=%20a+b",  # clean: sent byte for byte
    ]
    body = {
        "model": "m",
        "messages": [
            {
                "role": "user",
                "content": [{"type": "image_url", "image_url": {"url": u, "detail": "low"}} for u in urls],
            }
        ],
    }
    sent, _ = await _sent(plugin, body)
    out = [p["image_url"]["url"] for p in sent["messages"][0]["content"]]
    assert not _leaks(out) and "maria.gonzalez%2540" not in out[1]
    assert out[0].startswith("https://img.example.org/u/") and "size=2" in out[0]
    assert out[3] == urls[3]


async def test_data_urls_binary_images_pass_and_are_counted_others_refused(plugin):
    img = f"data:image/png;base64,{PNG}"
    body = {
        "model": "m",
        "messages": [
            {
                "role": "user",
                "content": [
                    {"type": "image_url", "image_url": {"url": img}},
                    {"type": "text", "text": "what is this?"},
                ],
            }
        ],
    }
    sent, ctx = await _sent(plugin, body)
    assert sent["messages"][0]["content"][0]["image_url"]["url"] == img
    assert ctx.audit["pii_unscreened_media"] == {"image": 1}
    text_as_image = base64.b64encode(f"write to {EMAIL} ".encode() * 20).decode()
    for url in (
        f"data:image/png;base64,{text_as_image}",
        "data:text/plain;base64,aGVsbG8=",
        f"data:image/svg+xml,<svg><text>{EMAIL}</text></svg>",
    ):
        body["messages"][0]["content"][0]["image_url"]["url"] = url
        with pytest.raises(BadRequest) as exc:
            await _sent(plugin, body)
        assert exc.value.code == "unscreenable_input" and EMAIL not in exc.value.message
    file_part = {
        "type": "file",
        "file": {"file_data": "data:application/pdf;base64,JVBERi0=", "filename": "a.pdf"},
    }
    with pytest.raises(BadRequest, match="file uploads"):
        await _sent(plugin, {"model": "m", "messages": [{"role": "user", "content": [file_part]}]})


async def test_unknown_fields_screened_by_default(plugin):
    body = {
        "model": "m",
        "messages": [{"role": "user", "content": "hi", "x_note": {"who": EMAIL}}],
        "vendor_extension": {"deep": [{"k": f"mobile {MOBILE}"}], EMAIL: 1},
        "role_hint": RID,
    }
    sent, _ = await _sent(plugin, body)
    assert not _leaks(sent)
    assert sent["vendor_extension"]["deep"][0]["k"] == "mobile <CN_MOBILE_1>"


async def test_unknown_fields_rejected_naming_the_path_never_the_value(strict):
    ok, _ = await _sent(
        strict,
        {
            "model": "m",
            "messages": [{"role": "user", "content": "hi"}],
            "top_k": 3,
            "metadata": {"free": "form"},
            "stream_options": {"include_usage": True},
        },
    )
    assert ok["top_k"] == 3
    cases = [
        ({"model": "m", "messages": [{"role": "user", "content": "hi"}], "x_trace": EMAIL}, "x_trace"),
        ({"model": "m", "messages": [{"role": "user", "content": "hi", "note": "n"}]}, "messages[0].note"),
        ({"model": "m", "messages": [{"role": "user", "content": "hi"}], EMAIL: 1}, "<key>"),
        (
            {
                "model": "m",
                "messages": [{"role": "user", "content": [{"type": "text", "text": "a", "x": MOBILE}]}],
            },
            "messages[0].content[0].x",
        ),
    ]
    for body, path in cases:
        with pytest.raises(BadRequest) as exc:
            await _sent(strict, body)
        assert exc.value.code == "unknown_field" and f"'{path}'" in exc.value.message
        assert not _leaks(exc.value.message)


async def test_personal_model_name_is_refused_configured_names_are_not_screened(plugin):
    with pytest.raises(BadRequest) as exc:
        await _sent(plugin, {"model": EMAIL, "messages": [{"role": "user", "content": "hi"}]})
    assert exc.value.code == "personal_data_in_model" and EMAIL not in exc.value.message
    sent, _ = await _sent(
        plugin, {"model": "qwen2.5-7b-instruct", "messages": [{"role": "user", "content": "x"}]}
    )
    assert sent["model"] == "qwen2.5-7b-instruct"


async def test_tool_arguments_edge_cases(plugin):
    def call(args):
        return {
            "model": "m",
            "messages": [
                {
                    "role": "assistant",
                    "tool_calls": [
                        {"id": "c", "type": "function", "function": {"name": "f", "arguments": args}}
                    ],
                }
            ],
        }

    def args_of(sent):
        return sent["messages"][0]["tool_calls"][0]["function"]["arguments"]

    # Escapes hide nothing: the engine reads the decoded value.
    sent, _ = await _sent(plugin, call('{"to": "maria.gonzalez\\u0040example.com"}'))
    assert json.loads(args_of(sent)) == {"to": "<EMAIL_ADDRESS_1>"}
    sent, _ = await _sent(plugin, call(json.dumps(EMAIL)))  # a JSON string, not an object
    assert json.loads(args_of(sent)) == "<EMAIL_ADDRESS_1>"
    sent, _ = await _sent(plugin, call(f"not json, mail {EMAIL}"))
    assert args_of(sent) == "not json, mail <EMAIL_ADDRESS_1>"
    deep = "[" * 5000 + "]" * 5000
    with pytest.raises(BadRequest, match="deep"):
        await _sent(plugin, call(deep))
    # Two keys that become one once redacted cannot both be forwarded.
    same = json.dumps({"13812345678": 1, "138-1234-5678": 2})
    with pytest.raises(BadRequest, match="same once redacted"):
        await _sent(plugin, call(same))


async def test_short_base64_audio_is_read_as_text_long_text_audio_refused(plugin):
    def audio(data):
        return {
            "model": "m",
            "messages": [
                {
                    "role": "user",
                    "content": [{"type": "input_audio", "input_audio": {"data": data, "format": "wav"}}],
                }
            ],
        }

    sent, ctx = await _sent(plugin, audio(MOBILE))
    assert MOBILE not in json.dumps(sent)
    wav = base64.b64encode(b"RIFF\x24\x08\x00\x00WAVEfmt " + bytes(range(256)) * 4).decode()
    sent, ctx = await _sent(plugin, audio(wav))
    assert sent["messages"][0]["content"][0]["input_audio"]["data"] == wav
    assert ctx.audit["pii_unscreened_media"] == {"audio": 1}
    with pytest.raises(BadRequest, match="not binary base64"):
        await _sent(plugin, audio(base64.b64encode(f"{EMAIL} ".encode() * 40).decode()))


async def test_json_schema_keywords_are_skipped_client_text_in_them_is_not(plugin):
    schema = {
        "type": "object",
        "$defs": {f"contact {EMAIL}": {"type": "string"}},
        "properties": {
            "a": {"type": ["string", "null"], "default": MOBILE, "examples": [RID], "pattern": f"^{EMAIL}$"},
            "b": {"type": EMAIL, "anyOf": [{"const": MOBILE}], "items": {"title": EMAIL}},
            "properties": {"type": "string", "x-owner": EMAIL, f"x-{MOBILE}": 1},
        },
        "required": ["a", "properties"],
    }
    body = {
        "model": "m",
        "messages": [{"role": "user", "content": "hi"}],
        "tools": [{"type": "function", "function": {"name": "f", "parameters": schema}}],
    }
    sent, _ = await _sent(plugin, body)
    out = sent["tools"][0]["function"]["parameters"]
    assert not _leaks(out), _leaks(out)
    assert out["type"] == "object" and out["properties"]["a"]["type"] == ["string", "null"]
    assert list(out["properties"]) == ["a", "b", "properties"] and out["required"] == ["a", "properties"]
    assert list(out["$defs"]) == ["contact <EMAIL_ADDRESS_1>"]
    assert out["properties"]["properties"]["x-owner"] == "<EMAIL_ADDRESS_1>"


async def test_reasoning_text_is_restored_and_redacted_streamed_or_not():
    """Reasoning models (DeepSeek-R1 on vLLM) stream `reasoning_content` next to `content`."""
    import copy

    plugin = PIIPlugin(
        PIIPlugin.Settings.model_validate({"default_operator": "pseudonymize", "ner": {"enabled": False}}),
        config=None,
    )
    await plugin.startup()
    reasoning = "The user is <EMAIL_ADDRESS_1>; the other one is bob@evil.example, keep it private."
    answer = "Done, <EMAIL_ADDRESS_1>."
    expect_r = f"The user is {EMAIL}; the other one is <EMAIL_ADDRESS_2>, keep it private."
    ctx = make_ctx({"model": "m", "messages": [{"role": "user", "content": f"I am {EMAIL}"}]})
    await plugin.on_request(ctx)
    ctx.response = {
        "choices": [
            {"index": 0, "message": {"role": "assistant", "reasoning_content": reasoning, "content": answer}}
        ]
    }
    await plugin.on_response(ctx)
    msg = ctx.response["choices"][0]["message"]
    assert msg["reasoning_content"] == expect_r and msg["content"] == f"Done, {EMAIL}."
    for step in (1, 3, 7):
        ctx = make_ctx({"model": "m", "messages": [{"role": "user", "content": f"I am {EMAIL}"}]})
        await plugin.on_request(ctx)
        events = [
            {
                "choices": [
                    {
                        "index": 0,
                        "delta": {"reasoning_content": reasoning[i : i + step]},
                        "finish_reason": None,
                    }
                ]
            }
            for i in range(0, len(reasoning), step)
        ]
        events += [
            {"choices": [{"index": 0, "delta": {"content": answer[i : i + step]}, "finish_reason": None}]}
            for i in range(0, len(answer), step)
        ]
        events.append({"choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]})
        out = []
        for ev in events:
            out.extend(plugin.on_chunk(ctx, copy.deepcopy(ev)))
        out.extend(plugin.on_stream_end(ctx))
        deltas = [c["choices"][0]["delta"] for c in out]
        assert "".join(d.get("reasoning_content") or "" for d in deltas) == expect_r
        assert "".join(d.get("content") or "" for d in deltas) == f"Done, {EMAIL}."


# --- the walk itself, on arbitrary JSON (no engine): nothing is missed, nothing else changes ---------

from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from privacy.pii.body import request_texts  # noqa: E402

_json = st.recursive(
    st.none() | st.booleans() | st.integers(-(10**6), 10**6) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner, max_size=4),
    max_leaves=20,
)


def _all_strings(obj):
    if isinstance(obj, str):
        yield obj
    elif isinstance(obj, dict):
        for k, v in obj.items():
            yield k
            yield from _all_strings(v)
    elif isinstance(obj, list):
        for v in obj:
            yield from _all_strings(v)


@settings(max_examples=150, deadline=None)
@given(
    field=st.sampled_from(["metadata", "user", "stop", "x_vendor", "ünknown field", "tool_choice"]),
    value=_json,
    extra=_json,
)
def test_walk_reaches_every_string_and_key_of_free_form_and_unknown_fields(field, value, extra):
    body = {"model": "m", "messages": [{"role": "user", "content": "c", "x_extra": extra}], field: value}
    before = json.dumps(body)
    texts = request_texts(body, "chat")
    texts.write(texts.texts())  # writing back what was read changes nothing, key order included
    assert json.dumps(body) == before
    texts = request_texts(body, "chat")
    texts.write([f"[{t}]" for t in texts.texts()])  # mark every screened string
    known = field in ("metadata", "user", "stop", "tool_choice")
    top = body[field] if known else body[f"[{field}]"]  # an unknown field's name is screened too
    for s in [*_all_strings(top), *_all_strings(body["messages"][0]["[x_extra]"])]:
        assert s == "" or (s.startswith("[") and s.endswith("]")), (field, s)
    assert body["model"] == "m" and body["messages"][0]["role"] == "user"
    assert body["messages"][0]["content"] == "[c]"
