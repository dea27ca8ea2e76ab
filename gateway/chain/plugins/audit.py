"""One audit event per request, handed to the audit writer.

The event says who (the audit log keeps only a keyed hash of the subject),
which tenant, model, route and upstream, what was decided and why, the status,
token counts, per-stage timings and PII entity counts; never message text.
Fail closed: while the writer cannot accept records, requests are refused.
No answer without its record: the record is submitted by ``on_complete`` and
the host releases the final bytes of the answer only after ``wait_durable``
(called by ``Chain.commit``) saw the record's batch commit. Records that
queue while one batch is being written go together in the next transaction
(group commit), so one fsync serves many requests.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from gateway.chain.audit_sink import AuditSink, open_audit_writer
from gateway.chain.context import RequestContext
from gateway.chain.errors import ServiceUnavailable
from gateway.chain.plugins import Plugin
from gateway.config import AuditSettings

log = logging.getLogger("gateway.audit")


class AuditPlugin(Plugin):
    name = "audit"
    section = "audit"
    Settings = AuditSettings

    def __init__(self, settings: AuditSettings, config: Any) -> None:
        super().__init__(settings, config)
        self.writer: AuditSink | None = None
        self.failed_writes = 0
        # Model names the upstreams list by name; any other name is client input (None: no config).
        ups = getattr(config, "upstreams", None)
        self._models = None if ups is None else frozenset(m for u in ups for m in u.models if m != "*")

    @property
    def sink(self) -> AuditSink:
        """The started writer (RuntimeError before ``startup``)."""
        if self.writer is None:
            raise RuntimeError("the audit writer is not started")
        return self.writer

    async def startup(self) -> None:
        self.writer = open_audit_writer(self.settings)
        await self.writer.start()

    async def shutdown(self) -> None:
        if self.writer is not None:
            await self.writer.aclose()

    async def ready(self) -> tuple[bool, str]:
        try:
            await self.sink.check()
        except Exception as exc:
            return False, type(exc).__name__
        return (True, "ok") if self.sink.healthy else (False, "writer unhealthy")

    async def on_request(self, ctx: RequestContext) -> None:
        if not self.sink.healthy:
            if self.settings.fail_open:
                ctx.audit["audit_fail_open"] = True
                return
            raise ServiceUnavailable(
                "the audit store cannot accept records; request refused", code="audit_unavailable"
            )

    def record(
        self,
        record_type: str,
        payload: dict[str, Any],
        *,
        tenant: str | None = None,
        subject: str | None = None,
        personal: dict[str, Any] | None = None,
    ) -> None:
        """Submit a record without waiting for durability; failures are counted and logged."""
        try:
            fut = self.sink.submit(record_type, payload, tenant=tenant, subject=subject, personal=personal)
        except Exception as exc:
            self.failed_writes += 1
            log.error("audit record dropped: %s: %s", type(exc).__name__, exc)
            return
        fut.add_done_callback(self._check_written)

    def _check_written(self, fut: asyncio.Future[int]) -> None:
        if fut.cancelled() or fut.exception() is not None:
            self.failed_writes += 1
            log.error(
                "audit record not written: %s",
                "cancelled" if fut.cancelled() else type(fut.exception()).__name__,
            )

    async def wait_durable(self, ctx: RequestContext) -> None:
        """Wait until this request's record is durable; ServiceUnavailable if it cannot be."""
        fut = ctx.state.pop("audit_record", None)
        if fut is None:
            return
        try:
            if isinstance(fut, BaseException):
                raise fut
            if not self.settings.wait_for_durable:
                return
            await asyncio.wait_for(asyncio.shield(fut), self.settings.durable_timeout_s)
        except (TimeoutError, Exception) as exc:
            if self.settings.fail_open:
                ctx.audit["audit_fail_open"] = True
                return
            reason = "timed out" if isinstance(exc, TimeoutError) else type(exc).__name__
            log.error("audit record of request %s not durable (%s): answer withheld", ctx.request_id, reason)
            raise ServiceUnavailable(
                "the audit store could not record this request; answer withheld", code="audit_unavailable"
            ) from None

    async def on_complete(self, ctx: RequestContext) -> None:
        ident = ctx.identity
        decision = (
            "allow"
            if ctx.status and ctx.status < 400
            else "deny"
            if ctx.status in (401, 403, 429)
            else "error"
        )
        payload: dict[str, Any] = {
            "request_id": ctx.request_id,
            "route": ctx.route,
            "model": ctx.model,
            "upstream": ctx.upstream.name if ctx.upstream is not None else None,
            "stream": ctx.stream,
            "status": ctx.status,
            "error_code": ctx.error_code,
            "decision": decision,
            "outcome": ctx.outcome,
            "roles": list(ident.roles) if ident else [],
            "prompt_tokens": ctx.prompt_tokens,
            "completion_tokens": ctx.completion_tokens,
            "timings_ms": {k: round(v * 1000, 3) for k, v in ctx.timings.items()},
            "pii": {f.entity_type: f.count for f in ctx.pii},
        }
        if ctx.policy is not None:
            payload["deny_reasons"] = list(ctx.policy.deny_reasons)
        personal: dict[str, Any] = {"client_ip": ctx.client} if ctx.client else {}
        if ctx.model and self._models is not None and ctx.model not in self._models:
            # Not a configured model name (a "*" route, or none): it is whatever the client typed,
            # so it goes only into the encrypted personal part, never the plain payload.
            payload["model"] = None
            payload["model_configured"] = False
            payload["deny_reasons"] = [
                r.replace(ctx.model, "<model>") for r in payload.get("deny_reasons", [])
            ]
            personal["model"] = ctx.model
        for key, value in ctx.audit.items():
            payload.setdefault(key, value)
        try:
            fut = self.sink.submit(
                "gateway.request",
                payload,
                tenant=ident.tenant if ident else None,
                subject=ident.subject if ident else None,
                # Personal data is encrypted under the subject's key, so it needs a verified subject.
                personal=personal if personal and ident else None,
            )
        except Exception as exc:  # queue full, store failing, writer closed: wait_durable reports it
            self.failed_writes += 1
            log.error("audit record dropped: %s", type(exc).__name__)
            ctx.state["audit_record"] = exc
            return
        fut.add_done_callback(self._check_written)
        ctx.state["audit_record"] = fut
