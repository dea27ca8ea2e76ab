"""The request context: the one object every plugin reads and writes.

The body is parsed once (orjson) by the app and handed down the chain; plugins
never re-read raw bytes. Everything that may reach an audit record or a log is
kept free of raw personal data: PII findings carry entity types, counts, scores
and offsets, never values.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any


@dataclass(slots=True)
class Identity:
    """The verified caller, as established by the auth plugin."""

    subject: str
    tenant: str
    roles: tuple[str, ...] = ()
    claims: dict[str, Any] = field(default_factory=dict)


@dataclass(slots=True)
class PIIFinding:
    """One kind of personal data found in the request: never the value itself."""

    entity_type: str
    count: int
    max_score: float = 0.0


@dataclass(slots=True)
class PolicyDecision:
    allow: bool
    deny_reasons: list[str] = field(default_factory=list)
    obligations: dict[str, Any] = field(default_factory=dict)
    bundle_revision: str | None = None
    latency_ms: float = 0.0
    fail_open: bool = False


@dataclass(slots=True)
class RequestContext:
    request_id: str
    route: str  # "chat", "completions", "embeddings", "models"
    method: str
    path: str
    headers: dict[str, str]  # lower-cased names
    client: str | None = None
    body: dict[str, Any] | None = None
    model: str | None = None
    upstream: Any = None  # gateway.upstream.Upstream chosen by the router
    stream: bool = False
    identity: Identity | None = None
    pii: list[PIIFinding] = field(default_factory=list)
    policy: PolicyDecision | None = None
    # Per-stage wall-clock durations in seconds, in chain order.
    timings: dict[str, float] = field(default_factory=dict)
    started: float = field(default_factory=time.perf_counter)
    status: int = 0
    error_code: str | None = None
    prompt_tokens: int = 0
    completion_tokens: int = 0
    # The upstream's parsed JSON response (non-streaming); response plugins may rewrite it.
    response: dict[str, Any] | None = None
    # Headers to add to the client response (rate-limit headers, ...).
    response_headers: list[tuple[str, str]] = field(default_factory=list)
    # Free-form, PII-free facts plugins want in the audit event (namespaced by plugin name).
    audit: dict[str, Any] = field(default_factory=dict)
    # Per-request scratch space for plugins (pseudonym maps, stream buffers). Never audited.
    state: dict[str, Any] = field(default_factory=dict)
    # How the request ended: "ok", "denied" (4xx refusal), "error" (5xx), "cancelled" (client gone).
    # Set by the chain (Chain.fail / Chain.cancelled / Chain.commit) and written to the audit record.
    outcome: str | None = None
    # Chain.commit ran (completion hooks, audit record durable): a second call is a no-op.
    committed: bool = False

    def server_timing(self) -> str:
        return ", ".join(f"{name};dur={secs * 1000:.3f}" for name, secs in self.timings.items())
