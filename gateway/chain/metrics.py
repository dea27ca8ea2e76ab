"""Prometheus metrics for one gateway app.

Labels are low-cardinality and never carry personal data: route, status code,
stage name, upstream name, tenant (an operator-assigned id), entity type.
Children are cached so the hot path does no label lookups.
"""

from __future__ import annotations

from prometheus_client import REGISTRY, CollectorRegistry, Counter, Gauge, Histogram, generate_latest

STAGE_BUCKETS = (0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0)
REQ_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120)


class GatewayMetrics:
    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        r = self.registry
        self.requests = Counter(
            "gateway_requests_total", "Requests by route and status code", ["route", "status"], registry=r
        )
        self.stage_seconds = Histogram(
            "gateway_stage_seconds", "Time spent per plugin stage", ["stage"], buckets=STAGE_BUCKETS, registry=r
        )
        self.request_seconds = Histogram(
            "gateway_request_seconds", "Whole request time, upstream included", ["route"], buckets=REQ_BUCKETS,
            registry=r,
        )
        self.upstream_ttfb = Histogram(
            "gateway_upstream_first_byte_seconds", "Time to the upstream's first byte", ["upstream"],
            buckets=REQ_BUCKETS, registry=r,
        )
        self.tokens = Counter(
            "gateway_tokens_total", "Tokens by tenant and kind (prompt, completion)", ["tenant", "kind"], registry=r
        )
        self.pii_entities = Counter(
            "gateway_pii_entities_total", "PII entities found in requests, by type", ["entity_type"], registry=r
        )
        self.denials = Counter("gateway_denials_total", "Refused requests by error code", ["code"], registry=r)
        self.in_flight = Gauge("gateway_requests_in_flight", "Requests being served", registry=r)
        self._req_children: dict[tuple[str, int], object] = {}
        self._stage_children: dict[str, object] = {}
        self._route_children: dict[str, object] = {}
        self._ttfb_children: dict[str, object] = {}
        self._token_children: dict[str, tuple[object, object]] = {}

    def count_usage(self, tenant: str | None, prompt_tokens: int, completion_tokens: int,
                    pii: list | None) -> None:
        """Tokens by tenant and PII entities by type, once per completed request."""
        t = tenant or "anonymous"
        if prompt_tokens or completion_tokens:
            children = self._token_children.get(t)
            if children is None:
                children = self._token_children[t] = (self.tokens.labels(t, "prompt"),
                                                       self.tokens.labels(t, "completion"))
            children[0].inc(prompt_tokens)  # type: ignore[attr-defined]
            children[1].inc(completion_tokens)  # type: ignore[attr-defined]
        for finding in pii or ():
            self.pii_entities.labels(finding.entity_type).inc(finding.count)

    def observe_request(self, route: str, seconds: float) -> None:
        child = self._route_children.get(route)
        if child is None:
            child = self._route_children[route] = self.request_seconds.labels(route)
        child.observe(seconds)  # type: ignore[attr-defined]

    def observe_ttfb(self, upstream: str, seconds: float) -> None:
        child = self._ttfb_children.get(upstream)
        if child is None:
            child = self._ttfb_children[upstream] = self.upstream_ttfb.labels(upstream)
        child.observe(seconds)  # type: ignore[attr-defined]

    def count_request(self, route: str, status: int) -> None:
        child = self._req_children.get((route, status))
        if child is None:
            child = self._req_children[(route, status)] = self.requests.labels(route, str(status))
        child.inc()  # type: ignore[attr-defined]

    def observe_stages(self, timings: dict[str, float]) -> None:
        children = self._stage_children
        for stage, secs in timings.items():
            child = children.get(stage)
            if child is None:
                child = children[stage] = self.stage_seconds.labels(stage)
            child.observe(secs)  # type: ignore[attr-defined]

    def render(self) -> bytes:
        # This app's metrics, then the process-wide registry (process stats, and metrics that
        # plugins keep at module level, such as policy decisions and reloads).
        return generate_latest(self.registry) + generate_latest(REGISTRY)
