"""A real OpenAI-compatible model server for the screening tests.

It keeps the raw bytes of every request (what really left the gateway) and
answers with every string it received (values and object keys, in order;
URLs and the routing fields aside), so pseudonyms come back in the answer and
the gateway must restore them. Streams are cut where the test says: the answer
text at ``cuts`` (fractions of its length; one content event per piece) and
then the SSE bytes at ``byte_cuts`` (anywhere: mid-line, mid-character), each piece sent on its own.
"""

from __future__ import annotations

import asyncio
from typing import Any

import orjson

NOT_ECHOED = frozenset({"model", "stream", "stream_options", "max_tokens"})


def echo_text(body: dict[str, Any]) -> str:
    out: list[str] = []

    def walk(v: Any) -> None:
        if isinstance(v, str):
            if v and not v.startswith(("http://", "https://", "data:")):
                out.append(v)
        elif isinstance(v, dict):
            for k, x in v.items():
                out.append(k)
                walk(x)
        elif isinstance(v, list):
            for x in v:
                walk(x)

    for k, v in body.items():
        if k not in NOT_ECHOED:
            walk(v)
    return " | ".join(out)


class ScreeningUpstream:
    def __init__(self) -> None:
        self.raw: list[bytes] = []
        self.cuts: list[float] = []  # fractions of the answer's length
        self.byte_cuts: list[float] = []  # fractions of the SSE body's length

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            while True:
                msg = await receive()
                await send({"type": msg["type"] + ".complete"})
                if msg["type"] == "lifespan.shutdown":
                    return
        if scope["type"] != "http":
            return
        body = b""
        while True:
            msg = await receive()
            body += msg.get("body", b"")
            if not msg.get("more_body"):
                break
        if scope["path"] == "/v1/models":
            await self._json(send, {"object": "list", "data": [{"id": "echo-1", "object": "model"}]})
            return
        self.raw.append(body)
        req = orjson.loads(body)
        if scope["path"] == "/v1/embeddings":
            n = len(req["input"]) if isinstance(req["input"], list) else 1
            await self._json(
                send,
                {
                    "object": "list",
                    "model": req["model"],
                    "usage": {"prompt_tokens": 1, "total_tokens": 1},
                    "data": [{"object": "embedding", "index": i, "embedding": [0.5]} for i in range(n)],
                },
            )
            return
        chat = scope["path"] == "/v1/chat/completions"
        text = echo_text(req)
        if not req.get("stream"):
            choice: dict[str, Any] = (
                {"index": 0, "message": {"role": "assistant", "content": text}}
                if chat
                else {"index": 0, "text": text}
            )
            await self._json(
                send,
                {
                    "id": "x1",
                    "object": "chat.completion" if chat else "text_completion",
                    "model": req["model"],
                    "choices": [{**choice, "finish_reason": "stop"}],
                    "usage": {"prompt_tokens": 5, "completion_tokens": 5, "total_tokens": 10},
                },
            )
            return
        await self._stream(send, req, text, chat)

    async def _stream(self, send: Any, req: dict[str, Any], text: str, chat: bool) -> None:
        bounds = sorted({int(f * len(text)) for f in self.cuts} - {0, len(text)})
        pieces = [text[a:b] for a, b in zip([0, *bounds], [*bounds, len(text)], strict=True)]
        events = []
        for p in pieces:
            choice = {"index": 0, "delta": {"content": p}} if chat else {"index": 0, "text": p}
            events.append(
                {
                    "id": "x1",
                    "object": "chat.completion.chunk",
                    "model": req["model"],
                    "choices": [{**choice, "finish_reason": None}],
                }
            )
        last = {"index": 0, "delta": {}} if chat else {"index": 0, "text": ""}
        events.append(
            {
                "id": "x1",
                "object": "chat.completion.chunk",
                "model": req["model"],
                "choices": [{**last, "finish_reason": "stop"}],
            }
        )
        if (req.get("stream_options") or {}).get("include_usage"):
            events.append(
                {
                    "id": "x1",
                    "object": "chat.completion.chunk",
                    "choices": [],
                    "usage": {"prompt_tokens": 5, "completion_tokens": len(pieces), "total_tokens": 9},
                }
            )
        data = b"".join(b"data: " + orjson.dumps(e) + b"\n\n" for e in events) + b"data: [DONE]\n\n"
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [(b"content-type", b"text/event-stream")],
            }
        )
        bounds = sorted({int(f * len(data)) for f in self.byte_cuts} - {0, len(data)})
        for a, b in zip([0, *bounds], [*bounds, len(data)], strict=True):
            await send({"type": "http.response.body", "body": data[a:b], "more_body": True})
            await asyncio.sleep(0)
        await send({"type": "http.response.body", "body": b"", "more_body": False})

    @staticmethod
    async def _json(send: Any, obj: Any) -> None:
        body = orjson.dumps(obj)
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [(b"content-type", b"application/json")],
            }
        )
        await send({"type": "http.response.body", "body": body})
