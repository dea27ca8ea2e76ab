"""The gateway as a plain ASGI application.

One dict maps paths to handlers; the body is read once (with a size limit),
parsed once, checked once and handed to the plugin chain on the request
context. Streaming answers are relayed event by event through the chain's
chunk hooks; if the client goes away, the upstream request is cancelled.
Every error a client sees is rendered from gateway.chain.errors in the OpenAI shape.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import os
import time
from typing import Any

import orjson

from gateway.config import GatewayConfig
from gateway.chain.context import RequestContext
from gateway.chain.errors import (
    GatewayError,
    MethodNotAllowed,
    NotFound,
    PayloadTooLarge,
    UpstreamError,
    log_internal_error,
)
from gateway.chain.metrics import GatewayMetrics
from gateway.chain.pipeline import Pipeline, build_plugins
from gateway.chain.requests import CHECKS, parse_json_object
from gateway.upstream import Router, Upstream, UpstreamResponse

log = logging.getLogger("gateway")

API_ROUTES = {
    "/v1/chat/completions": "chat",
    "/v1/completions": "completions",
    "/v1/embeddings": "embeddings",
}
JSON = b"application/json"
WATCH_AFTER = 0.05  # seconds before a request starts watching for the client going away


class ClientGone(Exception):
    """The client disconnected before we answered."""


class GatewayApp:
    def __init__(self, config: GatewayConfig, *, plugins: list[Any] | None = None) -> None:
        self.config = config
        self.metrics = GatewayMetrics()
        self.router = Router([Upstream(u) for u in config.upstreams])
        self.pipeline = Pipeline(build_plugins(config) if plugins is None else plugins, self.router)
        for p in self.pipeline.plugins:
            p.metrics = self.metrics  # plugins may count things (PII entities, denials)
        self._wire_plugin_events()
        self.max_body = config.server.max_body_bytes
        self.trust_request_id = config.server.trust_request_id
        self._ids = itertools.count(1)
        self._id_prefix = os.urandom(4).hex()
        self.started = False

    def _wire_plugin_events(self) -> None:
        """Events plugins raise outside any request (policy bundle reloads...) go to the audit log."""
        audit = self.pipeline.plugin("audit")
        if audit is None:
            return
        for p in self.pipeline.plugins:
            if hasattr(p, "on_reload_event"):
                p.on_reload_event = lambda event, _name=p.name: audit.record(f"{_name}.reload", event)

    # -- ASGI entry point ---------------------------------------------------------------
    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        kind = scope["type"]
        if kind == "http":
            path = scope["path"]
            route = API_ROUTES.get(path)
            if route is not None:
                if scope["method"] != "POST":
                    await self._send_error(send, MethodNotAllowed("use POST"), None)
                    return
                await self._handle_api(scope, receive, send, route)
            elif path == "/v1/models":
                await self._handle_models(scope, receive, send)
            elif path == "/healthz":
                await self._send(send, 200, b'{"status":"ok"}', JSON)
            elif path == "/readyz":
                await self._handle_ready(send)
            elif path == "/metrics":
                await self._send(send, 200, self.metrics.render(), b"text/plain; version=0.0.4; charset=utf-8")
            else:
                await self._send_error(send, NotFound(f"no route for {scope['method']} {path}"), None)
        elif kind == "lifespan":
            await self._lifespan(receive, send)

    async def _lifespan(self, receive: Any, send: Any) -> None:
        while True:
            msg = await receive()
            if msg["type"] == "lifespan.startup":
                try:
                    await self.startup()
                except Exception as exc:
                    await send({"type": "lifespan.startup.failed", "message": f"{type(exc).__name__}: {exc}"})
                    return
                await send({"type": "lifespan.startup.complete"})
            elif msg["type"] == "lifespan.shutdown":
                await self.shutdown()
                await send({"type": "lifespan.shutdown.complete"})
                return

    async def startup(self) -> None:
        await self.pipeline.startup()
        self.started = True

    async def shutdown(self) -> None:
        await self.pipeline.shutdown()
        self.started = False

    # -- the proxied API ----------------------------------------------------------------
    def _new_context(self, scope: dict[str, Any], route: str) -> RequestContext:
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        rid = headers.get("x-request-id") if self.trust_request_id else None
        client = scope.get("client")
        return RequestContext(
            request_id=rid or f"{self._id_prefix}-{next(self._ids)}",
            route=route,
            method=scope["method"],
            path=scope["path"],
            headers=headers,
            client=client[0] if client else None,
        )

    async def _handle_api(self, scope: dict[str, Any], receive: Any, send: Any, route: str) -> None:
        ctx = self._new_context(scope, route)
        state = {"started": False}
        self.metrics.in_flight.inc()
        try:
            raw = await self._read_body(receive, ctx.headers.get("content-length"))
            body = parse_json_object(raw)
            ctx.model, ctx.prompt_tokens = CHECKS[route](body)
            ctx.body = body
            ctx.stream = bool(body.get("stream", False)) and route != "embeddings"
            await self.pipeline.on_request(ctx)
            await self._forward_watching_disconnect(ctx, receive, send, state)
        except GatewayError as exc:
            ctx.status, ctx.error_code = exc.status, exc.code
            if not state["started"]:
                await self._send_error(send, exc, ctx)
            elif not state.get("finished"):
                await self._end_stream_with_error(send, exc)
        except ClientGone:
            ctx.status, ctx.error_code = 499, "client_closed_request"
        except Exception as exc:
            log_internal_error(log, route, exc)
            ctx.status, ctx.error_code = 500, "internal_error"
            if not state["started"]:
                await self._send_error(send, GatewayError("internal error"), ctx)
            elif not state.get("finished"):
                await self._end_stream_with_error(send, GatewayError("internal error"))
        finally:
            self.metrics.in_flight.dec()
            self.metrics.count_request(route, ctx.status)
            self.metrics.observe_stages(ctx.timings)
            self.metrics.observe_request(route, time.perf_counter() - ctx.started)
            if ctx.status == 200 or ctx.pii:
                ok = ctx.status == 200
                self.metrics.count_usage(ctx.identity.tenant if ctx.identity else None,
                                         ctx.prompt_tokens if ok else 0, ctx.completion_tokens if ok else 0, ctx.pii)
            await self.pipeline.on_complete(ctx)

    async def _read_body(self, receive: Any, content_length: str | None) -> bytes:
        limit = self.max_body
        if content_length is not None and content_length.isdigit() and int(content_length) > limit:
            raise PayloadTooLarge(f"the request body exceeds the limit of {limit} bytes")
        chunks: list[bytes] = []
        size = 0
        while True:
            msg = await receive()
            if msg["type"] == "http.disconnect":
                raise ClientGone()
            chunk = msg.get("body", b"")
            size += len(chunk)
            if size > limit:
                raise PayloadTooLarge(f"the request body exceeds the limit of {limit} bytes")
            chunks.append(chunk)
            if not msg.get("more_body", False):
                break
        return chunks[0] if len(chunks) == 1 else b"".join(chunks)

    async def _forward_watching_disconnect(
        self, ctx: RequestContext, receive: Any, send: Any, state: dict[str, Any]
    ) -> None:
        """Run the upstream exchange; cancel it (and so the upstream request) if the client leaves.

        A watcher task waits for ``http.disconnect`` and cancels this task, which closes the
        upstream connection (vLLM and TGI abort generation on that). It starts only once the
        exchange has taken ``WATCH_AFTER`` seconds: an answer that comes back sooner has nothing
        worth cancelling, and a task per request costs a fifth of a fast request's CPU.
        """
        me = asyncio.current_task()
        assert me is not None
        watch: asyncio.Future[None] | None = None

        def _client_left(t: asyncio.Future[None]) -> None:
            if not t.cancelled() and not state.get("finished"):
                state["client_gone"] = True
                me.cancel()

        def _start_watch() -> None:
            nonlocal watch
            watch = asyncio.ensure_future(_wait_disconnect(receive))
            watch.add_done_callback(_client_left)

        timer = asyncio.get_running_loop().call_later(WATCH_AFTER, _start_watch)
        try:
            await self._forward(ctx, send, state)
        except asyncio.CancelledError:
            if state.get("client_gone"):
                me.uncancel()
                raise ClientGone() from None
            raise
        finally:
            timer.cancel()
            if watch is not None:
                watch.remove_done_callback(_client_left)
                watch.cancel()

    async def _forward(self, ctx: RequestContext, send: Any, state: dict[str, bool]) -> None:
        upstream: Upstream = ctx.upstream
        path = "/v1/chat/completions" if ctx.route == "chat" else f"/v1/{ctx.route}"
        body = ctx.body
        if ctx.stream and upstream.settings.stream_usage and ctx.route != "embeddings":
            opts = body.get("stream_options")
            if not (isinstance(opts, dict) and opts.get("include_usage")):
                body = {**body, "stream_options": {**(opts if isinstance(opts, dict) else {}), "include_usage": True}}
                ctx.state["strip_usage_chunk"] = True
        t0 = time.perf_counter()
        resp = await upstream.send(path, orjson.dumps(body), ctx.request_id)
        try:
            first_byte = time.perf_counter() - t0
            ctx.timings["upstream_ttfb"] = first_byte
            self.metrics.observe_ttfb(upstream.name, first_byte)
            if resp.status != 200:
                await self._relay_upstream_error(ctx, resp, send, state)
            elif ctx.stream and resp.content_type.startswith("text/event-stream"):
                await self._relay_stream(ctx, resp, send, state)
            else:
                await self._relay_json(ctx, resp, send, state)
        finally:
            if state.get("done"):
                resp.release()  # the connection goes back to the pool
            else:
                resp.close()  # cancelled or failed mid-answer: drop the connection

    async def _relay_upstream_error(
        self, ctx: RequestContext, resp: UpstreamResponse, send: Any, state: dict[str, bool]
    ) -> None:
        raw = await resp.read()
        state["done"] = True
        if 400 <= resp.status < 500 and resp.status != 401 and resp.status != 403:
            # The model server's own complaint about the request (bad parameter, context too long):
            # pass it on if it is a JSON object, since the client can act on it.
            try:
                parsed = orjson.loads(raw)
            except orjson.JSONDecodeError:
                parsed = None
            if isinstance(parsed, dict):
                ctx.status = resp.status
                ctx.error_code = "upstream_rejected"
                state["started"] = True
                await self._send(send, resp.status, raw, JSON, self._header_list(ctx))
                state["finished"] = True
                return
        raise UpstreamError(f"the model server answered with status {resp.status}", code="upstream_error")

    async def _relay_json(self, ctx: RequestContext, resp: UpstreamResponse, send: Any, state: dict[str, bool]) -> None:
        raw = await resp.read()
        state["done"] = True
        try:
            parsed = orjson.loads(raw)
        except orjson.JSONDecodeError:
            raise UpstreamError("the model server answered with invalid JSON", code="upstream_invalid") from None
        if not isinstance(parsed, dict):
            raise UpstreamError("the model server answered with invalid JSON", code="upstream_invalid")
        ctx.response = parsed
        usage = parsed.get("usage")
        if isinstance(usage, dict):
            ct = usage.get("completion_tokens")
            if isinstance(ct, int):
                ctx.completion_tokens = ct
            pt = usage.get("prompt_tokens")
            if isinstance(pt, int):
                ctx.prompt_tokens = pt
        if self.pipeline.rewrites_responses:
            await self.pipeline.on_response(ctx)
            raw = orjson.dumps(ctx.response)
        ctx.status = 200
        state["started"] = True
        await self._send(send, 200, raw, JSON, self._header_list(ctx))
        state["finished"] = True

    async def _relay_stream(self, ctx: RequestContext, resp: UpstreamResponse, send: Any, state: dict[str, bool]) -> None:
        headers = [
            (b"content-type", b"text/event-stream"),
            (b"cache-control", b"no-cache"),
            (b"x-accel-buffering", b"no"),
            *self._header_list(ctx),
        ]
        ctx.status = 200
        state["started"] = True
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        rewrite = self.pipeline.rewrites_chunks
        pipeline = self.pipeline
        strip_usage = ctx.state.get("strip_usage_chunk", False)
        finished = False
        events = 0
        async for line in resp.iter_lines():
            if not line.startswith(b"data:"):
                continue  # blank separators, comments, event names: we write our own framing
            data = line[5:].strip()
            if data == b"[DONE]":
                tail = pipeline.on_stream_end(ctx) if rewrite else []
                out = _sse(tail) + b"data: [DONE]\n\n"
                await send({"type": "http.response.body", "body": out, "more_body": True})
                finished = True
                break
            if rewrite or b'"usage"' in data:
                try:
                    chunk = orjson.loads(data)
                except orjson.JSONDecodeError:
                    raise UpstreamError("the model server sent an invalid stream event",
                                        code="upstream_invalid") from None
                if not isinstance(chunk, dict):
                    raise UpstreamError("the model server sent an invalid stream event", code="upstream_invalid")
                usage = chunk.get("usage")
                if isinstance(usage, dict) and isinstance(usage.get("completion_tokens"), int):
                    ctx.completion_tokens = usage["completion_tokens"]
                    if isinstance(usage.get("prompt_tokens"), int):
                        ctx.prompt_tokens = usage["prompt_tokens"]
                    events = -1  # usage is authoritative
                    if strip_usage and not chunk.get("choices"):
                        continue  # we asked for it, the client did not
                elif events >= 0 and chunk.get("choices"):
                    events += 1
                if rewrite:
                    outs = pipeline.on_chunk(ctx, chunk)
                    if not outs:
                        continue
                    body = _sse(outs)
                else:
                    body = b"data: " + data + b"\n\n"
            else:
                if events >= 0:
                    events += 1
                body = b"data: " + data + b"\n\n"
            await send({"type": "http.response.body", "body": body, "more_body": True})
        if events > 0:
            ctx.completion_tokens = events
        state["done"] = True
        if not finished:
            # The upstream ended without [DONE]: flush what is held back, then say so in-band.
            tail = pipeline.on_stream_end(ctx) if rewrite else []
            err = UpstreamError("the model server ended the stream early", code="upstream_incomplete")
            ctx.status, ctx.error_code = 502, err.code
            out = _sse(tail) + b"data: " + err.body() + b"\n\n"
            await send({"type": "http.response.body", "body": out, "more_body": True})
        await send({"type": "http.response.body", "body": b"", "more_body": False})
        state["finished"] = True

    @staticmethod
    async def _end_stream_with_error(send: Any, exc: GatewayError) -> None:
        """A stream already started: say what went wrong in-band (as OpenAI does) and end it."""
        try:
            await send({"type": "http.response.body", "body": b"data: " + exc.body() + b"\n\n", "more_body": False})
        except Exception:  # the client is gone as well
            pass

    # -- other routes ------------------------------------------------------------------
    async def _handle_models(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        ctx = self._new_context(scope, "models")
        try:
            if scope["method"] != "GET":
                raise MethodNotAllowed("use GET")
            await self.pipeline.authenticate(ctx)
            names = dict.fromkeys(self.router.model_names())
            for up in self.router.upstreams:
                if "*" in up.settings.models:
                    try:
                        listing = await up.get_json("/v1/models")
                        for m in listing.get("data", []) if isinstance(listing, dict) else []:
                            if isinstance(m, dict) and isinstance(m.get("id"), str):
                                names.setdefault(m["id"])
                    except GatewayError:
                        continue
            now = int(time.time())
            data = [{"id": n, "object": "model", "created": now, "owned_by": "compliance-gateway"} for n in names]
            ctx.status = 200
            await self._send(send, 200, orjson.dumps({"object": "list", "data": data}), JSON, self._header_list(ctx))
        except GatewayError as exc:
            ctx.status = exc.status
            await self._send_error(send, exc, ctx)
        self.metrics.count_request("models", ctx.status)

    async def _handle_ready(self, send: Any) -> None:
        checks: dict[str, dict[str, Any]] = {}
        for up in self.router.upstreams:
            try:
                await up.get_json("/v1/models")
                checks[f"upstream:{up.name}"] = {"ok": True}
            except GatewayError as exc:
                checks[f"upstream:{up.name}"] = {"ok": False, "detail": exc.message}
        for p in self.pipeline.plugins:
            try:
                ok, detail = await p.ready()
            except Exception as exc:
                ok, detail = False, type(exc).__name__
            checks[p.name] = {"ok": ok, "detail": detail}
        ready = self.started and all(c["ok"] for c in checks.values())
        body = orjson.dumps({"status": "ready" if ready else "not ready", "checks": checks})
        await self._send(send, 200 if ready else 503, body, JSON)

    # -- sending -----------------------------------------------------------------------
    def _header_list(self, ctx: RequestContext) -> list[tuple[bytes, bytes]]:
        out = [(b"x-request-id", ctx.request_id.encode())]
        if ctx.timings:
            out.append((b"server-timing", ctx.server_timing().encode()))
        out.extend((k.encode("latin-1"), v.encode("latin-1")) for k, v in ctx.response_headers)
        return out

    @staticmethod
    async def _send(send: Any, status: int, body: bytes, content_type: bytes,
                    headers: list[tuple[bytes, bytes]] | None = None) -> None:
        h = [(b"content-type", content_type), (b"content-length", str(len(body)).encode())]
        if headers:
            h.extend(headers)
        await send({"type": "http.response.start", "status": status, "headers": h})
        await send({"type": "http.response.body", "body": body})

    async def _send_error(self, send: Any, exc: GatewayError, ctx: RequestContext | None) -> None:
        headers = [(k.encode("latin-1"), v.encode("latin-1")) for k, v in exc.headers]
        if ctx is not None:
            headers.extend(self._header_list(ctx))
            self.metrics.denials.labels(exc.code).inc()
        await self._send(send, exc.status, exc.body(), JSON, headers)


def _sse(events: list[dict[str, Any]]) -> bytes:
    return b"".join(b"data: " + orjson.dumps(e) + b"\n\n" for e in events)


async def _wait_disconnect(receive: Any) -> None:
    while True:
        msg = await receive()
        if msg["type"] == "http.disconnect":
            return


def create_app(config: GatewayConfig | None = None) -> GatewayApp:
    return GatewayApp(config or GatewayConfig())

