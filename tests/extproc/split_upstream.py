"""The echo model server, streaming in awkward pieces: a few characters per SSE event and each
event written in two halves (cut mid-line), so placeholders and lines are split across chunks."""

from __future__ import annotations

import asyncio
from typing import Any

import orjson

from tests.gateway.upstream_app import EchoUpstream


class SplitEcho(EchoUpstream):
    def __init__(self, *args: Any, chars_per_event: int = 3, pause: float = 0.002, **kw: Any) -> None:
        super().__init__(*args, **kw)
        self.chars_per_event = chars_per_event
        self.pause = pause
        self.stall_after_events: int | None = None  # then go quiet (the client gives up)
        self.garbage_after_events: int | None = None  # then one event that is not JSON

    async def _stream(self, send: Any, req: dict[str, Any], words: list[str], path: str) -> None:
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [(b"content-type", b"text/event-stream")],
            }
        )
        text = " ".join(words)
        n = self.chars_per_event
        for i in range(0, len(text), n):
            ev = {
                "id": "c1",
                "object": "chat.completion.chunk",
                "model": req["model"],
                "choices": [{"index": 0, "delta": {"content": text[i : i + n]}, "finish_reason": None}],
            }
            raw = b"data: " + orjson.dumps(ev) + b"\n\n"
            cut = len(raw) // 2
            for part in (raw[:cut], raw[cut:]):
                await send({"type": "http.response.body", "body": part, "more_body": True})
                await asyncio.sleep(self.pause)
            if self.garbage_after_events is not None and i // n + 1 == self.garbage_after_events:
                await send({"type": "http.response.body", "body": b"data: {not json\n\n", "more_body": True})
            if self.stall_after_events is not None and i // n + 1 >= self.stall_after_events:
                await asyncio.sleep(5)
                return
        if (req.get("stream_options") or {}).get("include_usage"):
            usage = {"prompt_tokens": 7, "completion_tokens": len(text) // n + 1, "total_tokens": 7}
            ev = {"id": "c1", "object": "chat.completion.chunk", "choices": [], "usage": usage}
            await send(
                {
                    "type": "http.response.body",
                    "body": b"data: " + orjson.dumps(ev) + b"\n\n",
                    "more_body": True,
                }
            )
        await send({"type": "http.response.body", "body": b"data: [DONE]\n\n", "more_body": False})
