"""What screening every field costs: the PII stage's request hook, field walk vs content-only walk.

Issue 11 made the PII stage screen every string that leaves for the model
server (names, tools and their schemas, tool-call arguments, URLs, stop, user,
metadata, unknown fields, object keys), where it used to read message content
only. In one run and on the same bodies this measures:

- ``walk``: ``privacy.pii.body.request_texts`` (field walk) against a
  content-only walk (the previous behaviour, kept here as the baseline);
- ``hook``: the whole ``PIIPlugin.on_request`` (walk, analysis with the real
  engine and its cache, redaction of a copy) with each walk.

Bodies: a 1 KB chat prompt (what the gateway bench sends) and a tool-using chat
(two tools with JSON schemas, a tool call, a tool result, metadata, stop,
user). Prints p50 per case and the ratios field/content; writes JSON to
``bench/results/screening_bench.json``. The content-only walk screens fewer
strings, so on the tool-using body the two hooks do different work (that
difference is the price of not leaking).

    python bench/screening_bench.py [--n 2000]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from gateway.chain.context import Identity, RequestContext  # noqa: E402
from gateway.chain.plugins import pii as pii_plugin  # noqa: E402
from gateway.config import GatewayConfig  # noqa: E402
from privacy.pii.body import Ref, Texts, request_texts  # noqa: E402


def content_only(body: dict[str, Any], route: str, unknown: str = "screen") -> Texts:
    """The previous walk: message content and text parts, tool-call arguments as one text."""
    out = Texts()
    for msg in body.get("messages") or []:
        content = msg.get("content")
        if isinstance(content, str) and content:
            out.refs.append(Ref(msg, "content"))
        elif isinstance(content, list):
            for part in content:
                if isinstance(part, dict) and isinstance(part.get("text"), str) and part["text"]:
                    out.refs.append(Ref(part, "text"))
        for call in msg.get("tool_calls") or []:
            fn = call.get("function") or {}
            if isinstance(fn.get("arguments"), str) and fn["arguments"]:
                out.refs.append(Ref(fn, "arguments"))
    return out


PROMPT = (
    "Summarise the following support ticket for the on-call engineer. The customer reports that "
    "the nightly export job has failed three times this week with a timeout while writing to the "
    "object store; retries succeed after about forty minutes. They ask whether the retention policy "
    "change last Tuesday could be related and want a workaround before the quarter closes. "
) * 3


def bodies() -> dict[str, dict[str, Any]]:
    schema = {
        "type": "object",
        "properties": {
            "order_id": {"type": "string", "description": "the order number as printed on the invoice"},
            "email": {"type": "string", "description": "where to send the confirmation"},
            "reason": {"type": "string", "enum": ["damaged", "late", "wrong item"]},
        },
        "required": ["order_id"],
    }
    return {
        "chat-1kb": {
            "model": "echo-1",
            "messages": [
                {"role": "system", "content": "You are a helpful assistant."},
                {"role": "user", "content": PROMPT[:1024]},
            ],
        },
        "chat-tools": {
            "model": "echo-1",
            "messages": [
                {"role": "system", "content": "You handle returns for an online shop."},
                {
                    "role": "user",
                    "name": "customer",
                    "content": "I want to return order 55-1203, it arrived broken.",
                },
                {
                    "role": "assistant",
                    "content": None,
                    "tool_calls": [
                        {
                            "id": "call_1",
                            "type": "function",
                            "function": {
                                "name": "create_return",
                                "arguments": json.dumps({"order_id": "55-1203", "reason": "damaged"}),
                            },
                        }
                    ],
                },
                {
                    "role": "tool",
                    "tool_call_id": "call_1",
                    "content": json.dumps({"status": "created", "label": "RMA-88"}),
                },
                {"role": "user", "content": "Thanks, where do I send it?"},
            ],
            "tools": [
                {
                    "type": "function",
                    "function": {
                        "name": "create_return",
                        "description": "open a return",
                        "parameters": schema,
                    },
                },
                {
                    "type": "function",
                    "function": {
                        "name": "track",
                        "description": "track a parcel",
                        "parameters": {"type": "object", "properties": {"tracking": {"type": "string"}}},
                    },
                },
            ],
            "metadata": {"channel": "web", "locale": "en-GB"},
            "stop": ["\n\nUser:"],
            "user": "session-7f3a",
            "max_tokens": 256,
        },
    }


def _p50(samples: list[float]) -> float:
    return statistics.median(samples) * 1e6


def bench_walk(body: dict[str, Any], walk: Any, n: int) -> float:
    out = []
    for _ in range(n):
        t0 = time.perf_counter()
        walk(body, "chat", "screen").texts()
        out.append(time.perf_counter() - t0)
    return _p50(out)


def bench_hook(plugin: Any, body: dict[str, Any], walk: Any, n: int) -> float:
    pii_plugin.request_texts = walk
    loop = asyncio.new_event_loop()
    out = []
    try:
        for _ in range(n):
            ctx = RequestContext(
                request_id="b",
                route="chat",
                method="POST",
                path="/v1/chat/completions",
                headers={},
                body=json.loads(json.dumps(body)),
                model=body["model"],
                identity=Identity(subject="s", tenant="acme"),
            )
            t0 = time.perf_counter()
            loop.run_until_complete(plugin.on_request(ctx))
            out.append(time.perf_counter() - t0)
    finally:
        loop.close()
        pii_plugin.request_texts = request_texts
    return _p50(out)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=2000)
    args = ap.parse_args()
    config = GatewayConfig.model_validate(
        {"upstreams": [{"name": "u", "url": "http://127.0.0.1:9", "models": ["echo-1"]}]}
    )
    plugin = pii_plugin.PIIPlugin(pii_plugin.PIIPlugin.Settings(), config)
    asyncio.run(plugin.startup())
    results: dict[str, Any] = {}
    print(
        f"{'body':<12} {'case':<6} {'content-only p50 us':>20} {'field walk p50 us':>18} {'ratio':>7} strings"
    )
    for name, body in bodies().items():
        n_field, n_content = len(request_texts(body, "chat").refs), len(content_only(body, "chat").refs)
        for case, fn in (
            ("walk", lambda w, b=body: bench_walk(b, w, args.n)),
            ("hook", lambda w, b=body: bench_hook(plugin, b, w, args.n // 4)),
        ):
            fn(request_texts)
            fn(content_only)  # warm both (engine cache, allocator)
            base, new = fn(content_only), fn(request_texts)
            results[f"{name}/{case}"] = {
                "content_only_p50_us": round(base, 2),
                "field_walk_p50_us": round(new, 2),
                "ratio": round(new / base, 2),
                "strings": [n_content, n_field],
            }
            print(
                f"{name:<12} {case:<6} {base:>20.1f} {new:>18.1f} {new / base:>7.2f} {n_content}->{n_field}"
            )
    out = REPO / "bench" / "results" / "screening_bench.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2))
    print(f"wrote {out.relative_to(REPO)}")


if __name__ == "__main__":
    main()
