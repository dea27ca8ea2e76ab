"""A stand-in for ``gateway.chain.core.Chain`` until the core lands on this branch.

It offers exactly the host-facing API agreed in notes/CORE.md, built from the
pipeline that exists today, so the Envoy host codes against the final shape.
It is imported only when ``gateway.chain.core`` is missing and is deleted once
the core is merged.
"""

from __future__ import annotations

import itertools
import os
import time
from typing import Any

import orjson

from gateway.chain.context import RequestContext
from gateway.chain.errors import GatewayError, PayloadTooLarge, UpstreamError
from gateway.chain.metrics import GatewayMetrics
from gateway.chain.pipeline import Pipeline, build_plugins
from gateway.chain.requests import CHECKS, parse_json_object
from gateway.config import GatewayConfig
from gateway.upstream import Router, Upstream


class UnsupportedMediaType(GatewayError):
    status = 415
    type = "invalid_request_error"
    code = "unsupported_media_type"


class StreamRelay:
    """SSE bytes in (chunk boundaries anywhere), screened SSE bytes out."""

    def __init__(self, chain: Chain, ctx: RequestContext) -> None:
        self.chain = chain
        self.ctx = ctx
        self._buf = b""
        self._done = False
        self._events = 0
        self._strip_usage = ctx.state.get("strip_usage_chunk", False)

    def feed(self, data: bytes) -> bytes:
        self._buf += data
        out: list[bytes] = []
        while True:
            nl = self._buf.find(b"\n")
            if nl < 0:
                break
            line, self._buf = self._buf[:nl].rstrip(b"\r"), self._buf[nl + 1:]
            out.append(self._line(line))
        return b"".join(out)

    def _line(self, line: bytes) -> bytes:
        if self._done or not line.startswith(b"data:"):
            return b""
        data = line[5:].strip()
        pipeline = self.chain.pipeline
        ctx = self.ctx
        if data == b"[DONE]":
            self._done = True
            tail = pipeline.on_stream_end(ctx) if pipeline.rewrites_chunks else []
            return _sse(tail) + b"data: [DONE]\n\n"
        try:
            chunk = orjson.loads(data)
        except orjson.JSONDecodeError:
            raise UpstreamError("the model server sent an invalid stream event", code="upstream_invalid") from None
        if not isinstance(chunk, dict):
            raise UpstreamError("the model server sent an invalid stream event", code="upstream_invalid")
        usage = chunk.get("usage")
        if isinstance(usage, dict) and isinstance(usage.get("completion_tokens"), int):
            ctx.completion_tokens = usage["completion_tokens"]
            if isinstance(usage.get("prompt_tokens"), int):
                ctx.prompt_tokens = usage["prompt_tokens"]
            self._events = -1
            if self._strip_usage and not chunk.get("choices"):
                return b""
        elif self._events >= 0 and chunk.get("choices"):
            self._events += 1
        if pipeline.rewrites_chunks:
            return _sse(pipeline.on_chunk(ctx, chunk))
        return b"data: " + data + b"\n\n"

    def end(self) -> bytes:
        out = self.feed(b"\n") if self._buf else b""
        if self._events > 0:
            self.ctx.completion_tokens = self._events
        if not self._done:
            pipeline = self.chain.pipeline
            tail = pipeline.on_stream_end(self.ctx) if pipeline.rewrites_chunks else []
            err = UpstreamError("the model server ended the stream early", code="upstream_incomplete")
            self.ctx.status, self.ctx.error_code = 502, err.code
            self._done = True
            return out + _sse(tail) + b"data: " + err.body() + b"\n\n"
        return out


class Chain:
    def __init__(self, config: GatewayConfig, *, plugins: list[Any] | None = None) -> None:
        self.config = config
        self.metrics = GatewayMetrics()
        self.router = Router([Upstream(u) for u in config.upstreams])
        self.pipeline = Pipeline(build_plugins(config) if plugins is None else plugins, self.router)
        for p in self.pipeline.plugins:
            p.metrics = self.metrics
        self._ids = itertools.count(1)
        self._id_prefix = os.urandom(4).hex()

    @classmethod
    def from_config(cls, config: GatewayConfig) -> Chain:
        return cls(config)

    async def startup(self) -> None:
        await self.pipeline.startup()

    async def shutdown(self) -> None:
        await self.pipeline.shutdown()

    async def ready(self) -> dict[str, dict[str, Any]]:
        out: dict[str, dict[str, Any]] = {}
        for p in self.pipeline.plugins:
            ok, detail = await p.ready()
            out[p.name] = {"ok": ok, "detail": detail}
        return out

    def new_context(self, *, route: str, method: str, path: str, headers: dict[str, str],
                    client: str | None) -> RequestContext:
        rid = headers.get("x-request-id") if self.config.server.trust_request_id else None
        return RequestContext(request_id=rid or f"{self._id_prefix}-{next(self._ids)}", route=route,
                              method=method, path=path, headers=headers, client=client)

    async def authenticate(self, ctx: RequestContext) -> None:
        await self.pipeline.authenticate(ctx)

    async def request(self, ctx: RequestContext, raw: bytes) -> bytes:
        limit = self.config.server.max_body_bytes
        if len(raw) > limit:
            raise PayloadTooLarge(f"the request body exceeds the limit of {limit} bytes")
        enc = ctx.headers.get("content-encoding", "identity").strip().lower()
        if enc not in ("", "identity"):
            raise UnsupportedMediaType("compressed request bodies are not accepted; send plain JSON")
        ctype = ctx.headers.get("content-type", "application/json").split(";")[0].strip().lower()
        if ctype != "application/json":
            raise UnsupportedMediaType("the request body must be application/json")
        body = parse_json_object(raw)
        ctx.model, ctx.prompt_tokens = CHECKS[ctx.route](body)
        ctx.body = body
        ctx.stream = bool(body.get("stream", False)) and ctx.route != "embeddings"
        await self.pipeline.on_request(ctx)
        body = ctx.body
        upstream = ctx.upstream
        if ctx.stream and upstream is not None and upstream.settings.stream_usage:
            opts = body.get("stream_options")
            if not (isinstance(opts, dict) and opts.get("include_usage")):
                body = {**body, "stream_options": {**(opts if isinstance(opts, dict) else {}), "include_usage": True}}
                ctx.state["strip_usage_chunk"] = True
        return orjson.dumps(body)

    async def response_json(self, ctx: RequestContext, raw: bytes, status: int = 200) -> bytes:
        try:
            parsed = orjson.loads(raw)
        except orjson.JSONDecodeError:
            raise UpstreamError("the model server answered with invalid JSON", code="upstream_invalid") from None
        if not isinstance(parsed, dict):
            raise UpstreamError("the model server answered with invalid JSON", code="upstream_invalid")
        ctx.response = parsed
        usage = parsed.get("usage")
        if isinstance(usage, dict):
            if isinstance(usage.get("completion_tokens"), int):
                ctx.completion_tokens = usage["completion_tokens"]
            if isinstance(usage.get("prompt_tokens"), int):
                ctx.prompt_tokens = usage["prompt_tokens"]
        if self.pipeline.rewrites_responses:
            await self.pipeline.on_response(ctx)
            raw = orjson.dumps(ctx.response)
        ctx.status = status
        return raw

    def stream(self, ctx: RequestContext) -> StreamRelay:
        ctx.status = 200
        return StreamRelay(self, ctx)

    async def commit(self, ctx: RequestContext) -> None:
        if ctx.state.get("_committed"):
            return
        ctx.state["_committed"] = True
        m = self.metrics
        m.count_request(ctx.route, ctx.status)
        m.observe_stages(ctx.timings)
        m.observe_request(ctx.route, time.perf_counter() - ctx.started)
        await self.pipeline.on_complete(ctx)

    def error_response(self, exc: GatewayError, ctx: RequestContext | None) -> tuple[int, list[tuple[str, str]], bytes]:
        headers = [("content-type", "application/json"), *exc.headers]
        if ctx is not None:
            ctx.status, ctx.error_code = exc.status, exc.code
            headers.extend(self.response_headers(ctx))
            self.metrics.denials.labels(exc.code).inc()
        return exc.status, headers, exc.body()

    def response_headers(self, ctx: RequestContext) -> list[tuple[str, str]]:
        out = [("x-request-id", ctx.request_id)]
        if ctx.timings:
            out.append(("server-timing", ctx.server_timing()))
        out.extend(ctx.response_headers)
        return out


def _sse(events: list[dict[str, Any]]) -> bytes:
    return b"".join(b"data: " + orjson.dumps(e) + b"\n\n" for e in events)
