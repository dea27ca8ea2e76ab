"""`gateway serve`'s host: a plain ASGI application driving the chain (gateway/chain/core.py).

It only translates ASGI events into Chain calls: the body is read (with a size limit) and
handed to ``chain.request``; the upstream answer goes through ``chain.response_json`` or a
``StreamRelay``; ``chain.commit`` makes the audit record durable before the final bytes
(the JSON body, the stream's ``[DONE]``, or an error) are released. If the client goes away,
the upstream request is cancelled and the record says so.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

from gateway.asgi_types import Receive, Scope, Send
from gateway.chain.context import RequestContext
from gateway.chain.core import Chain, StreamRelay
from gateway.chain.errors import GatewayError, MethodNotAllowed, NotFound, PayloadTooLarge
from gateway.config import GatewayConfig
from gateway.hosts.proxy.openapi import openapi_document
from gateway.upstream import UpstreamResponse

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


def _enc(headers: list[tuple[str, str]]) -> list[tuple[bytes, bytes]]:
    return [(k.encode("latin-1"), v.encode("latin-1")) for k, v in headers]


class GatewayApp:
    def __init__(self, config: GatewayConfig, *, plugins: list[Any] | None = None) -> None:
        self.chain = Chain(config, plugins=plugins, host="proxy")
        self.config = config
        self.metrics = self.chain.metrics
        self.router = self.chain.router
        self.pipeline = self.chain.pipeline
        self.max_body = config.server.max_body_bytes

    @property
    def started(self) -> bool:
        return self.chain.started

    # -- ASGI entry point ---------------------------------------------------------------
    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
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
                await self._handle_models(scope, send)
            elif path == "/beta/litellm_basic_guardrail_api":  # LiteLLM's Generic Guardrail API
                from gateway.hosts.guardrail.app import handle

                await handle(self.chain, scope, receive, send, self._read_body)
            elif path == "/healthz":
                await self._send(send, 200, b'{"status":"ok"}', JSON)
            elif path == "/readyz":
                await self._handle_ready(send)
            elif path == "/openapi.json":
                await self._send(send, 200, openapi_document(), JSON)
            elif path == "/metrics":
                await self._send(
                    send, 200, self.metrics.render(), b"text/plain; version=0.0.4; charset=utf-8"
                )
            else:
                await self._send_error(send, NotFound(f"no route for {scope['method']} {path}"), None)
        elif kind == "lifespan":
            await self._lifespan(receive, send)

    async def _lifespan(self, receive: Receive, send: Send) -> None:
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
        await self.chain.startup()

    async def shutdown(self) -> None:
        await self.chain.shutdown()

    # -- the proxied API ----------------------------------------------------------------
    def _new_context(self, scope: Scope, route: str) -> RequestContext:
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        client = scope.get("client")
        return self.chain.new_context(
            route=route,
            method=scope["method"],
            path=scope["path"],
            headers=headers,
            client=client[0] if client else None,
        )

    async def _handle_api(self, scope: Scope, receive: Receive, send: Send, route: str) -> None:
        chain = self.chain
        ctx = self._new_context(scope, route)
        state = {"started": False}
        try:
            raw = await self._read_body(receive, ctx.headers.get("content-length"))
            body = await chain.request(ctx, raw)
            await self._forward_watching_disconnect(ctx, body, receive, send, state)
        except GatewayError as exc:
            chain.fail(ctx, exc)
            await self._refuse(ctx, exc, send, state)
        except ClientGone:
            chain.cancelled(ctx)
        except asyncio.CancelledError:  # the server cancelled us (shutdown grace over): say so in the record
            chain.cancelled(ctx)
            raise
        except Exception as exc:
            await self._refuse(ctx, chain.internal_error(ctx, exc, route), send, state)
        finally:
            try:
                await chain.commit(ctx)  # a no-op unless the request ended without an answer
            except GatewayError:
                pass  # nobody is left to tell

    async def _refuse(
        self, ctx: RequestContext, exc: GatewayError, send: Send, state: dict[str, bool]
    ) -> None:
        """Commit the record of a refusal or failure, then send it (or 503 if the record failed)."""
        try:
            await self.chain.commit(ctx)
        except GatewayError as audit_exc:
            exc = audit_exc
        if state.get("finished"):
            return
        if not state["started"]:
            await self._send_error(send, exc, ctx)
        else:
            await self._end_stream_with_error(send, exc)

    async def _read_body(self, receive: Receive, content_length: str | None) -> bytes:
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
        self, ctx: RequestContext, body: bytes, receive: Receive, send: Send, state: dict[str, bool]
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
            await self._forward(ctx, body, send, state)
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

    async def _forward(self, ctx: RequestContext, body: bytes, send: Send, state: dict[str, bool]) -> None:
        chain = self.chain
        upstream = ctx.upstream
        if upstream is None:  # the route stage always sets it; an internal error otherwise
            raise RuntimeError("no upstream was routed for this request")
        t0 = time.perf_counter()
        resp = await upstream.send(chain.upstream_path(ctx), body, ctx.request_id)
        try:
            chain.upstream_answered(ctx, time.perf_counter() - t0)
            if resp.status == 200 and ctx.stream and resp.content_type.startswith("text/event-stream"):
                await self._relay_stream(ctx, resp, send, state)
            else:
                raw = await resp.read()
                state["done"] = True
                out = await chain.response_json(ctx, raw, resp.status)
                await chain.commit(ctx)  # the record is durable before the answer leaves
                state["started"] = True
                await self._send(send, ctx.status, out, JSON, _enc(chain.response_headers(ctx)))
                state["finished"] = True
        finally:
            if state.get("done"):
                resp.release()  # the connection goes back to the pool
            else:
                resp.close()  # cancelled or failed mid-answer: drop the connection

    async def _relay_stream(
        self, ctx: RequestContext, resp: UpstreamResponse, send: Send, state: dict[str, bool]
    ) -> None:
        chain = self.chain
        relay: StreamRelay = chain.stream(ctx)
        headers = [
            (b"content-type", b"text/event-stream"),
            (b"cache-control", b"no-cache"),
            (b"x-accel-buffering", b"no"),
            *_enc(chain.response_headers(ctx)),
        ]
        state["started"] = True
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        feed = relay.feed
        async for data in resp.iter_chunks():
            out = feed(data)
            if out:
                await send({"type": "http.response.body", "body": out, "more_body": True})
            if relay.done:
                break
        state["done"] = True
        tail = relay.end()
        try:
            await chain.commit(ctx)  # the record is durable before the final event ([DONE]) leaves
        except GatewayError as exc:
            tail = chain.error_event(exc)
        await send({"type": "http.response.body", "body": tail, "more_body": False})
        state["finished"] = True

    async def _end_stream_with_error(self, send: Send, exc: GatewayError) -> None:
        """A stream already started: say what went wrong in-band (as OpenAI does) and end it."""
        try:
            await send(
                {"type": "http.response.body", "body": self.chain.error_event(exc), "more_body": False}
            )
        except Exception:  # the client is gone as well
            pass

    # -- other routes ------------------------------------------------------------------
    async def _handle_models(self, scope: Scope, send: Send) -> None:
        chain = self.chain
        ctx = self._new_context(scope, "models")
        try:
            if scope["method"] != "GET":
                raise MethodNotAllowed("use GET")
            await chain.authenticate(ctx)
            body = await chain.models(ctx)
            await chain.commit(ctx)
            await self._send(send, 200, body, JSON, _enc(chain.response_headers(ctx)))
        except GatewayError as exc:
            chain.fail(ctx, exc)
            await chain.commit(ctx)
            await self._send_error(send, exc, ctx)
        except Exception as exc:  # never a traceback of unbounded length in the log
            err = chain.internal_error(ctx, exc, "models")
            await chain.commit(ctx)
            await self._send_error(send, err, ctx)

    async def _handle_ready(self, send: Send) -> None:
        import orjson

        checks = await self.chain.ready()
        ready = self.chain.started and all(c["ok"] for c in checks.values())
        body = orjson.dumps({"status": "ready" if ready else "not ready", "checks": checks})
        await self._send(send, 200 if ready else 503, body, JSON)

    # -- sending -----------------------------------------------------------------------
    @staticmethod
    async def _send(
        send: Send,
        status: int,
        body: bytes,
        content_type: bytes,
        headers: list[tuple[bytes, bytes]] | None = None,
    ) -> None:
        h = [(b"content-type", content_type), (b"content-length", str(len(body)).encode())]
        if headers:
            h.extend(headers)
        await send({"type": "http.response.start", "status": status, "headers": h})
        await send({"type": "http.response.body", "body": body})

    async def _send_error(self, send: Send, exc: GatewayError, ctx: RequestContext | None) -> None:
        status, headers, body = self.chain.error_response(exc, ctx)
        h = [(b"content-length", str(len(body)).encode()), *_enc(headers)]
        await send({"type": "http.response.start", "status": status, "headers": h})
        await send({"type": "http.response.body", "body": body})


async def _wait_disconnect(receive: Receive) -> None:
    while True:
        msg = await receive()
        if msg["type"] == "http.disconnect":
            return


def create_app(config: GatewayConfig | None = None) -> GatewayApp:
    return GatewayApp(config or GatewayConfig())
