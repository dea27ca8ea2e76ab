"""From request context to policy input, and from the engine's answer to a checked decision.

The input never carries message text: identity, route, model, upstream
labels, request shape (token counts, flags) and PII findings as entity ->
count. The answer must be the decision document ``{allow, deny_reasons,
obligations}``; anything else (undefined, a policy that never defines
``allow``, wrong types, ``allow`` with reasons) is treated as a deny.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from gateway.policy.engines.base import UNDEFINED
from gateway.policy.errors import PolicyError

_SCALARS = (str, int, float, bool)


class InvalidDecision(PolicyError):
    """The policy answered, but not with a usable decision document (fail closed)."""


@dataclass(slots=True)
class CheckedDecision:
    allow: bool
    deny_reasons: list[str] = field(default_factory=list)
    obligations: dict[str, Any] = field(default_factory=dict)
    audit: dict[str, Any] = field(default_factory=dict)


def _claim_value(v: Any) -> Any:
    if v is None or isinstance(v, _SCALARS):
        return v
    if isinstance(v, (list, tuple)) and all(isinstance(x, _SCALARS) for x in v):
        return list(v)
    return None  # nested claim structures are not policy input: drop rather than guess


def _pii_counts(findings: Any) -> dict[str, int]:
    counts: dict[str, int] = {}
    for f in findings:
        counts[f.entity_type] = counts.get(f.entity_type, 0) + int(f.count)
    return counts


def build_input(
    ctx: Any, *, claim_keys: tuple[str, ...] = ("plan", "region", "entitlements"), now: float | None = None
) -> dict[str, Any]:
    """The policy input for one request (see docs/policy.md for the schema)."""
    ident = ctx.identity
    claims: dict[str, Any] = {}
    if ident is not None:
        for key in claim_keys:
            if key in ident.claims:
                value = _claim_value(ident.claims[key])
                if value is not None:
                    claims[key] = value
    body = ctx.body if isinstance(ctx.body, dict) else {}
    messages = body.get("messages")
    max_tokens = body.get("max_tokens", body.get("max_completion_tokens"))
    upstream = ctx.upstream
    return {
        "subject": ident.subject if ident is not None else None,
        "tenant": ident.tenant if ident is not None else None,
        "roles": list(ident.roles) if ident is not None else [],
        "claims": claims,
        "route": ctx.route,
        "model": ctx.model,
        "upstream": None
        if upstream is None
        else {
            "name": getattr(upstream, "name", None),
            "labels": dict(getattr(upstream, "labels", None) or {}),
        },
        "request": {
            "max_tokens": max_tokens,
            "stream": bool(ctx.stream),
            "n_messages": len(messages) if isinstance(messages, list) else 0,
            "prompt_tokens_estimate": int(ctx.prompt_tokens or 0),
        },
        "pii": _pii_counts(ctx.pii),
        "time": int(time.time() if now is None else now),
    }


def check_decision(value: Any) -> CheckedDecision:
    """Validate the decision document; raise InvalidDecision with a reason a client may read."""
    if value is UNDEFINED:
        raise InvalidDecision("policy decision is undefined")
    if not isinstance(value, dict):
        raise InvalidDecision("policy decision is not an object")
    allow = value.get("allow", UNDEFINED)
    if allow is UNDEFINED:
        raise InvalidDecision("policy decision does not define allow")
    if not isinstance(allow, bool):
        raise InvalidDecision("policy decision: allow is not a boolean")
    reasons = value.get("deny_reasons", [])
    if not isinstance(reasons, list) or not all(isinstance(r, str) for r in reasons):
        raise InvalidDecision("policy decision: deny_reasons is not a list of strings")
    obligations = value.get("obligations", {})
    if not isinstance(obligations, dict):
        raise InvalidDecision("policy decision: obligations is not an object")
    if allow and reasons:
        raise InvalidDecision("policy decision allows and gives deny reasons at once")
    audit = value.get("audit", {})
    return CheckedDecision(
        allow=allow,
        deny_reasons=sorted(set(reasons)),
        obligations=obligations,
        audit=audit if isinstance(audit, dict) else {},
    )
