"""The three ready-made reports: activity summary, GDPR Art. 30 record, Art. 15 access.

Each report is a function ``(ReportInput) -> dict`` in the :data:`REPORTS`
registry. They read the parsed records (never raw ids: actors are keyed
hashes) and, for Art. 30, the gateway's YAML config read as plain YAML
(upstream names, URLs and labels are the recipients).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

# Event-type prefix -> purpose of processing (Art. 30(1)(b)).
PURPOSES: dict[str, str] = {
    "gateway.": "Serving LLM inference requests: authentication, rate limiting, PII redaction, "
                "policy enforcement and forwarding to the model servers",
    "audit.": "Accountability (Art. 5(2)): a tamper-evident record of processing, erasures and retention",
    "privacy.": "Differentially private fine-tuning of models and privacy accounting",
    "watermark.": "Model provenance: embedding and verifying watermarks",
}

SECURITY_MEASURES = [
    "Raw subject ids are never stored: the actor is HMAC-SHA256 under a secret subject key",
    "Personal fields are encrypted per data subject with AES-256-GCM; data keys are wrapped and kept apart",
    "Erasure (Art. 17) by destroying the subject's data key (crypto-shredding); the log stays verifiable",
    "Append-only hash chain and RFC 6962 Merkle tree over canonical JSON (RFC 8785) records",
    "Ed25519-signed checkpoints (C2SP tlog-checkpoint); offline verification with the public key",
    "PII in prompts is detected and redacted before forwarding; only entity types and counts are logged",
    "Requests are refused when the audit store cannot record them (fail closed)",
]


@dataclass
class ReportInput:
    docs: list[dict[str, Any]]
    config: dict[str, Any] | None = None
    info: dict[str, Any] = field(default_factory=dict)


def _period(docs: list[dict[str, Any]]) -> dict[str, Any]:
    times = [d.get("time", "") for d in docs]
    return {"records": len(docs), "from": min(times, default=None), "to": max(times, default=None)}


def activity(inp: ReportInput) -> dict[str, Any]:
    tenants: dict[str, dict[str, Any]] = defaultdict(lambda: {
        "requests": 0, "denied": 0, "deny_reasons": Counter(), "pii_found": Counter(), "status": Counter(),
        "prompt_tokens": 0, "completion_tokens": 0, "models": Counter()})
    types: Counter[str] = Counter()
    for d in inp.docs:
        types[d.get("type", "?")] += 1
        if d.get("type") != "gateway.request":
            continue
        p = d.get("payload") or {}
        t = tenants[d.get("tenant") or "(none)"]
        t["requests"] += 1
        if p.get("decision") == "deny":
            t["denied"] += 1
            for reason in p.get("deny_reasons") or ["(unspecified)"]:
                t["deny_reasons"][str(reason)] += 1
        for entity, n in (p.get("pii") or {}).items():
            if isinstance(n, int):
                t["pii_found"][entity] += n
        if "status" in p:
            t["status"][str(p["status"])] += 1
        for k in ("prompt_tokens", "completion_tokens"):
            if isinstance(p.get(k), int):
                t[k] += p[k]
        if p.get("model"):
            t["models"][str(p["model"])] += 1
    per_tenant = {name: {k: (dict(v.most_common()) if isinstance(v, Counter) else v) for k, v in t.items()}
                  for name, t in sorted(tenants.items())}
    totals = {"requests": sum(t["requests"] for t in tenants.values()),
              "denied": sum(t["denied"] for t in tenants.values()),
              "deny_reasons": dict(sum((t["deny_reasons"] for t in tenants.values()), Counter()).most_common()),
              "pii_found": dict(sum((t["pii_found"] for t in tenants.values()), Counter()).most_common())}
    return {"period": _period(inp.docs), "totals": totals, "per_tenant": per_tenant,
            "record_types": dict(types.most_common())}


def art30(inp: ReportInput) -> dict[str, Any]:
    cfg = inp.config or {}
    types = Counter(d.get("type", "?") for d in inp.docs)
    purposes = [{"purpose": text, "records": sum(n for t, n in types.items() if t.startswith(prefix))}
                for prefix, text in PURPOSES.items() if any(t.startswith(prefix) for t in types)]
    pii: Counter[str] = Counter()
    seen_upstreams: Counter[str] = Counter()
    actors = set()
    sealed = 0
    tenants: Counter[str] = Counter()
    for d in inp.docs:
        p = d.get("payload") or {}
        for entity, n in (p.get("pii") or {}).items():
            if isinstance(n, int):
                pii[entity] += n
        if p.get("upstream"):
            seen_upstreams[str(p["upstream"])] += 1
        if d.get("actor"):
            actors.add(d["actor"])
        if d.get("personal"):
            sealed += 1
        if d.get("tenant"):
            tenants[d["tenant"]] += 1
    recipients = []
    configured = {u.get("name"): u for u in cfg.get("upstreams") or [] if isinstance(u, dict)}
    for name in sorted(set(configured) | set(seen_upstreams)):
        u = configured.get(name, {})
        recipients.append({"name": name, "url": u.get("url", "(not in config)"),
                           "labels": u.get("labels") or {}, "requests_forwarded": seen_upstreams.get(name, 0)})
    transfers = [{"recipient": r["name"], "location": r["labels"].get("region") or r["labels"].get("country")}
                 for r in recipients if r["labels"].get("region") or r["labels"].get("country")]
    return {
        "controller": inp.info.get("controller") or "(to be completed: name and contact of the controller and DPO)",
        "period": _period(inp.docs),
        "purposes_of_processing": purposes or [{"purpose": "(no records in the period)", "records": 0}],
        "categories_of_data_subjects": [
            {"category": "Users of the LLM API, identified by the subject of their access token",
             "distinct_pseudonymous_subjects": len(actors)},
            {"category": "Persons named in prompts and completions (PII detected and redacted)",
             "distinct_pseudonymous_subjects": "not tracked"}],
        "categories_of_personal_data": [
            {"category": "Pseudonymous subject id (keyed hash)", "records": sum(1 for d in inp.docs if d.get("actor"))},
            {"category": "Connection data sealed per subject (e.g. client IP), AES-GCM", "records": sealed},
            *({"category": f"PII in prompts: {entity} (redacted before forwarding)", "occurrences": n}
              for entity, n in pii.most_common())],
        "recipients": recipients or [{"name": "(none configured)"}],
        "transfers_to_third_countries": transfers or "none recorded: check the upstreams' locations above",
        "retention": {"oldest_record_in_log": _period(inp.docs)["from"],
                      "pruned_before_sequence": inp.info.get("pruned_before", 0),
                      "how": "audit prune --before DATE (keeps a signed checkpoint over what was pruned)"},
        "security_measures": SECURITY_MEASURES,
        "tenants": dict(tenants.most_common()),
    }


def access(inp: ReportInput) -> dict[str, Any]:
    docs = inp.docs
    return {
        "data_subject": {"pseudonymous_id": inp.info.get("actor"),
                         "data_key": "erased (Art. 17)" if inp.info.get("erased") else "present"},
        "period": _period(docs),
        "records_by_type": dict(Counter(d.get("type", "?") for d in docs).most_common()),
        "purposes_of_processing": [text for prefix, text in PURPOSES.items()
                                   if any(d.get("type", "").startswith(prefix) for d in docs)],
        "recipients": sorted({str((d.get("payload") or {}).get("upstream")) for d in docs
                              if (d.get("payload") or {}).get("upstream")}),
        "personal_data": "each record below, with the sealed fields decrypted where the key still exists",
    }


REPORTS: dict[str, Callable[[ReportInput], dict[str, Any]]] = {}


def register(name: str, fn: Callable[[ReportInput], dict[str, Any]]) -> None:
    REPORTS[name] = fn


register("activity", activity)
register("art30", art30)
register("access", access)

TITLES = {"activity": "Activity summary", "art30": "Record of processing activities (GDPR Art. 30)",
          "access": "Data subject access export (GDPR Art. 15)"}
