"""Prometheus metrics for one gateway app.

Labels are low-cardinality and never carry personal data: route, status code,
stage name, upstream name, tenant (an operator-assigned id), entity type.
Children are cached so the hot path does no label lookups.
"""

from __future__ import annotations

from typing import Any

from prometheus_client import REGISTRY, CollectorRegistry, Counter, Gauge, Histogram, generate_latest

STAGE_BUCKETS = (0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0)
REQ_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120)


def tenant_of(ctx: Any) -> str:
    """The metric label of a request's tenant: the verified one, or "anonymous" before/without auth."""
    ident = getattr(ctx, "identity", None)
    return ident.tenant if ident is not None else "anonymous"


class GatewayMetrics:
    """Every per-request series carries ``tenant`` (the dashboard's variable filters each panel by it)."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        r = self.registry
        self.requests = Counter(
            "gateway_requests_total",
            "Requests by route, status code and tenant",
            ["route", "status", "tenant"],
            registry=r,
        )
        self.stage_seconds = Histogram(
            "gateway_stage_seconds",
            "Time spent per plugin stage",
            ["stage", "tenant"],
            buckets=STAGE_BUCKETS,
            registry=r,
        )
        self.request_seconds = Histogram(
            "gateway_request_seconds",
            "Whole request time, upstream included",
            ["route", "tenant"],
            buckets=REQ_BUCKETS,
            registry=r,
        )
        self.upstream_ttfb = Histogram(
            "gateway_upstream_first_byte_seconds",
            "Time to the upstream's first byte",
            ["upstream", "tenant"],
            buckets=REQ_BUCKETS,
            registry=r,
        )
        self.tokens = Counter(
            "gateway_tokens_total",
            "Tokens by tenant and kind (prompt, completion)",
            ["tenant", "kind"],
            registry=r,
        )
        self.pii_entities = Counter(
            "gateway_pii_entities_total",
            "PII entities found in requests, by type and tenant",
            ["entity_type", "tenant"],
            registry=r,
        )
        self.denials = Counter(
            "gateway_denials_total",
            "Refused requests by error code and tenant",
            ["code", "tenant"],
            registry=r,
        )
        self.in_flight = Gauge(
            "gateway_requests_in_flight", "Admitted requests being served, by tenant", ["tenant"], registry=r
        )
        self.audit_write_seconds = Histogram(
            "gateway_audit_write_seconds",
            "From the end of a request to its audit record being durable",
            ["tenant"],
            buckets=STAGE_BUCKETS,
            registry=r,
        )
        # Store-wide (not per tenant): records submitted and not yet committed.
        self.audit_queue_depth = Gauge(
            "gateway_audit_queue_depth", "Audit records waiting to be committed", registry=r
        )
        self._req_children: dict[tuple[str, int, str], Any] = {}
        self._stage_children: dict[tuple[str, str], Any] = {}
        self._route_children: dict[tuple[str, str], Any] = {}
        self._ttfb_children: dict[tuple[str, str], Any] = {}
        self._token_children: dict[str, tuple[Any, Any]] = {}

    def count_usage(
        self, tenant: str | None, prompt_tokens: int, completion_tokens: int, pii: list[Any] | None
    ) -> None:
        """Tokens by tenant and PII entities by type and tenant, once per completed request."""
        t = tenant or "anonymous"
        if prompt_tokens or completion_tokens:
            children = self._token_children.get(t)
            if children is None:
                children = self._token_children[t] = (
                    self.tokens.labels(t, "prompt"),
                    self.tokens.labels(t, "completion"),
                )
            children[0].inc(prompt_tokens)
            children[1].inc(completion_tokens)
        for finding in pii or ():
            self.pii_entities.labels(finding.entity_type, t).inc(finding.count)

    def observe_request(self, route: str, seconds: float, tenant: str = "anonymous") -> None:
        key = (route, tenant)
        child = self._route_children.get(key)
        if child is None:
            child = self._route_children[key] = self.request_seconds.labels(route, tenant)
        child.observe(seconds)

    def observe_ttfb(self, upstream: str, seconds: float, tenant: str = "anonymous") -> None:
        key = (upstream, tenant)
        child = self._ttfb_children.get(key)
        if child is None:
            child = self._ttfb_children[key] = self.upstream_ttfb.labels(upstream, tenant)
        child.observe(seconds)

    def count_request(self, route: str, status: int, tenant: str = "anonymous") -> None:
        key = (route, status, tenant)
        child = self._req_children.get(key)
        if child is None:
            child = self._req_children[key] = self.requests.labels(route, str(status), tenant)
        child.inc()

    def observe_stages(self, timings: dict[str, float], tenant: str = "anonymous") -> None:
        children = self._stage_children
        for stage, secs in timings.items():
            key = (stage, tenant)
            child = children.get(key)
            if child is None:
                child = children[key] = self.stage_seconds.labels(stage, tenant)
            child.observe(secs)

    def render(self) -> bytes:
        # This app's metrics, then the process-wide registry (process stats, and metrics that
        # plugins keep at module level, such as policy decisions and reloads).
        return generate_latest(self.registry) + generate_latest(REGISTRY)
