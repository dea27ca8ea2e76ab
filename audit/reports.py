"""The three ready-made reports: activity, GDPR Art. 30 record, GDPR Art. 15 access reply.

Each report is a function ``(ReportInput) -> dict`` in the :data:`REPORTS`
registry. The dict is what a person reads, already in words: a title, a few
facts about the document, then sections (``ref``, ``title``, paragraphs, an
optional table of strings), a records table and an appendix of technical
detail. ``facts`` holds the same numbers for programs (tests, dashboards).
Templates (``audit/templates``) only lay it out; nothing in them decides
what a value means.

Reports read the parsed records (actors are keyed hashes), the personal data
decrypted for one subject (access reply), the gateway's upstreams (raw YAML)
and the ``compliance:`` section (:mod:`audit.compliance`).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from audit.compliance import (
    ComplianceSettings,
    Recipient,
    country_name,
    in_eea,
    is_transfer,
    location_of,
)

TO_COMPLETE = "to be completed in the compliance section of the configuration"

# Event-type prefix -> purpose of processing (Art. 30(1)(b), Art. 15(1)(a)).
PURPOSES: dict[str, str] = {
    "gateway.": "Answering your requests to the language models: checking your access token, applying usage "
    "limits, removing personal data from prompts before they reach the model, applying the usage "
    "policy and forwarding the request to the model server",
    "audit.": "Accountability (Art. 5(2) GDPR): keeping a tamper-evident record of the processing, of erasures "
    "and of deletions",
    "privacy.": "Training models with differential privacy, and measuring the privacy guarantee",
    "watermark.": "Model provenance: embedding and checking watermarks in models and generated text",
}

SECURITY_MEASURES = [
    "User ids are never stored as such: each is replaced by a keyed hash (HMAC-SHA256 under a secret key).",
    "Personal data in the records (the client's IP address) are encrypted per person with AES-256-GCM; "
    "the keys are wrapped and kept apart from the records.",
    "Erasure (Art. 17) destroys the person's key (crypto-shredding); the rest of the log stays verifiable.",
    "The log is append-only: a hash chain and a Merkle tree (RFC 6962) over canonical JSON records (RFC 8785).",
    "Checkpoints are signed with Ed25519; anyone with the public key can verify the log or an export offline.",
    "Personal data in prompts are detected and replaced before forwarding; only their kinds and counts are "
    "recorded, never the text.",
    "Requests are refused when the audit store cannot record them (fail closed).",
]

ENTITY_WORDS: dict[str, str] = {
    "EMAIL_ADDRESS": "email address",
    "PHONE_NUMBER": "phone number",
    "PERSON": "name of a person",
    "CN_MOBILE": "Chinese mobile phone number",
    "CN_RESIDENT_ID": "Chinese resident identity card number",
    "CN_BANK_CARD": "Chinese bank card number",
    "IBAN_CODE": "bank account number (IBAN)",
    "CREDIT_CARD": "payment card number",
    "US_SSN": "US social security number",
    "IP_ADDRESS": "IP address",
    "LOCATION": "place or address",
    "DATE_TIME": "date or time",
    "URL": "web address",
    "NRP": "nationality, religion or political opinion",
    "US_PASSPORT": "passport number",
    "US_DRIVER_LICENSE": "driving licence number",
    "US_BANK_NUMBER": "bank account number",
    "CRYPTO": "cryptocurrency wallet address",
    "UK_NHS": "NHS number",
    "MEDICAL_LICENSE": "medical licence number",
    "US_ITIN": "US taxpayer number",
}

PERSONAL_FIELD_WORDS = {"client_ip": "IP address of your device"}

AUTH_CODE_WORDS: dict[str, str] = {
    "missing_token": "no access token",
    "token_expired": "access token expired",
    "token_not_yet_valid": "access token not yet valid",
    "invalid_audience": "token meant for another service",
    "invalid_issuer": "token from an untrusted issuer",
    "missing_claim": "token lacks a required claim",
    "invalid_claim": "token has an invalid claim",
    "invalid_signature": "token signature invalid",
    "invalid_token": "access token invalid",
}

ROUTE_WORDS = {
    "chat": "Chat request",
    "completions": "Text completion request",
    "embeddings": "Embedding request",
    "models": "List of models",
}

# Outcome classes of a gateway request, in report order.
OUTCOMES: dict[str, str] = {
    "answered": "Answered",
    "auth": "Authentication failures",
    "policy": "Policy denials",
    "ratelimit": "Rate limited",
    "upstream": "Upstream errors",
    "unavailable": "Refused, service unavailable",
    "invalid": "Invalid requests",
    "error": "Other errors",
}

UPSTREAM_CODES = {"bad_gateway", "gateway_timeout", "upstream_error", "upstream_timeout"}


@dataclass
class ReportInput:
    docs: list[dict[str, Any]]
    config: dict[str, Any] | None = None
    info: dict[str, Any] = field(default_factory=dict)
    compliance: ComplianceSettings | None = None
    # (seq, personal data) per record, for the access reply: a dict, "(erased)" or None.
    personal: list[tuple[int, Any]] = field(default_factory=list)


# -- words ---------------------------------------------------------------------------------------
def entity_words(entity: str) -> str:
    return ENTITY_WORDS.get(entity, entity.replace("_", " ").lower())


def when(t: str | None) -> str:
    """2026-11-29T19:22:17.123456Z -> 2026-11-29 19:22:17 UTC."""
    if not t:
        return "-"
    return t[:10] + " " + t[11:19] + " UTC" if len(t) >= 19 else t


def day(t: str | None) -> str:
    return (t or "")[:10] or "-"


def plural(n: int, one: str, many: str | None = None) -> str:
    return f"{n} {one if n == 1 else (many or one + 's')}"


def join_words(items: list[str]) -> str:
    items = [i for i in items if i]
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + " and " + items[-1]


def outcome_of(p: dict[str, Any]) -> str:
    status = p.get("status")
    code = p.get("error_code") or ""
    if not isinstance(status, int):
        return "error"
    if status < 400:
        return "answered"
    if status == 401:
        return "auth"
    if status == 403:
        return "policy"
    if status == 429:
        return "ratelimit"
    if status in (502, 504) or code in UPSTREAM_CODES:
        return "upstream"
    if status == 503:
        return "unavailable"
    if status < 500:
        return "invalid"
    return "error"


def forwarded(p: dict[str, Any]) -> bool:
    """Whether the request reached its model server (answered, or failed there); refusals never leave."""
    return outcome_of(p) in ("answered", "upstream")


def _reasons(p: dict[str, Any]) -> list[str]:
    reasons = [str(r) for r in p.get("deny_reasons") or [] if r]
    if reasons:
        return reasons
    code = p.get("error_code")
    return [str(code).replace("_", " ")] if code else ["no reason recorded"]


def outcome_words(p: dict[str, Any]) -> str:
    kind = outcome_of(p)
    code = str(p.get("error_code") or "")
    if kind == "answered":
        return "Answered"
    if kind == "auth":
        return "Refused: " + AUTH_CODE_WORDS.get(code, "access token not accepted")
    if kind == "policy":
        return "Refused by the usage policy: " + "; ".join(_reasons(p))
    if kind == "ratelimit":
        return "Refused: usage limit reached, to be retried later"
    if kind == "upstream":
        return "Failed: the model server did not answer"
    if kind == "unavailable":
        return "Refused: a safeguard was unavailable, so nothing was forwarded"
    if kind == "invalid":
        return "Refused: the request was not valid"
    return "Failed: internal error"


def action_words(doc: dict[str, Any]) -> str:
    t: str = doc.get("type", "")
    p = doc.get("payload") or {}
    if t == "gateway.request":
        route = str(p.get("route") or "").rstrip("/").rsplit("/", 1)[-1]
        what = ROUTE_WORDS.get(route, "Request")
        model = p.get("model")
        return f"{what} to model {model}" if model and route != "models" else what
    if t == "audit.erasure":
        return "Your personal data were erased (Art. 17): the key that opens them was destroyed"
    if t == "audit.prune":
        return "Records older than the retention period were deleted"
    return "Processing recorded: " + t.replace(".", " ").replace("_", " ")


def personal_words(personal: Any, p: dict[str, Any]) -> str:
    parts = []
    if personal == "(erased)":
        parts.append("(erased)")
    elif isinstance(personal, dict):
        parts.extend(f"{PERSONAL_FIELD_WORDS.get(k, k.replace('_', ' '))}: {v}" for k, v in personal.items())
    elif isinstance(personal, str):
        parts.append(personal)
    pii = {k: v for k, v in (p.get("pii") or {}).items() if isinstance(v, int) and v > 0}
    if pii:
        found = join_words([f"{entity_words(k)} ({v})" for k, v in sorted(pii.items())])
        parts.append(f"Found in your message and replaced before forwarding (not stored): {found}")
    return "\n".join(parts) or "none"


def _section(
    sid: str,
    title: str,
    paragraphs: list[str] | None = None,
    *,
    ref: str = "",
    columns: list[str] | None = None,
    rows: list[list[Any]] | None = None,
    items: list[str] | None = None,
    warn: list[str] | None = None,
) -> dict[str, Any]:
    s: dict[str, Any] = {"id": sid, "ref": ref, "title": title, "paragraphs": paragraphs or []}
    if columns is not None:
        s["table"] = {"columns": columns, "rows": [[_cell(c) for c in r] for r in rows or []]}
    if items:
        s["items"] = items
    if warn:
        s["warnings"] = warn
    return s


def _cell(v: Any) -> str:
    if v is None:
        return "-"
    if isinstance(v, bool):
        return "yes" if v else "no"
    return str(v)


def _period(docs: list[dict[str, Any]]) -> dict[str, Any]:
    times = [d.get("time", "") for d in docs if d.get("time")]
    return {"records": len(docs), "from": min(times, default=None), "to": max(times, default=None)}


def _period_words(docs: list[dict[str, Any]]) -> str:
    per = _period(docs)
    if not per["records"]:
        return "no records"
    return f"{plural(per['records'], 'record')}, {when(per['from'])} to {when(per['to'])}"


def _party(p: Any) -> str:
    if p is None:
        return f"({TO_COMPLETE})"
    bits = [p.name, p.address, p.email, p.phone]
    if getattr(p, "country", None):
        bits.append(country_name(p.country))
    return ", ".join(b for b in bits if b)


# -- recipients and transfers -------------------------------------------------------------------
@dataclass
class Destination:
    upstream: str
    url: str
    location: str | None  # country code, "EEA", "?label" (unrecognised) or None (unlabelled)
    recipient: Recipient | None
    forwarded: int
    configured: bool

    def where(self) -> str:
        if self.location is None:
            return "location unknown (the upstream has no region or country label)"
        if self.location.startswith("?"):
            return f"location unknown (region label '{self.location[1:]}' not recognised)"
        return country_name(self.location)

    def transfer(self, controller_country: str | None) -> str:
        t = is_transfer(self.location, controller_country)
        if t is None:
            return (
                "unknown: location unknown" if controller_country else "unknown: controller's country not set"
            )
        if not t:
            return "no"
        return "yes, third country"

    def safeguard(self, controller_country: str | None) -> str:
        t = is_transfer(self.location, controller_country)
        if self.recipient and self.recipient.safeguard:
            return self.recipient.safeguard
        if t is None:
            return "cannot be judged until the location is known"
        if t is False:
            return (
                "not needed (inside the EEA)"
                if controller_country and in_eea(controller_country)
                else "not needed (same country)"
            )
        if (
            t
            and self.location
            and self.location
            in ("CH", "GB", "JP", "KR", "CA", "NZ", "IL", "AR", "UY", "AD", "FO", "GG", "IM", "JE")
        ):
            return "adequacy decision (Art. 45)"
        return "NONE DOCUMENTED: name the safeguard in compliance.recipients"


def destinations(inp: ReportInput) -> list[Destination]:
    """Every upstream that is configured or that received a request in the records, none left out."""
    cfg = inp.config or {}
    seen: Counter[str] = Counter()
    for d in inp.docs:
        up = (d.get("payload") or {}).get("upstream")
        if up and forwarded(d.get("payload") or {}):
            seen[str(up)] += 1
    configured = {
        str(u.get("name")): u for u in cfg.get("upstreams") or [] if isinstance(u, dict) and u.get("name")
    }
    out = []
    for name in sorted(set(configured) | set(seen)):
        u = configured.get(name, {})
        raw_labels = u.get("labels")
        labels = raw_labels if isinstance(raw_labels, dict) else {}
        out.append(
            Destination(
                name,
                str(u.get("url") or "(not in the configuration)"),
                location_of({str(k): str(v) for k, v in labels.items()}),
                inp.compliance.recipient_for(name) if inp.compliance else None,
                seen.get(name, 0),
                name in configured,
            )
        )
    return out


def _recipient_name(d: Destination) -> str:
    if d.recipient is not None:
        return d.recipient.name
    return f"operator of model server '{d.upstream}' (legal name {TO_COMPLETE})"


def _recipient_country(d: Destination) -> str:
    return country_name(d.recipient.country) if d.recipient is not None else f"({TO_COMPLETE})"


# -- activity -----------------------------------------------------------------------------------
def _new_counts() -> dict[str, int]:
    return {"requests": 0, **{k: 0 for k in OUTCOMES}, "redacted_requests": 0, "pii_items": 0}


def activity(inp: ReportInput) -> dict[str, Any]:
    by_tenant: dict[str, dict[str, int]] = defaultdict(_new_counts)
    by_day: dict[tuple[str, str], dict[str, int]] = defaultdict(_new_counts)
    deny: Counter[tuple[str, str]] = Counter()
    auth: Counter[tuple[str, str]] = Counter()
    pii: Counter[tuple[str, str]] = Counter()
    upstream_err: Counter[tuple[str, str]] = Counter()
    types: Counter[str] = Counter()
    for d in inp.docs:
        types[d.get("type", "?")] += 1
        if d.get("type") != "gateway.request":
            continue
        p = d.get("payload") or {}
        kind = outcome_of(p)
        tenant = d.get("tenant") or ("(not authenticated)" if kind == "auth" else "(no tenant)")
        found = {k: v for k, v in (p.get("pii") or {}).items() if isinstance(v, int) and v > 0}
        for counts in (by_tenant[tenant], by_day[(day(d.get("time")), tenant)]):
            counts["requests"] += 1
            counts[kind] += 1
            if found:
                counts["redacted_requests"] += 1
                counts["pii_items"] += sum(found.values())
        if kind == "policy":
            for r in _reasons(p):
                deny[(tenant, r)] += 1
        elif kind == "auth":
            code = str(p.get("error_code") or "")
            auth[(tenant, AUTH_CODE_WORDS.get(code, code.replace("_", " ") or "no reason recorded"))] += 1
        elif kind == "upstream":
            upstream_err[(str(p.get("upstream") or "-"), str(p.get("status")))] += 1
        for k, v in found.items():
            pii[(tenant, entity_words(k))] += v
    totals = _new_counts()
    for c in by_tenant.values():
        for k, v in c.items():
            totals[k] += v

    # The rare outcomes get a column only when they happened; the five the report is about always do.
    shown = [k for k in OUTCOMES if k in ("answered", "auth", "policy", "ratelimit", "upstream") or totals[k]]
    cols = [
        "Requests",
        *(OUTCOMES[k] for k in shown),
        "Requests with redactions",
        "Personal data items redacted",
    ]
    keys = ["requests", *shown, "redacted_requests", "pii_items"]
    tenant_rows = [[t, *(c[k] for k in keys)] for t, c in sorted(by_tenant.items())]
    if len(by_tenant) > 1:
        tenant_rows.append(["All tenants", *(totals[k] for k in keys)])
    day_rows = [[dd, t, *(c[k] for k in keys)] for (dd, t), c in sorted(by_day.items())]
    sections = [
        _section(
            "by-tenant",
            "Requests by tenant and outcome",
            [
                "Each request is counted once, under the first stage that refused it. Authentication failures "
                "are requests without a valid access token: their tenant is not known."
            ],
            columns=["Tenant", *cols],
            rows=tenant_rows,
        ),
        _section("by-day", "Requests by day and tenant", columns=["Day", "Tenant", *cols], rows=day_rows),
        _section(
            "denials",
            "Policy denials and their reasons",
            columns=["Tenant", "Reason given by the policy", "Requests"],
            rows=[[t, r, n] for (t, r), n in sorted(deny.items(), key=lambda x: (x[0][0], -x[1]))]
            or [["-", "no policy denials in the period", 0]],
        ),
        _section(
            "auth",
            "Authentication failures",
            columns=["Tenant", "What was wrong with the access token", "Requests"],
            rows=[[t, r, n] for (t, r), n in sorted(auth.items())] or [["-", "no failures in the period", 0]],
        ),
        _section(
            "redactions",
            "Personal data found in prompts and redacted, by kind and tenant",
            ["Counts of items replaced before the request was forwarded; the text itself is never stored."],
            columns=["Tenant", "Kind of personal data", "Items"],
            rows=[[t, e, n] for (t, e), n in sorted(pii.items(), key=lambda x: (x[0][0], -x[1]))]
            or [["-", "none found in the period", 0]],
        ),
        _section(
            "upstream",
            "Upstream errors",
            columns=["Model server", "HTTP status", "Requests"],
            rows=[[u, s, n] for (u, s), n in sorted(upstream_err.items())] or [["-", "-", 0]],
        ),
    ]
    appendix = [
        _section(
            "types",
            "Records by type",
            columns=["Record type", "Records"],
            rows=[[t, n] for t, n in types.most_common()],
        )
    ]
    return {
        "kind": "activity",
        "title": "Activity report",
        "summary": [
            ["Period", _period_words(inp.docs)],
            ["Gateway requests", str(totals["requests"])],
            ["Tenants", str(len([t for t in by_tenant if not t.startswith("(")]))],
        ],
        "sections": sections,
        "appendix": appendix,
        "facts": {
            "period": _period(inp.docs),
            "totals": totals,
            "per_tenant": {t: dict(c) for t, c in sorted(by_tenant.items())},
            "per_day": {f"{dd} {t}": dict(c) for (dd, t), c in sorted(by_day.items())},
            "deny_reasons": {f"{t}: {r}": n for (t, r), n in deny.items()},
            "auth_failures": {f"{t}: {r}": n for (t, r), n in auth.items()},
            "pii": {f"{t}: {e}": n for (t, e), n in pii.items()},
            "record_types": dict(types.most_common()),
        },
    }


# -- Art. 30 -------------------------------------------------------------------------------------
def _purposes(inp: ReportInput) -> list[str]:
    if inp.compliance and inp.compliance.purposes:
        return list(inp.compliance.purposes)
    found = [
        text
        for prefix, text in PURPOSES.items()
        if any(d.get("type", "").startswith(prefix) for d in inp.docs)
    ]
    return found or [PURPOSES["gateway."]]


def _retention(c: ComplianceSettings | None) -> tuple[str, str, str | None]:
    if c is None:
        return (f"({TO_COMPLETE})",) * 2 + (None,)
    return c.retention.audit_records, c.retention.connection_data, c.retention.justification


def art30(inp: ReportInput) -> dict[str, Any]:
    c = inp.compliance
    ctry = c.controller.country if c else None
    dests = destinations(inp)
    actors = {d["actor"] for d in inp.docs if d.get("actor")}
    pii: Counter[str] = Counter()
    for d in inp.docs:
        for k, v in ((d.get("payload") or {}).get("pii") or {}).items():
            if isinstance(v, int) and v > 0:
                pii[k] += v
    keep_records, keep_conn, why = _retention(c)
    missing = (
        []
        if c
        else [
            "No compliance section in the configuration: controller, DPO, retention periods and "
            "recipients' names are not filled in."
        ]
    )

    controller = _section(
        "controller",
        "Controller and contacts",
        ref="Art. 30(1)(a)",
        columns=["", ""],
        rows=[
            ["Controller", _party(c.controller if c else None)],
            [
                "Data protection officer",
                _party(c.dpo) if c and c.dpo else "(none designated)" if c else f"({TO_COMPLETE})",
            ],
            [
                "Representative in the EU (Art. 27)",
                _party(c.representative) if c and c.representative else "-",
            ],
        ],
    )
    activities = _section(
        "activities",
        "Processing activities",
        columns=["No.", "Activity", "Records in period"],
        rows=[
            [
                1,
                "LLM inference through the compliance gateway",
                sum(1 for d in inp.docs if d.get("type") == "gateway.request"),
            ],
            [
                2,
                "Audit log of the processing (accountability)",
                sum(1 for d in inp.docs if d.get("type", "").startswith("audit.")),
            ],
        ],
    )
    purposes = _section(
        "purposes",
        "Purposes of the processing and legal basis",
        ref="Art. 30(1)(b)",
        items=_purposes(inp),
        paragraphs=[f"Legal basis: {c.legal_basis if c else '(' + TO_COMPLETE + ')'}."],
    )
    subjects = _section(
        "subjects",
        "Categories of data subjects",
        ref="Art. 30(1)(c)",
        columns=["Category", "Number in the period"],
        rows=[
            ["Users of the LLM API, identified by the subject of their access token", len(actors)],
            [
                "Persons named in prompts (their data are detected and redacted before forwarding)",
                "not counted (nothing about them is stored)",
            ],
        ],
    )
    cats = [
        ["User id, as a keyed pseudonym", "replaced by an HMAC before storage", keep_records],
        ["Tenant (organisation) and roles", "from the access token", keep_records],
        ["Usage: time, model, tokens, outcome of each request", "generated by the gateway", keep_records],
        ["IP address of the client device", "encrypted per person (AES-256-GCM)", keep_conn],
    ]
    for k, n in pii.most_common():
        w = entity_words(k)
        cats.append(
            [
                f"{w[:1].upper()}{w[1:]} in prompts",
                f"detected {plural(n, 'time')}, replaced before forwarding, never stored",
                "not stored",
            ]
        )
    categories = _section(
        "data",
        "Categories of personal data and retention periods",
        ref="Art. 30(1)(c), (f)",
        columns=["Category", "How it is held", "Retention period"],
        rows=cats,
        paragraphs=[
            *([f"Why these periods: {why}."] if why else []),
            "Special categories of data (Art. 9) and data on criminal convictions "
            "(Art. 10) are not processed on purpose; prompts that contain them are not "
            "stored.",
        ],
    )
    rec_rows = [
        [
            _recipient_name(d),
            _recipient_country(d),
            d.recipient.role if d.recipient else "processor",
            (d.recipient.contract if d.recipient else None) or "-",
            d.where(),
            d.forwarded,
        ]
        for d in dests
    ]
    warn = [
        f"Model server '{d.upstream}' received requests but is not in the configuration."
        for d in dests
        if not d.configured
    ]
    warn += [
        f"Model server '{d.upstream}' has no named recipient (compliance.recipients)."
        for d in dests
        if d.recipient is None and c is not None
    ]
    recipients = _section(
        "recipients",
        "Recipients",
        ref="Art. 30(1)(d)",
        columns=[
            "Recipient",
            "Established in",
            "Role",
            "Contract (Art. 28)",
            "Where the model server runs",
            "Requests forwarded",
        ],
        rows=rec_rows or [["(none configured)", "-", "-", "-", "-", 0]],
        warn=warn,
    )
    t_rows = []
    t_warn = []
    for dest in dests:
        t = dest.transfer(ctry)
        t_rows.append(
            [_recipient_name(dest), dest.where(), t, dest.safeguard(ctry) if t != "no" else "not needed"]
        )
        if t.startswith("unknown"):
            t_warn.append(
                f"'{dest.upstream}': {dest.where()}. Label the upstream with its region or country."
            )
        elif t.startswith("yes") and "NONE" in dest.safeguard(ctry):
            t_warn.append(f"'{dest.upstream}' sends data to {dest.where()} without a documented safeguard.")
    transfers = _section(
        "transfers",
        "Transfers to third countries",
        ref="Art. 30(1)(e)",
        columns=["Recipient", "Location of the processing", "Third country", "Safeguard"],
        rows=t_rows,
        warn=t_warn,
        paragraphs=[
            f"Judged from each model server's region or country label and the controller's country "
            f"({country_name(ctry) if ctry else 'not set'})."
        ],
    )
    pruned = inp.info.get("pruned_before") or 0
    retention = _section(
        "retention",
        "Time limits for erasure",
        ref="Art. 30(1)(f)",
        columns=["Data", "Period"],
        rows=[
            ["Audit records of requests", keep_records],
            ["IP addresses (their keys are destroyed)", keep_conn],
            ["Prompts and answers", "not stored"],
        ],
        paragraphs=[
            f"Oldest record in this log: {when(_period(inp.docs)['from'])}. "
            + (
                f"Records before number {pruned} have been deleted."
                if pruned
                else "No records have been deleted yet."
            )
        ],
    )
    security = _section(
        "security",
        "Technical and organisational security measures",
        ref="Art. 30(1)(g)",
        items=SECURITY_MEASURES,
    )
    tenants = Counter(d.get("tenant") for d in inp.docs if d.get("tenant"))
    appendix = [
        _section(
            "tenants",
            "Records by tenant",
            columns=["Tenant", "Records"],
            rows=[[t, n] for t, n in tenants.most_common()],
        ),
        _section(
            "upstreams",
            "Model servers as configured",
            columns=["Name", "Address", "Location"],
            rows=[[d.upstream, d.url, d.where()] for d in dests],
        ),
    ]
    return {
        "kind": "art30",
        "title": "Record of processing activities (GDPR Art. 30)",
        "summary": [
            ["Controller", c.controller.name if c else f"({TO_COMPLETE})"],
            ["Period", _period_words(inp.docs)],
        ],
        "warnings": missing,
        "sections": [
            controller,
            activities,
            purposes,
            subjects,
            categories,
            recipients,
            transfers,
            retention,
            security,
        ],
        "appendix": appendix,
        "facts": {
            "period": _period(inp.docs),
            "distinct_subjects": len(actors),
            "recipients": [
                {
                    "upstream": d.upstream,
                    "recipient": d.recipient.name if d.recipient else None,
                    "location": d.location,
                    "transfer": is_transfer(d.location, ctry),
                    "forwarded": d.forwarded,
                }
                for d in dests
            ],
            "pii": dict(pii.most_common()),
        },
    }


# -- Art. 15 -------------------------------------------------------------------------------------
def access(inp: ReportInput) -> dict[str, Any]:
    c = inp.compliance
    ctry = c.controller.country if c else None
    docs = inp.docs
    reqs = [d for d in docs if d.get("type") == "gateway.request"]
    erased = bool(inp.info.get("erased"))
    personal = dict(inp.personal)
    keep_records, keep_conn, why = _retention(c)
    sent = Counter(
        str((d.get("payload") or {}).get("upstream"))
        for d in reqs
        if (d.get("payload") or {}).get("upstream") and forwarded(d.get("payload") or {})
    )
    dests = [x for x in destinations(inp) if x.upstream in sent]
    pii: Counter[str] = Counter()
    for d in reqs:
        for k, v in ((d.get("payload") or {}).get("pii") or {}).items():
            if isinstance(v, int) and v > 0:
                pii[k] += v
    outcomes = Counter(outcome_of(d.get("payload") or {}) for d in reqs)
    denied = Counter(
        r
        for d in reqs
        if outcome_of(d.get("payload") or {}) == "policy"
        for r in _reasons(d.get("payload") or {})
    )

    a = _section(
        "a",
        "Why we process your data",
        ref="Art. 15(1)(a)",
        items=_purposes(inp),
        paragraphs=[f"Legal basis: {c.legal_basis if c else '(' + TO_COMPLETE + ')'}."],
    )
    held = [
        "your user id, stored only as a pseudonym (a keyed hash)",
        "the organisation (tenant) and roles in your access token",
        "the time, model, size in tokens and outcome of each request",
        "the IP address of your device, encrypted with a key that belongs to you alone"
        + (" (that key has been destroyed: it can no longer be read)" if erased else ""),
    ]
    b_par = ["We hold these kinds of personal data about you: " + "; ".join(held) + "."]
    if pii:
        b_par.append(
            "Your messages contained these kinds of personal data: "
            + join_words([entity_words(k) for k, _ in pii.most_common()])
            + ". These were detected and replaced before your request went to the model; the text of "
            "your messages and the answers are not stored."
        )
    else:
        b_par.append("The text of your messages and the answers are not stored.")
    b = _section("b", "What personal data we hold", ref="Art. 15(1)(b)", paragraphs=b_par)
    crow = [
        [
            _recipient_name(x),
            _recipient_country(x),
            x.recipient.role if x.recipient else "processor",
            sent[x.upstream],
        ]
        for x in dests
    ]
    cc = _section(
        "c",
        "Who received your data",
        ref="Art. 15(1)(c)",
        paragraphs=[
            "Your requests (with the personal data replaced) were sent to these model servers:"
            if dests
            else "No request of yours was forwarded to a model server."
        ],
        columns=["Recipient", "Country", "Role", "Requests"] if dests else None,
        rows=crow,
    )
    d_par = [
        f"Records of your requests are kept for {keep_records}; the IP address of your device for "
        f"{keep_conn}, after which its key is destroyed. Your messages and the answers are not kept."
    ]
    if why:
        d_par.append(f"Why: {why}.")
    dd = _section("d", "How long we keep your data", ref="Art. 15(1)(d)", paragraphs=d_par)
    who = _party(c.dpo) if c and c.dpo else _party(c.controller) if c else f"({TO_COMPLETE})"
    e = _section(
        "e",
        "Your rights",
        ref="Art. 15(1)(e)",
        paragraphs=[
            f"You may ask us to correct inaccurate data (rectification, Art. 16), to erase your data (Art. 17), to "
            f"restrict its processing (Art. 18), and you may object to the processing (Art. 21). Write to: {who}."
        ],
    )
    auth_ = c.supervisory_authority if c else None
    f_par = (
        "You may complain to a supervisory authority, in particular in the EU country where you live, work "
        "or where you think the law was broken (Art. 77)"
    )
    f_par += (
        f". The authority for the controller is {auth_.name}" + (f" ({auth_.url})" if auth_.url else "") + "."
        if auth_
        else "."
    )
    f = _section("f", "Your right to complain", ref="Art. 15(1)(f)", paragraphs=[f_par])
    g = _section(
        "g",
        "Where your data come from",
        ref="Art. 15(1)(g)",
        paragraphs=[
            c.source
            if c and c.source
            else "From you: they were collected when your application sent requests to our service with your access "
            "token. Your organisation issued that token and chose your tenant and roles."
        ],
    )
    h_par = [
        "Every request is checked automatically, with no person involved, by a usage policy (a policy "
        "engine): it checks which models your roles may use, where the model server runs, the personal data "
        "found in the request and the size of the request, and either lets the request through or refuses "
        "it with a reason. Usage limits (requests and tokens per minute) are applied the same way. These "
        "decisions only decide whether a single request is served; they have no legal or similarly "
        "significant effect on you (Art. 22), and you may ask us to review any of them."
    ]
    if reqs:
        other = len(reqs) - outcomes["answered"] - outcomes["policy"] - outcomes["ratelimit"]
        h_par.append(
            f"In the period: {plural(outcomes['answered'], 'request')} served, "
            f"{plural(outcomes['policy'], 'request')} refused by the policy, "
            f"{plural(outcomes['ratelimit'], 'request')} refused by the usage limits"
            + (
                f", {plural(other, 'request')} not served for other reasons (see the table below)."
                if other
                else "."
            )
        )
    h = _section(
        "h",
        "Automated decisions",
        ref="Art. 15(1)(h)",
        paragraphs=h_par,
        columns=["Reason the policy gave", "Requests"] if denied else None,
        rows=[[r, n] for r, n in denied.most_common()],
    )
    t_rows = []
    for x in dests:
        t = x.transfer(ctry)
        if t != "no":
            t_rows.append([_recipient_name(x), x.where(), x.safeguard(ctry)])
    t2 = _section(
        "transfers",
        "Transfers outside the EEA and their safeguards",
        ref="Art. 15(2)",
        paragraphs=[
            "Some of your requests were processed outside the European Economic Area, under these safeguards; you may "
            "ask us for a copy of them."
            if t_rows
            else "Your data were not transferred outside the European Economic Area."
        ],
        columns=["Recipient", "Where", "Safeguard"] if t_rows else None,
        rows=t_rows,
    )

    rows = []
    tech = []
    pairs: Sequence[tuple[int | None, Any]] = inp.personal
    if not pairs:
        pairs = [(None, None)] * len(docs)
    for d, (seq, _) in zip(docs, pairs, strict=False):
        p = d.get("payload") or {}
        rows.append(
            [
                when(d.get("time")),
                action_words(d),
                outcome_words(p) if d.get("type") == "gateway.request" else "Done",
                personal_words(personal.get(seq) if seq is not None else None, p),
            ]
        )
        if d.get("type") == "gateway.request":
            timings = p.get("timings_ms") or {}
            tech.append(
                [
                    seq if seq is not None else "-",
                    p.get("request_id"),
                    p.get("route"),
                    p.get("upstream"),
                    p.get("status"),
                    p.get("error_code"),
                    f"{p.get('prompt_tokens') or 0} / {p.get('completion_tokens') or 0}",
                    ", ".join(f"{k} {v}" for k, v in timings.items()) if isinstance(timings, dict) else "-",
                ]
            )
    records = _section(
        "records",
        "Your records",
        ref="Art. 15(3)",
        paragraphs=[
            "A copy of the records about you, one line per event. Personal data are shown decrypted where the key "
            "still exists and as (erased) where it was destroyed."
        ],
        columns=["Time", "What was done", "Outcome", "Personal data held"],
        rows=rows,
    )
    appendix = [
        _section(
            "tech",
            "Technical detail of each request",
            columns=[
                "Record",
                "Request id",
                "Route",
                "Model server",
                "HTTP status",
                "Error code",
                "Tokens in / out",
                "Time per stage (ms)",
            ],
            rows=tech,
        ),
        _section(
            "ids",
            "Identifiers",
            columns=["", ""],
            rows=[
                ["Your pseudonym in the log", inp.info.get("actor") or "-"],
                ["Your encryption key", "destroyed (erasure, Art. 17)" if erased else "present"],
            ],
        ),
    ]
    subject = inp.info.get("subject")
    return {
        "kind": "access",
        "title": "Your personal data: reply to your access request (GDPR Art. 15)",
        "summary": [
            ["Data subject", str(subject) if subject else "-"],
            ["Controller", _party(c.controller) if c else f"({TO_COMPLETE})"],
            ["Data protection officer", _party(c.dpo) if c and c.dpo else "-"],
            ["Period covered", _period_words(docs)],
        ],
        "warnings": []
        if c
        else [
            "No compliance section in the configuration: the controller, DPO, retention "
            "periods and recipients' names are missing from this reply."
        ],
        "sections": [a, b, cc, dd, e, f, g, h, t2, records],
        "appendix": appendix,
        "facts": {
            "period": _period(docs),
            "actor": inp.info.get("actor"),
            "erased": erased,
            "recipients": [x.recipient.name if x.recipient else x.upstream for x in dests],
            "outcomes": dict(outcomes),
            "pii": dict(pii),
        },
    }


REPORTS: dict[str, Callable[[ReportInput], dict[str, Any]]] = {}


def register(name: str, fn: Callable[[ReportInput], dict[str, Any]]) -> None:
    REPORTS[name] = fn


register("activity", activity)
register("art30", art30)
register("access", access)

TITLES = {
    "activity": "Activity report",
    "art30": "Record of processing activities (GDPR Art. 30)",
    "access": "Reply to an access request (GDPR Art. 15)",
}

# The sections every access reply must carry: Art. 15(1)(a)-(h), 15(2) and the copy (15(3)).
ACCESS_ITEMS = ("a", "b", "c", "d", "e", "f", "g", "h", "transfers", "records")
