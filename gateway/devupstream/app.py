"""The dev model server's HTTP API: OpenAI's routes over one :class:`Engine`.

Routes: ``POST /v1/chat/completions``, ``POST /v1/completions``,
``POST /v1/embeddings``, ``GET /v1/models``, ``GET /health``, and
``GET|DELETE /debug/requests``: the last request bodies exactly as received,
so a demo can show what reached the model (after the gateway's redaction).

Streaming answers are Server-Sent Events written by :class:`SSEResponse`, which
watches for the client's disconnect itself and sets the generation's cancel
flag, instead of relying on how a given server version reports it.
"""

from __future__ import annotations

import asyncio
import base64
import threading
import time
import uuid
from collections import deque
from collections.abc import AsyncIterator
from dataclasses import asdict
from datetime import UTC, datetime
from typing import Any

import numpy as np
import orjson
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from gateway.chain.errors import BadRequest, GatewayError, MethodNotAllowed, NotFound
from gateway.devupstream.engine import Engine, GenerationResult, SamplingParams
from gateway.devupstream.schemas import ChatRequest, CompletionRequest, EmbeddingRequest, _Sampling, parse
from gateway.devupstream.stops import StopFilter, cut_at_stop

DEBUG_REQUESTS_KEPT = 50
DONE = b"data: [DONE]\n\n"


def _json(data: Any, status: int = 200) -> Response:
    return Response(orjson.dumps(data), status_code=status, media_type="application/json")


def _event(data: Any) -> bytes:
    return b"data: " + orjson.dumps(data) + b"\n\n"


def _usage(prompt: int, completion: int) -> dict[str, int]:
    return {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion}


class DebugLog:
    """The last N request bodies, byte for byte (decoded as UTF-8 for JSON)."""

    def __init__(self, size: int = DEBUG_REQUESTS_KEPT):
        self.entries: deque[dict[str, Any]] = deque(maxlen=size)

    def record(self, method: str, path: str, raw: bytes) -> None:
        try:
            parsed = orjson.loads(raw)
        except orjson.JSONDecodeError:
            parsed = None
        self.entries.append(
            {
                "time": datetime.now(UTC).isoformat(),
                "method": method,
                "path": path,
                "body": raw.decode("utf-8", errors="replace"),
                "json": parsed,
            }
        )


class SSEResponse:
    """Send events as they come; on client disconnect, set ``cancel``."""

    def __init__(self, events: AsyncIterator[bytes], cancel: threading.Event):
        self.events, self.cancel = events, cancel

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [
                    (b"content-type", b"text/event-stream; charset=utf-8"),
                    (b"cache-control", b"no-cache"),
                    (b"x-accel-buffering", b"no"),
                ],
            }
        )

        async def watch() -> None:
            while (await receive())["type"] != "http.disconnect":
                pass
            self.cancel.set()

        watcher = asyncio.create_task(watch())
        try:
            async for event in self.events:
                if not self.cancel.is_set():
                    await send({"type": "http.response.body", "body": event, "more_body": True})
            await send({"type": "http.response.body", "body": b"", "more_body": False})
        finally:
            watcher.cancel()


class DevUpstreamAPI:
    """Request handlers; state is the engine, the debug log and the start time."""

    def __init__(self, engine: Engine, debug: DebugLog | None = None):
        self.engine = engine
        self.debug = debug or DebugLog()
        self.created = int(time.time())

    # -- helpers -----------------------------------------------------------------
    async def _body(self, request: Request) -> Any:
        raw = await request.body()
        self.debug.record(request.method, request.url.path, raw)
        try:
            return orjson.loads(raw)
        except orjson.JSONDecodeError:
            raise BadRequest("the request body is not valid JSON", code="invalid_json") from None

    def _params(self, req: _Sampling, prompt_len: int, requested: int | None) -> SamplingParams:
        budget = self.engine.new_token_budget(prompt_len, requested)
        if budget < 1:
            raise BadRequest(
                f"the prompt has {prompt_len} tokens; the model's context is {self.engine.context_size}",
                code="context_length_exceeded",
            )
        return SamplingParams(budget, req.temperature, req.top_p, req.seed, req.stops())

    async def _complete(self, ids: list[int], params: SamplingParams) -> tuple[str, GenerationResult]:
        gen = await self.engine.start(ids, params, stream=False)
        result = await gen.result
        text, _ = cut_at_stop(self.engine.decode(result.token_ids), params.stops)
        return text, result

    async def _pieces(
        self, ids: list[int], params: SamplingParams, cancel: threading.Event
    ) -> AsyncIterator[str | GenerationResult]:
        """Text pieces as the model writes them (stop sequences cut), then the result."""
        gen = await self.engine.start(ids, params, stream=True, cancel=cancel)
        stop_filter = StopFilter(params.stops)
        assert gen.streamer is not None
        async for piece in gen.streamer:
            out = stop_filter.feed(piece)
            if out:
                yield out
        tail = stop_filter.flush()
        if tail:
            yield tail
        yield await gen.result

    def _stream(self, events: AsyncIterator[bytes], cancel: threading.Event) -> SSEResponse:
        async def guarded() -> AsyncIterator[bytes]:
            try:
                async for event in events:
                    yield event
            except Exception:  # headers are sent: report in-band, in OpenAI's shape
                yield b"data: " + GatewayError("the model failed while generating").body() + b"\n\n"
            yield DONE

        return SSEResponse(guarded(), cancel)

    # -- routes ------------------------------------------------------------------
    async def chat(self, request: Request) -> Response | SSEResponse:
        req = parse(ChatRequest, await self._body(request))
        assert isinstance(req, ChatRequest)
        messages = [{"role": m.role, "content": m.text()} for m in req.messages]
        ids = self.engine.chat_prompt_ids(messages)
        params = self._params(req, len(ids), req.requested_tokens())
        rid, created, model = f"chatcmpl-{uuid.uuid4().hex}", int(time.time()), self.engine.model_id
        if not req.stream:
            text, result = await self._complete(ids, params)
            return _json(
                {
                    "id": rid,
                    "object": "chat.completion",
                    "created": created,
                    "model": model,
                    "choices": [
                        {
                            "index": 0,
                            "message": {"role": "assistant", "content": text},
                            "logprobs": None,
                            "finish_reason": result.finish_reason,
                        }
                    ],
                    "usage": _usage(result.prompt_tokens, result.completion_tokens),
                }
            )
        cancel = threading.Event()
        extra = {"usage": None} if req.include_usage else {}

        def chunk(delta: dict[str, Any], finish: str | None = None) -> bytes:
            choice = {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}
            base = {"id": rid, "object": "chat.completion.chunk", "created": created, "model": model}
            return _event({**base, "choices": [choice], **extra})

        async def events() -> AsyncIterator[bytes]:
            yield chunk({"role": "assistant", "content": ""})
            async for item in self._pieces(ids, params, cancel):
                if isinstance(item, str):
                    yield chunk({"content": item})
                else:
                    yield chunk({}, item.finish_reason)
                    if req.include_usage:
                        usage = _usage(item.prompt_tokens, item.completion_tokens)
                        yield _event(
                            {
                                "id": rid,
                                "object": "chat.completion.chunk",
                                "created": created,
                                "model": model,
                                "choices": [],
                                "usage": usage,
                            }
                        )

        return self._stream(events(), cancel)

    async def completions(self, request: Request) -> Response | SSEResponse:
        req = parse(CompletionRequest, await self._body(request))
        assert isinstance(req, CompletionRequest)
        prompts = req.prompts()
        if not prompts:
            raise BadRequest("'prompt' must not be empty", code="invalid_value")
        jobs = []
        for prompt in prompts:
            ids = self.engine.text_prompt_ids(prompt)
            jobs.append((ids, self._params(req, len(ids), req.max_tokens)))
        rid, created, model = f"cmpl-{uuid.uuid4().hex}", int(time.time()), self.engine.model_id
        if not req.stream:
            choices, prompt_tokens, completion_tokens = [], 0, 0
            for index, (ids, params) in enumerate(jobs):
                text, result = await self._complete(ids, params)
                choices.append(
                    {"index": index, "text": text, "logprobs": None, "finish_reason": result.finish_reason}
                )
                prompt_tokens += result.prompt_tokens
                completion_tokens += result.completion_tokens
            return _json(
                {
                    "id": rid,
                    "object": "text_completion",
                    "created": created,
                    "model": model,
                    "choices": choices,
                    "usage": _usage(prompt_tokens, completion_tokens),
                }
            )
        cancel = threading.Event()
        extra = {"usage": None} if req.include_usage else {}
        base = {"id": rid, "object": "text_completion", "created": created, "model": model}

        def chunk(index: int, text: str, finish: str | None = None) -> bytes:
            choice = {"index": index, "text": text, "logprobs": None, "finish_reason": finish}
            return _event({**base, "choices": [choice], **extra})

        async def events() -> AsyncIterator[bytes]:
            prompt_tokens = completion_tokens = 0
            for index, (ids, params) in enumerate(jobs):
                if cancel.is_set():
                    break
                async for item in self._pieces(ids, params, cancel):
                    if isinstance(item, str):
                        yield chunk(index, item)
                    else:
                        yield chunk(index, "", item.finish_reason)
                        prompt_tokens += item.prompt_tokens
                        completion_tokens += item.completion_tokens
            if req.include_usage:
                yield _event({**base, "choices": [], "usage": _usage(prompt_tokens, completion_tokens)})

        return self._stream(events(), cancel)

    async def embeddings(self, request: Request) -> Response:
        req = parse(EmbeddingRequest, await self._body(request))
        assert isinstance(req, EmbeddingRequest)
        vectors, tokens = await self.engine.embed(req.texts())
        data = []
        for index, vector in enumerate(vectors):
            value: Any = vector
            if req.encoding_format == "base64":
                value = base64.b64encode(np.asarray(vector, dtype="<f4").tobytes()).decode()
            data.append({"object": "embedding", "index": index, "embedding": value})
        return _json(
            {
                "object": "list",
                "data": data,
                "model": self.engine.model_id,
                "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
            }
        )

    async def models(self, request: Request) -> Response:
        entry = {
            "id": self.engine.model_id,
            "object": "model",
            "created": self.created,
            "owned_by": "dev-upstream",
        }
        return _json({"object": "list", "data": [entry]})

    async def health(self, request: Request) -> Response:
        return _json(
            {
                "status": "ok",
                "model": self.engine.model_id,
                "source": self.engine.source,
                "busy": self.engine.busy,
                "stats": asdict(self.engine.stats),
            }
        )

    async def debug_requests(self, request: Request) -> Response:
        if request.method == "DELETE":
            self.debug.entries.clear()
        return _json(list(self.debug.entries))


async def _gateway_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, GatewayError)
    return Response(
        exc.body(), status_code=exc.status, headers=dict(exc.headers), media_type="application/json"
    )


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    mapped = {404: NotFound("no such route"), 405: MethodNotAllowed("method not allowed on this route")}
    err = mapped.get(exc.status_code) or GatewayError(str(exc.detail))
    return Response(err.body(), status_code=err.status, media_type="application/json")


async def _unexpected(request: Request, exc: Exception) -> Response:
    return Response(GatewayError("internal error").body(), status_code=500, media_type="application/json")


def build_app(engine: Engine) -> Starlette:
    """The ASGI app; the engine (and its model) is loaded before, at start-up."""
    api = DevUpstreamAPI(engine)
    routes = [
        Route("/v1/chat/completions", api.chat, methods=["POST"]),
        Route("/v1/completions", api.completions, methods=["POST"]),
        Route("/v1/embeddings", api.embeddings, methods=["POST"]),
        Route("/v1/models", api.models, methods=["GET"]),
        Route("/health", api.health, methods=["GET"]),
        Route("/debug/requests", api.debug_requests, methods=["GET", "DELETE"]),
    ]
    handlers = {GatewayError: _gateway_error, HTTPException: _http_error, Exception: _unexpected}
    app = Starlette(routes=routes, exception_handlers=handlers)  # type: ignore[arg-type]
    app.state.api = api
    return app
