"""The chain's host-facing API: one object every host (proxy, Envoy ext_proc, LiteLLM guardrail) drives.

A host turns its own events into these calls and the chain's answers back into its own
protocol; it never parses, screens, restores, renders errors or writes audit records itself::

    ctx = chain.new_context(route=..., method=..., path=..., headers=..., client=...)
    try:
        body = await chain.request(ctx, raw)        # checks + on_request hooks -> bytes for upstream
        ... the host sends body upstream (ctx.upstream is the routed model server) ...
        out = await chain.response_json(ctx, raw, status)        # non-streamed answer
        # or: relay = chain.stream(ctx); out = relay.feed(chunk) ...; tail = relay.end()
        await chain.commit(ctx)                     # audit record durable BEFORE the final bytes
        ... the host releases out / tail ...
    except GatewayError as exc:
        chain.fail(ctx, exc)
        await chain.commit(ctx)                     # may raise ServiceUnavailable: send that instead
        status, headers, body = chain.error_response(exc, ctx)

``commit`` is idempotent, so a host may also call it from a ``finally`` (after a cancelled
request: ``chain.cancelled(ctx)`` first) to make sure every request leaves its record.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import os
import re
import time
from typing import Any, Protocol, cast

import orjson

from gateway.chain.context import RequestContext
from gateway.chain.errors import (
    GatewayError,
    PayloadTooLarge,
    ServiceUnavailable,
    UpstreamError,
    log_internal_error,
)
from gateway.chain.metrics import GatewayMetrics, tenant_of
from gateway.chain.pipeline import Pipeline, build_plugins
from gateway.chain.requests import CHECKS, check_body_headers, parse_json_object
from gateway.config import GatewayConfig
from gateway.upstream import Router, Upstream

# A trusted X-Request-Id must look like an id (UUID, hex, Envoy/Istio ids), not free text: no "@", ".",
# spaces or other separators a personal value needs; 16 to 128 characters with at least one letter (so no
# phone number or other bare digit string).
_SAFE_REQUEST_ID = re.compile(r"(?=[A-Za-z0-9_-]*[A-Za-z])[A-Za-z0-9_-]{16,128}")
log = logging.getLogger("gateway")


class AuditHooks(Protocol):
    """What the chain calls on the plugin named ``audit`` (``gateway.chain.plugins.audit.AuditPlugin``
    or a replacement registered under that name) besides the plugin hooks."""

    def record(
        self,
        record_type: str,
        payload: dict[str, Any],
        *,
        tenant: str | None = None,
        subject: str | None = None,
        personal: dict[str, Any] | None = None,
    ) -> None: ...

    async def wait_durable(self, ctx: RequestContext) -> None: ...


ROUTES = ("chat", "completions", "embeddings", "models")
# The upstream path each OpenAI route is forwarded to.
UPSTREAM_PATHS = {
    "chat": "/v1/chat/completions",
    "completions": "/v1/completions",
    "embeddings": "/v1/embeddings",
}
DONE = b"data: [DONE]\n\n"


class Chain:
    """Built once from a GatewayConfig: ``Chain.from_config(config)`` or ``Chain(config, plugins=...)``."""

    def __init__(
        self, config: GatewayConfig, *, plugins: list[Any] | None = None, host: str = "proxy"
    ) -> None:
        self.config = config
        self.host = host
        self.metrics = GatewayMetrics()
        self.router = Router([Upstream(u) for u in config.upstreams])
        self.pipeline = Pipeline(build_plugins(config) if plugins is None else plugins, self.router)
        for p in self.pipeline.plugins:
            p.metrics = self.metrics  # plugins may count things (PII entities, denials)
        self._audit = cast("AuditHooks | None", self.pipeline.plugin("audit"))
        if self._audit is not None:
            audit = self._audit
            self.metrics.audit_queue_depth.set_function(
                lambda: float(getattr(getattr(audit, "writer", None), "pending", 0) or 0)
            )
        self._wire_plugin_events()
        self.max_body = config.server.max_body_bytes
        self.max_depth = config.server.max_json_depth
        self.trust_request_id = config.server.trust_request_id
        self._ids = itertools.count(1)
        self._id_prefix = os.urandom(4).hex()
        self.started = False
        self._open = 0  # contexts not yet committed
        self._all_committed: asyncio.Event | None = None

    @classmethod
    def from_config(cls, config: GatewayConfig, *, host: str = "proxy") -> Chain:
        return cls(config, host=host)

    def _wire_plugin_events(self) -> None:
        """Events plugins raise outside any request (policy bundle reloads...) go to the audit log."""
        audit = self._audit
        if audit is None:
            return
        for p in self.pipeline.plugins:
            if hasattr(p, "on_reload_event"):
                p.on_reload_event = lambda event, _name=p.name: audit.record(f"{_name}.reload", event)

    # -- lifecycle -------------------------------------------------------------------------
    async def startup(self) -> None:
        await self.pipeline.startup()
        self.started = True

    async def shutdown(self, wait_s: float = 5.0) -> None:
        """Close every plugin; the audit plugin flushes its queue and signs the tail.

        Requests the host cancelled just before (its shutdown grace ran out) still get their
        record: this waits up to ``wait_s`` for every open context to be committed first.
        """
        self.started = False
        if self._open:
            self._all_committed = asyncio.Event()
            try:
                await asyncio.wait_for(self._all_committed.wait(), wait_s)
            except TimeoutError:
                log.error("shutdown: %d requests still open after %.1f s; closing anyway", self._open, wait_s)
        await self.pipeline.shutdown()

    async def ready(self) -> dict[str, dict[str, Any]]:
        """Per-upstream and per-plugin readiness: {name: {"ok": bool, "detail": str}}."""
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
        return checks

    # -- one request -------------------------------------------------------------------------
    def new_context(
        self, *, route: str, method: str, path: str, headers: dict[str, str], client: str | None
    ) -> RequestContext:
        """``headers`` with lower-cased names. Every context must end with ``commit``."""
        rid = headers.get("x-request-id") if self.trust_request_id else None
        if rid is not None and not _SAFE_REQUEST_ID.fullmatch(rid):
            rid = None  # it goes into the audit record in plain text: only an opaque id shape is trusted
        ctx = RequestContext(
            request_id=rid or f"{self._id_prefix}-{next(self._ids)}",
            route=route,
            method=method,
            path=path,
            headers=headers,
            client=client,
        )
        ctx.audit["host"] = self.host
        self._open += 1
        return ctx

    async def authenticate(self, ctx: RequestContext) -> None:
        """The auth stage only (GET /v1/models)."""
        await self.pipeline.authenticate(ctx)

    async def request(self, ctx: RequestContext, raw: bytes) -> bytes:
        """Check, parse and screen a request body; returns the bytes to forward upstream.

        Refusals raise GatewayError. After this returns, ``ctx.upstream`` is the routed model
        server, ``ctx.stream`` says whether an SSE answer is expected, and
        ``upstream_path(ctx)`` is where to send it.
        """
        if len(raw) > self.max_body:
            raise PayloadTooLarge(f"the request body exceeds the limit of {self.max_body} bytes")
        check_body_headers(ctx.headers)
        body = parse_json_object(raw, self.max_depth)
        ctx.model, ctx.prompt_tokens = CHECKS[ctx.route](body)
        ctx.body = body
        ctx.stream = bool(body.get("stream", False)) and ctx.route != "embeddings"
        await self.pipeline.on_request(ctx)
        body = ctx.body
        upstream = ctx.upstream
        if ctx.stream and upstream is not None and upstream.settings.stream_usage:
            opts = body.get("stream_options")
            if not (isinstance(opts, dict) and opts.get("include_usage")):
                body = {
                    **body,
                    "stream_options": {**(opts if isinstance(opts, dict) else {}), "include_usage": True},
                }
                ctx.state["strip_usage_chunk"] = True
        try:
            out = orjson.dumps(body)
        except (TypeError, orjson.JSONEncodeError):  # a plugin left something orjson cannot write
            raise GatewayError("internal error: the screened request could not be serialised") from None
        # Admitted: in flight (by its verified tenant) until commit.
        ctx.state["in_flight"] = tenant = tenant_of(ctx)
        self.metrics.in_flight.labels(tenant).inc()
        return out

    @staticmethod
    def upstream_path(ctx: RequestContext) -> str:
        return UPSTREAM_PATHS[ctx.route]

    def upstream_answered(self, ctx: RequestContext, seconds: float) -> None:
        """Hosts that forward themselves report the time to the upstream's first byte."""
        ctx.timings["upstream_ttfb"] = seconds
        if ctx.upstream is not None:
            self.metrics.observe_ttfb(ctx.upstream.name, seconds, tenant_of(ctx))

    async def response_json(self, ctx: RequestContext, raw: bytes, status: int = 200) -> bytes:
        """A complete (non-streamed) upstream answer -> the bytes for the client.

        ``ctx.status`` is the status to send: 200, or the model server's own 4xx complaint about
        the request (a JSON object, passed on unchanged). Anything else raises UpstreamError.
        """
        if status != 200:
            if 400 <= status < 500 and status not in (401, 403):
                # The model server's own complaint about the request (bad parameter, context too
                # long): pass it on if it is a JSON object, since the client can act on it.
                try:
                    parsed = orjson.loads(raw)
                except orjson.JSONDecodeError:
                    parsed = None
                if isinstance(parsed, dict):
                    ctx.status, ctx.error_code = status, "upstream_rejected"
                    return raw
            raise UpstreamError(f"the model server answered with status {status}", code="upstream_error")
        try:
            parsed = orjson.loads(raw)
        except orjson.JSONDecodeError:
            raise UpstreamError(
                "the model server answered with invalid JSON", code="upstream_invalid"
            ) from None
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
            try:
                raw = orjson.dumps(ctx.response)
            except (TypeError, orjson.JSONEncodeError):  # nested beyond what orjson writes
                raise UpstreamError(
                    "the model server answered with JSON nested too deeply", code="upstream_invalid"
                ) from None
        ctx.status = 200
        return raw

    def stream(self, ctx: RequestContext) -> StreamRelay:
        """A relay for an SSE answer; sets ``ctx.status`` to 200 (the stream is starting)."""
        ctx.status = 200
        return StreamRelay(self, ctx)

    async def models(self, ctx: RequestContext) -> bytes:
        """GET /v1/models after ``authenticate``: configured names plus what '*' upstreams list."""
        names = dict.fromkeys(self.router.model_names())
        for up in self.router.upstreams:
            if "*" in up.settings.models:
                try:
                    listing = await up.get_json("/v1/models")
                except GatewayError:
                    continue
                for m in listing.get("data", []) if isinstance(listing, dict) else []:
                    if isinstance(m, dict) and isinstance(m.get("id"), str):
                        names.setdefault(m["id"])
        now = int(time.time())
        data = [{"id": n, "object": "model", "created": now, "owned_by": "compliance-gateway"} for n in names]
        ctx.status = 200
        return orjson.dumps({"object": "list", "data": data})

    # -- outcomes ------------------------------------------------------------------------------
    def fail(self, ctx: RequestContext, exc: GatewayError) -> None:
        """Record a refusal or failure on the context (before ``commit``)."""
        ctx.status, ctx.error_code = exc.status, exc.code
        if ctx.outcome is None:
            ctx.outcome = "denied" if exc.status < 500 else "error"

    def internal_error(self, ctx: RequestContext, exc: BaseException, where: str) -> GatewayError:
        """An unexpected exception: logged (type and a few frames, never its message), as a 500."""
        log_internal_error(log, where, exc)
        err = GatewayError("internal error")
        self.fail(ctx, err)
        return err

    def cancelled(self, ctx: RequestContext) -> None:
        """The client (or the host's stream) went away before the answer was complete."""
        ctx.status, ctx.error_code, ctx.outcome = 499, "client_closed_request", "cancelled"

    async def commit(self, ctx: RequestContext) -> None:
        """Completion hooks (token debits, the audit record), then wait until the record is durable.

        Call it before releasing the final bytes of any answer. Raises
        ServiceUnavailable(audit_unavailable) if the record cannot be made durable; the host then
        sends that instead. A second call is a no-op.
        """
        if ctx.committed:
            return
        ctx.committed = True
        try:
            await self._commit(ctx)
        finally:
            self._open -= 1
            if self._open == 0 and self._all_committed is not None:
                self._all_committed.set()

    async def _commit(self, ctx: RequestContext) -> None:
        if ctx.outcome is None:
            s = ctx.status
            ctx.outcome = "ok" if 0 < s < 400 else "denied" if s < 500 and s else "error"
        m = self.metrics
        tenant = tenant_of(ctx)
        m.count_request(ctx.route, ctx.status, tenant)
        if ctx.route == "models":
            return
        admitted = ctx.state.pop("in_flight", None)
        if admitted is not None:
            m.in_flight.labels(admitted).dec()
        m.observe_stages(ctx.timings, tenant)
        m.observe_request(ctx.route, time.perf_counter() - ctx.started, tenant)
        if ctx.status == 200 or ctx.pii:
            ok = ctx.status == 200
            m.count_usage(
                tenant,
                ctx.prompt_tokens if ok else 0,
                ctx.completion_tokens if ok else 0,
                ctx.pii,
            )
        await self.pipeline.on_complete(ctx)
        if self._audit is not None:
            t0 = time.perf_counter()
            await self._audit.wait_durable(ctx)
            m.audit_write_seconds.labels(tenant).observe(time.perf_counter() - t0)

    # -- rendering -------------------------------------------------------------------------------
    def response_headers(self, ctx: RequestContext) -> list[tuple[str, str]]:
        """x-request-id, server-timing and what plugins added (x-ratelimit-*)."""
        out = [("x-request-id", ctx.request_id)]
        if ctx.timings:
            out.append(("server-timing", ctx.server_timing()))
        out.extend(ctx.response_headers)
        return out

    def error_response(
        self, exc: GatewayError, ctx: RequestContext | None
    ) -> tuple[int, list[tuple[str, str]], bytes]:
        """(status, headers, OpenAI error JSON) for a refusal; counts it as a denial."""
        headers = [("content-type", "application/json"), *exc.headers]
        if ctx is not None:
            headers.extend(self.response_headers(ctx))
            self.metrics.denials.labels(exc.code, tenant_of(ctx)).inc()
        return exc.status, headers, exc.body()

    @staticmethod
    def error_event(exc: GatewayError) -> bytes:
        """An error inside a stream that already started: one SSE event, as OpenAI does."""
        return b"data: " + exc.body() + b"\n\n"


class StreamRelay:
    """Turns an upstream SSE body, in byte chunks split anywhere, into the SSE bytes for the client.

    ``feed`` returns what may be released now; ``end`` flushes what plugins held back and returns
    the final bytes (ending in ``[DONE]``, or an in-band error if the upstream ended early). The
    host calls ``chain.commit(ctx)`` between ``end`` and releasing its result.
    """

    __slots__ = (
        "chain",
        "ctx",
        "_buf",
        "_rewrite",
        "_strip_usage",
        "_events",
        "done",
        "_pipeline",
        "_max_depth",
    )

    def __init__(self, chain: Chain, ctx: RequestContext) -> None:
        self.chain = chain
        self.ctx = ctx
        self._pipeline = chain.pipeline
        self._buf = b""
        self._rewrite = chain.pipeline.rewrites_chunks
        self._strip_usage = ctx.state.get("strip_usage_chunk", False)
        self._events = 0  # data events with choices; -1 once a usage chunk gave the exact count
        self._max_depth = chain.max_depth
        self.done = False  # the upstream sent [DONE]

    def feed(self, data: bytes) -> bytes:
        if self.done:
            return b""
        buf = self._buf + data if self._buf else data
        if b"\n" not in buf:
            self._buf = buf
            return b""
        lines = buf.split(b"\n")
        self._buf = lines.pop()
        out: list[bytes] = []
        for line in lines:
            piece = self._line(line)
            if piece:
                out.append(piece)
            if self.done:
                break
        return b"".join(out)

    def _line(self, line: bytes) -> bytes:
        if not line.startswith(b"data:"):
            return b""  # blank separators, comments, event names: we write our own framing
        data = line[5:].strip()
        if data == b"[DONE]":
            self.done = True
            return b""
        ctx = self.ctx
        if self._rewrite or b'"usage"' in data:
            try:
                chunk = orjson.loads(data)
            except orjson.JSONDecodeError:
                raise UpstreamError(
                    "the model server sent an invalid stream event", code="upstream_invalid"
                ) from None
            if not isinstance(chunk, dict):
                raise UpstreamError("the model server sent an invalid stream event", code="upstream_invalid")
            usage = chunk.get("usage")
            if isinstance(usage, dict) and isinstance(usage.get("completion_tokens"), int):
                ctx.completion_tokens = usage["completion_tokens"]
                if isinstance(usage.get("prompt_tokens"), int):
                    ctx.prompt_tokens = usage["prompt_tokens"]
                self._events = -1  # usage is authoritative
                if self._strip_usage and not chunk.get("choices"):
                    return b""  # we asked for it, the client did not
            elif self._events >= 0 and chunk.get("choices"):
                self._events += 1
            if self._rewrite:
                return _sse(self._pipeline.on_chunk(ctx, chunk))
            return b"data: " + data + b"\n\n"
        if self._events >= 0:
            self._events += 1
        return b"data: " + data + b"\n\n"

    def end(self) -> bytes:
        """Flush; the final bytes of the stream. Sets ctx.status to 502 if [DONE] never came."""
        out = b""
        if self._buf and not self.done:
            buf, self._buf = self._buf, b""
            out = self._line(buf.rstrip(b"\r"))
        ctx = self.ctx
        if self._events > 0:
            ctx.completion_tokens = self._events
        tail = out + (_sse(self._pipeline.on_stream_end(ctx)) if self._rewrite else b"")
        if self.done:
            return tail + DONE
        # The upstream ended without [DONE]: flush what is held back, then say so in-band.
        err = UpstreamError("the model server ended the stream early", code="upstream_incomplete")
        ctx.status, ctx.error_code = 502, err.code
        return tail + Chain.error_event(err)


def _sse(events: list[dict[str, Any]]) -> bytes:
    try:
        return b"".join(b"data: " + orjson.dumps(e) + b"\n\n" for e in events)
    except (TypeError, orjson.JSONEncodeError):  # an event nested beyond what orjson writes
        raise UpstreamError(
            "the model server sent a stream event nested too deeply", code="upstream_invalid"
        ) from None


__all__ = ["Chain", "StreamRelay", "ROUTES", "ServiceUnavailable"]
