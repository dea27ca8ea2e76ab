"""An OpenAI-compatible model server for gateway tests: real HTTP, deterministic answers.

It echoes the last user message back (so tests can see exactly what the model
server received), streams word by word with a configurable delay, and can be
told to be slow or to fail. Every received body is kept in ``received``.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import orjson


class EchoUpstream:
    def __init__(
        self,
        name: str = "echo",
        *,
        chunk_delay: float = 0.0,
        first_byte_delay: float = 0.0,
        fail_status: int | None = None,
        models: tuple[str, ...] = ("echo-1",),
    ) -> None:
        self.name = name
        self.chunk_delay = chunk_delay
        self.first_byte_delay = first_byte_delay
        self.fail_status = fail_status
        self.models = models
        self.received: list[dict[str, Any]] = []
        self.headers: list[dict[str, str]] = []
        self.stream_cancelled = asyncio.Event()
        self.cancelled_flag = False
        self.endless = False
        self.stall_after: int | None = None  # stop sending (but keep the connection) after N chunks

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            while True:
                msg = await receive()
                if msg["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                else:
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        if scope["type"] != "http":
            return
        path = scope["path"]
        if path == "/v1/models":
            data = [{"id": m, "object": "model"} for m in self.models]
            await self._json(send, 200, {"object": "list", "data": data})
            return
        body = b""
        while True:
            msg = await receive()
            body += msg.get("body", b"")
            if not msg.get("more_body"):
                break
        self._receive = receive
        req = orjson.loads(body)
        self.received.append(req)
        self.headers.append({k.decode(): v.decode() for k, v in scope["headers"]})
        if self.first_byte_delay:
            await asyncio.sleep(self.first_byte_delay)
        if self.fail_status:
            await self._json(
                send, self.fail_status, {"error": {"message": "upstream failure", "type": "server_error"}}
            )
            return
        if path == "/v1/embeddings":
            inputs = req["input"] if isinstance(req["input"], list) else [req["input"]]
            data = [
                {"object": "embedding", "index": i, "embedding": [float(len(t)), 1.0]}
                for i, t in enumerate(inputs)
            ]
            await self._json(
                send,
                200,
                {
                    "object": "list",
                    "data": data,
                    "model": req["model"],
                    "usage": {"prompt_tokens": 3, "total_tokens": 3},
                },
            )
            return
        if path == "/v1/chat/completions":
            text = self._last_user_text(req)
        else:
            prompt = req["prompt"]
            text = prompt if isinstance(prompt, str) else " ".join(prompt)
        reply = f"{self.name} says: {text}"
        words = reply.split(" ")
        if req.get("stream"):
            await self._stream(send, req, words, path)
            return
        usage = {"prompt_tokens": 7, "completion_tokens": len(words), "total_tokens": 7 + len(words)}
        if path == "/v1/chat/completions":
            out = {
                "id": "chatcmpl-1",
                "object": "chat.completion",
                "created": int(time.time()),
                "model": req["model"],
                "choices": [
                    {"index": 0, "message": {"role": "assistant", "content": reply}, "finish_reason": "stop"}
                ],
                "usage": usage,
            }
        else:
            out = {
                "id": "cmpl-1",
                "object": "text_completion",
                "model": req["model"],
                "choices": [{"index": 0, "text": reply, "finish_reason": "stop"}],
                "usage": usage,
            }
        await self._json(send, 200, out)

    @staticmethod
    def _last_user_text(req: dict[str, Any]) -> str:
        for m in reversed(req["messages"]):
            if m.get("role") == "user":
                c = m.get("content")
                if isinstance(c, list):
                    return " ".join(p.get("text", "") for p in c if isinstance(p, dict))
                return c or ""
        return ""

    async def _stream(self, send: Any, req: dict[str, Any], words: list[str], path: str) -> None:
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [(b"content-type", b"text/event-stream")],
            }
        )
        chat = path == "/v1/chat/completions"
        gone = asyncio.ensure_future(self._wait_disconnect(self._receive))
        try:
            i = 0
            while i < len(words) or self.endless:
                if gone.done():
                    self.cancelled_flag = True
                    return
                w = words[i % len(words)] + (" " if i < len(words) - 1 or self.endless else "")
                if chat:
                    ev = {
                        "id": "c1",
                        "object": "chat.completion.chunk",
                        "model": req["model"],
                        "choices": [{"index": 0, "delta": {"content": w}, "finish_reason": None}],
                    }
                else:
                    ev = {
                        "id": "c1",
                        "object": "text_completion",
                        "model": req["model"],
                        "choices": [{"index": 0, "text": w, "finish_reason": None}],
                    }
                await send(
                    {
                        "type": "http.response.body",
                        "body": b"data: " + orjson.dumps(ev) + b"\n\n",
                        "more_body": True,
                    }
                )
                i += 1
                if self.stall_after is not None and i >= self.stall_after:
                    await asyncio.sleep(3600)
                if self.chunk_delay:
                    await asyncio.sleep(self.chunk_delay)
            if (req.get("stream_options") or {}).get("include_usage"):
                usage = {"prompt_tokens": 7, "completion_tokens": len(words), "total_tokens": 7 + len(words)}
                ev = {"id": "c1", "object": "chat.completion.chunk", "choices": [], "usage": usage}
                await send(
                    {
                        "type": "http.response.body",
                        "body": b"data: " + orjson.dumps(ev) + b"\n\n",
                        "more_body": True,
                    }
                )
            await send({"type": "http.response.body", "body": b"data: [DONE]\n\n", "more_body": False})
        except (asyncio.CancelledError, OSError):
            self.cancelled_flag = True
            raise
        finally:
            gone.cancel()

    @staticmethod
    async def _wait_disconnect(receive: Any) -> None:
        while (await receive())["type"] != "http.disconnect":
            pass

    @staticmethod
    async def _json(send: Any, status: int, obj: Any) -> None:
        body = orjson.dumps(obj)
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [(b"content-type", b"application/json")],
            }
        )
        await send({"type": "http.response.body", "body": body})
