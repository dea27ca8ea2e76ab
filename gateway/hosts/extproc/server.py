"""``gateway extproc``: the chain as an Envoy external processor (grpc.aio).

Envoy opens one gRPC stream per HTTP request and sends its events in order;
this host turns each event into a call on the chain and the chain's verdict
back into an ext_proc response:

    request_headers            -> Chain.new_context               -> continue
    request_body  (BUFFERED)   -> Chain.request                   -> body replaced | immediate_response
    response_headers           -> SSE: Chain.stream               -> headers (+ mode_override BUFFERED
                                  else: wait for the whole body        for JSON, one message)
    response_body (STREAMED)   -> StreamRelay.feed / end          -> screened bytes
    response_body (BUFFERED)   -> Chain.response_json             -> body replaced
    before the last bytes      -> Chain.commit (audit durable)

Anything out of this order is a protocol error: the stream is aborted, and
Envoy, configured with ``failure_mode_allow: false``, fails the request closed.
A stream that ends before its answer was released is audited as cancelled.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import Any

import grpc
from envoy.service.ext_proc.v3 import external_processor_pb2_grpc as pb_grpc

from gateway.chain.context import RequestContext
from gateway.chain.core import Chain
from gateway.chain.errors import (
    GatewayError,
    MethodNotAllowed,
    NotFound,
    ServiceUnavailable,
    UpstreamError,
    log_internal_error,
)
from gateway.hosts.extproc import protocol as P

log = logging.getLogger("gateway.extproc")

API_ROUTES = {
    "/v1/chat/completions": "chat",
    "/v1/completions": "completions",
    "/v1/embeddings": "embeddings",
}
# Headers that must not reach the model server: the caller's credential and the identity
# Envoy's jwt_authn forwarded to us.
STRIP_UPSTREAM = ["authorization", "x-jwt-payload"]
# GET /v1/models: authenticate on the headers, nothing else to see.
MODELS_MODE = P.ProcessingMode(
    request_body_mode=P.NONE, response_header_mode=P.SKIP, response_body_mode=P.NONE
)
JSON_MODE = P.ProcessingMode(response_body_mode=P.BUFFERED)


class ProtocolViolation(Exception):
    """Envoy (or something posing as it) sent events out of order."""


class Exchange:
    """One HTTP request seen through one ext_proc stream."""

    __slots__ = (
        "host",
        "chain",
        "phase",
        "ctx",
        "relay",
        "raw",
        "upstream_status",
        "finished",
        "t_forwarded",
        "strip",
    )

    def __init__(self, host: ExtProcHost) -> None:
        self.host = host
        self.chain = host.chain
        self.phase = "start"
        self.ctx: RequestContext | None = None
        self.relay: Any = None
        self.raw: list[bytes] = []
        self.upstream_status = 0
        self.finished = False  # the answer (or a denial) has been committed and released
        self.t_forwarded = 0.0
        self.strip = host.strip_upstream

    # -- dispatch ------------------------------------------------------------------------
    async def handle(self, req: P.pb.ProcessingRequest) -> P.pb.ProcessingResponse:
        kind = req.WhichOneof("request")
        if kind == P.REQUEST_HEADERS:
            if self.phase != "start":
                raise ProtocolViolation(f"request_headers after {self.phase}")
            return await self._request_headers(req.request_headers)
        if kind == P.REQUEST_BODY:
            if self.phase != "request_headers":
                raise ProtocolViolation(f"request_body after {self.phase}")
            return await self._request_body(req.request_body)
        if kind == P.RESPONSE_HEADERS:
            if self.phase == "start":
                # A local reply from a filter before us (jwt_authn's 401, Envoy's own 413): the
                # request never passed here, so it never reached the model server. Pass it on.
                self.phase = "passthrough"
                self.finished = True
            elif self.phase not in ("forwarded", "passthrough"):
                raise ProtocolViolation(f"response_headers after {self.phase}")
            return await self._response_headers(req.response_headers)
        if kind == P.RESPONSE_BODY:
            if self.phase not in ("response_headers", "passthrough"):
                raise ProtocolViolation(f"response_body after {self.phase}")
            return await self._response_body(req.response_body)
        if kind in ("request_trailers", "response_trailers"):
            return P.pb.ProcessingResponse(**{kind: P.pb.TrailersResponse()})
        raise ProtocolViolation(f"unexpected message {kind}")

    # -- request path --------------------------------------------------------------------
    async def _request_headers(self, msg: P.pb.HttpHeaders) -> P.pb.ProcessingResponse:
        headers = P.headers_map(msg)
        method = headers.get(":method", "")
        path = headers.get(":path", "").partition("?")[0]
        # The caller's address as Envoy saw it (use_remote_address: true appends it last to
        # x-forwarded-for and sets x-envoy-external-address); earlier entries are the client's word.
        client = (
            headers.get("x-envoy-external-address")
            or headers.get("x-forwarded-for", "").rpartition(",")[2].strip()
            or None
        )
        route = API_ROUTES.get(path)
        if route is None:
            # GET /v1/models is authenticated and passed on; any other path is refused, never
            # forwarded unscreened (Envoy routes only /v1/ here; this is the second lock).
            ctx = self.chain.new_context(
                route="models", method=method, path=path, headers=headers, client=client
            )
            self.ctx = ctx
            if path != "/v1/models":
                return await self._deny(NotFound(f"no route for {method} {path}"))
            if method != "GET":
                return await self._deny(MethodNotAllowed("use GET"))
            try:
                await self.chain.authenticate(ctx)
            except GatewayError as exc:
                return await self._deny(exc)
            ctx.status = 200
            await self.chain.commit(ctx)
            self.phase = "passthrough"
            self.finished = True
            return P.headers_response(P.REQUEST_HEADERS, P.mutation(remove=self.strip), MODELS_MODE)
        ctx = self.chain.new_context(route=route, method=method, path=path, headers=headers, client=client)
        self.ctx = ctx
        if method != "POST":
            return await self._deny(MethodNotAllowed("use POST"))
        self.phase = "request_headers"
        if msg.end_of_stream:  # no body at all: the chain refuses it (400), nothing is forwarded
            return await self._screen(b"", P.REQUEST_HEADERS)
        return P.headers_response(P.REQUEST_HEADERS)

    async def _request_body(self, msg: P.pb.HttpBody) -> P.pb.ProcessingResponse:
        if not msg.end_of_stream:
            # Only a whole body can be screened: refuse rather than forward part of one.
            return await self._deny(
                ServiceUnavailable(
                    "the gateway must see the whole request body (Envoy: request_body_mode BUFFERED)",
                    code="extproc_misconfigured",
                )
            )
        return await self._screen(msg.body, P.REQUEST_BODY)

    async def _screen(self, raw: bytes, phase: str) -> P.pb.ProcessingResponse:
        ctx = self.ctx
        assert ctx is not None
        try:
            body = await self.chain.request(ctx, raw)
        except GatewayError as exc:
            return await self._deny(exc)
        except Exception as exc:
            return await self._deny(self.chain.internal_error(ctx, exc, "extproc request"))
        self.phase = "forwarded"
        self.t_forwarded = time.perf_counter()
        headers = [("content-length", str(len(body))), ("x-request-id", ctx.request_id)]
        key = ctx.upstream.settings.api_key_env if ctx.upstream is not None else None
        auth = self.host.upstream_keys.get(key) if key else None
        if auth:
            headers.append(("authorization", auth))
        remove = [h for h in self.strip if h != "authorization"] if auth else self.strip
        mut = P.mutation(headers, remove)
        if phase == P.REQUEST_HEADERS:  # bodyless request: never happens for a valid OpenAI call
            return P.headers_response(phase, mut)
        return P.body_response(phase, body, mut)

    # -- response path -------------------------------------------------------------------
    async def _response_headers(self, msg: P.pb.HttpHeaders) -> P.pb.ProcessingResponse:
        if self.phase == "passthrough":
            return P.headers_response(P.RESPONSE_HEADERS)
        ctx = self.ctx
        assert ctx is not None
        self.phase = "response_headers"
        self.chain.upstream_answered(ctx, time.perf_counter() - self.t_forwarded)
        headers = P.headers_map(msg)
        status = int(headers.get(":status", "0") or 0)
        self.upstream_status = status
        ctype = headers.get("content-type", "")
        if msg.end_of_stream:  # an answer without a body
            return await self._finish_without_body(status)
        if status == 200 and ctx.stream and ctype.startswith("text/event-stream"):
            self.relay = self.chain.stream(ctx)
            out = [("cache-control", "no-cache"), *self.chain.response_headers(ctx)]
            return P.headers_response(P.RESPONSE_HEADERS, P.mutation(out, ["content-length"]))
        # A JSON answer (or an upstream error): Envoy buffers it, we see it whole, in one message.
        return P.headers_response(P.RESPONSE_HEADERS, None, JSON_MODE)

    async def _finish_without_body(self, status: int) -> P.pb.ProcessingResponse:
        """Headers with end_of_stream: no OpenAI answer is empty, so the chain refuses it (502)."""
        ctx = self.ctx
        assert ctx is not None
        try:
            await self.chain.response_json(ctx, b"", status)
            exc: GatewayError = UpstreamError(
                "the model server sent an empty answer", code="upstream_invalid"
            )
        except GatewayError as refused:
            exc = refused
        return await self._deny(exc)

    async def _response_body(self, msg: P.pb.HttpBody) -> P.pb.ProcessingResponse:
        if self.phase == "passthrough":
            return P.body_response(P.RESPONSE_BODY, None)
        if self.relay is not None:
            return await self._stream_chunk(msg)
        self.raw.append(msg.body)
        if not msg.end_of_stream:
            return P.body_response(P.RESPONSE_BODY, b"")  # hold back until the whole JSON is here
        raw = b"".join(self.raw)
        self.raw = []
        ctx = self.ctx
        assert ctx is not None
        try:
            out = await self.chain.response_json(ctx, raw, self.upstream_status)
            await self.chain.commit(ctx)
        except GatewayError as exc:
            return await self._deny(exc)
        except Exception as exc:
            return await self._deny(self.chain.internal_error(ctx, exc, "extproc response"))
        self.finished = True
        self.phase = "done"
        headers = [("content-length", str(len(out))), *self.chain.response_headers(ctx)]
        return P.body_response(P.RESPONSE_BODY, out, P.mutation(headers))

    async def _stream_chunk(self, msg: P.pb.HttpBody) -> P.pb.ProcessingResponse:
        ctx = self.ctx
        assert ctx is not None
        relay = self.relay
        if self.finished:  # after an in-band error: drop the rest of the upstream's stream
            if msg.end_of_stream:
                self.phase = "done"
            return P.body_response(P.RESPONSE_BODY, b"")
        try:
            out = relay.feed(msg.body)
            if not msg.end_of_stream:
                return P.body_response(P.RESPONSE_BODY, out)
            out += relay.end()
        except GatewayError as exc:
            self.chain.fail(ctx, exc)
            out = Chain.error_event(exc)
        except Exception as exc:
            out = Chain.error_event(self.chain.internal_error(ctx, exc, "extproc stream"))
        try:
            await self.chain.commit(ctx)
        except GatewayError as exc:  # no record, no [DONE]: say so in-band instead
            self.chain.fail(ctx, exc)
            out = _without_done(out) + Chain.error_event(exc)
        self.finished = True
        if msg.end_of_stream:
            self.phase = "done"
        return P.body_response(P.RESPONSE_BODY, out)

    # -- verdicts ------------------------------------------------------------------------
    async def _deny(self, exc: GatewayError) -> P.pb.ProcessingResponse:
        """Envoy answers the client with the OpenAI error; the record is durable first."""
        ctx = self.ctx
        assert ctx is not None
        self.chain.fail(ctx, exc)
        try:
            await self.chain.commit(ctx)
        except GatewayError as audit_exc:
            self.chain.fail(ctx, audit_exc)
            exc = audit_exc
        status, headers, body = self.chain.error_response(exc, ctx)
        self.finished = True
        self.phase = "done"
        return P.immediate(status, headers, body, f"compliance_gateway_{exc.code}")

    async def close(self, outcome: str) -> None:
        """The stream ended: a request that got no answer is recorded as ``outcome``."""
        ctx = self.ctx
        if ctx is None or self.finished or self.phase == "start":
            return
        self.finished = True
        if outcome == "cancelled":
            self.chain.cancelled(ctx)
        else:
            self.chain.fail(ctx, GatewayError("ext_proc protocol violation", code="extproc_protocol_error"))
            ctx.outcome = outcome
        await self.chain.commit(ctx)


def _without_done(out: bytes) -> bytes:
    return out[: -len(b"data: [DONE]\n\n")] if out.endswith(b"data: [DONE]\n\n") else out


class ExtProcHost(pb_grpc.ExternalProcessorServicer):  # type: ignore[misc]  # grpc codegen: no stubs
    """The gRPC servicer; one :class:`Exchange` per stream."""

    def __init__(self, chain: Chain, *, upstream_keys: dict[str, str] | None = None) -> None:
        self.chain = chain
        self.upstream_keys = upstream_keys or {}
        self.strip_upstream = list(STRIP_UPSTREAM)
        trusted = getattr(chain.config.auth, "trusted_payload_header", None)
        if trusted and trusted.lower() not in self.strip_upstream:
            self.strip_upstream.append(trusted.lower())
        self._closing: set[asyncio.Task[None]] = set()
        self.active = 0

    async def Process(self, request_iterator: Any, context: grpc.aio.ServicerContext) -> None:  # noqa: N802
        ex = Exchange(self)
        outcome = "cancelled"
        self.active += 1
        try:
            while True:
                req = await context.read()
                if req is grpc.aio.EOF:
                    outcome = "cancelled"  # Envoy closed the stream before the answer was released
                    return
                try:
                    resp = await ex.handle(req)
                except ProtocolViolation as exc:
                    outcome = "protocol_error"
                    log.warning("ext_proc protocol violation: %s", exc)
                    await context.abort(
                        grpc.StatusCode.FAILED_PRECONDITION, f"ext_proc protocol violation: {exc}"
                    )
                    return
                await context.write(resp)
        finally:
            self.active -= 1
            if not ex.finished and ex.ctx is not None:
                # Record it even while this task is being cancelled: the record runs in its own
                # task, tracked until done, so nothing is leaked and nothing is lost.
                task = asyncio.ensure_future(self._close(ex, outcome))
                self._closing.add(task)
                task.add_done_callback(self._closing.discard)
                await asyncio.shield(task)

    @staticmethod
    async def _close(ex: Exchange, outcome: str) -> None:
        try:
            await ex.close(outcome)
        except Exception as exc:  # the audit store failing here has no client left to tell
            log_internal_error(log, "close", exc)

    async def drain(self) -> None:
        if self._closing:
            await asyncio.gather(*self._closing, return_exceptions=True)


async def serve(
    chain: Chain,
    host: str,
    port: int,
    *,
    stop: asyncio.Event | None = None,
    on_start: Callable[[int, ExtProcHost], None] | None = None,
    grace: float = 5.0,
) -> None:
    """Run until ``stop`` is set (or forever); the chain is started and shut down here.

    ``on_start(port, servicer)`` is called once the port is bound (port 0 picks a free one)."""
    import os

    await chain.startup()
    keys = {
        u.api_key_env: f"Bearer {os.environ[u.api_key_env]}"
        for u in chain.config.upstreams
        if u.api_key_env and os.environ.get(u.api_key_env)
    }
    servicer = ExtProcHost(chain, upstream_keys=keys)
    server = grpc.aio.server(
        options=[
            ("grpc.so_reuseport", 1),
            ("grpc.max_concurrent_streams", 10_000),
            ("grpc.http2.max_pings_without_data", 0),
            ("grpc.keepalive_permit_without_calls", 1),
        ]
    )
    pb_grpc.add_ExternalProcessorServicer_to_server(servicer, server)
    actual = server.add_insecure_port(f"{host}:{port}")
    if actual == 0:
        await chain.shutdown()
        raise OSError(f"cannot listen on {host}:{port}")
    await server.start()
    if on_start is not None:
        on_start(actual, servicer)
    log.info("ext_proc server listening on %s:%d", host, actual)
    try:
        if stop is None:
            await server.wait_for_termination()
        else:
            await stop.wait()
    finally:
        await server.stop(grace=grace)
        await servicer.drain()
        await chain.shutdown()
