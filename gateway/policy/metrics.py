"""Prometheus metrics of the policy stage (labels never carry request content)."""

from __future__ import annotations

from prometheus_client import Counter, Histogram

DECISIONS = Counter(
    "cg_policy_decisions_total",
    "Policy decisions by outcome (allow, deny, error, fail_open).",
    ["outcome"],
)
DECISION_SECONDS = Histogram(
    "cg_policy_decision_seconds",
    "Time to obtain one policy decision.",
    buckets=(0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0),
)
RELOADS = Counter(
    "cg_policy_bundle_reloads_total",
    "Bundle reloads by result: accepted, or rejected (failed to load, compile or pass its tests).",
    ["result"],
)
