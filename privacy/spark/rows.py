"""Row redaction shared by the Spark and Hugging Face paths (no Spark or datasets import here).

A job is described by a ``JobSpec`` (settings without key locations, tenant,
fields, size limit, key id) and one secret: the tenant's derived HMAC key
(HKDF of the master secret, computed on the driver; the master never leaves
it). Workers look their redactor up in a module-level cache keyed by the
spec's digest, so the engine (patterns, spaCy model) loads once per worker
process, not once per row or per batch.

Per row the result is the redacted value(s), the findings counted per entity
type, and a reject reason (or None). A row is rejected, never passed through,
when a field holds a non-string, bytes that are not UTF-8, or more than the
size limit; a JSON Lines record also when it is not a JSON object. Reasons
name the field and the problem, never the content.

Operators are the engine's, with one difference that matters for corpora split
over workers: ``pseudonymize`` uses the keyed derivation (the same value gets
the same stand-in on every worker and in every record) instead of per-record
numbering. ``placeholder`` stays per text, as in ``privacy redact``.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import math
from collections import Counter
from dataclasses import dataclass
from typing import Any

from privacy.pii.engine import PIIEngine
from privacy.pii.keys import TenantKeys, load_master_secret
from privacy.pii.operators import RedactionSession
from privacy.pii.settings import PIISettings

REJECT_NOT_STRING = "not a string"
REJECT_UNDECODABLE = "not valid UTF-8"
REJECT_TOO_LARGE = "over the size limit"
REJECT_NOT_JSON = "not valid JSON"
REJECT_NOT_OBJECT = "not a JSON object"
REJECT_ENGINE = "the PII engine failed on this row"
KEYED_OPERATORS = frozenset({"hash", "pseudonymize"})

# How many times this process built a redactor (tests read it to prove "once per worker").
LOADS = 0
_REDACTORS: dict[str, RowRedactor] = {}


class JobError(ValueError):
    """The job cannot start as asked (no key for a keyed operator, bad field name)."""


@dataclass(frozen=True)
class JobSpec:
    """Everything a worker needs except the key; safe to ship and to fingerprint (no secret in it)."""

    settings_json: str
    tenant: str
    fields: tuple[str, ...]
    max_bytes: int
    key_id: str | None

    @property
    def digest(self) -> str:
        h = hashlib.sha256()
        for part in (
            self.settings_json,
            self.tenant,
            "\x00".join(self.fields),
            str(self.max_bytes),
            self.key_id or "-",
        ):
            h.update(part.encode("utf-8"))
            h.update(b"\x1f")
        return h.hexdigest()


def operators_used(settings: PIISettings, tenant: str) -> set[str]:
    ops = {settings.default_operator, *settings.operators.values()}
    t = settings.tenants.get(tenant)
    if t:
        ops.update(t.operators.values())
    return ops


def prepare(
    settings: PIISettings, tenant: str, fields: list[str] | tuple[str, ...], max_bytes: int | None = None
) -> tuple[JobSpec, bytes | None]:
    """Driver side: the spec, and the tenant's derived key (None when no key is configured).

    Fails before any work when a keyed operator is configured without a key, so a
    cluster job never dies on its first row for a setup mistake.
    """
    fields = tuple(fields)
    if not fields or any(not f or not isinstance(f, str) for f in fields):
        raise JobError("name at least one field to redact (--fields a,b)")
    master = load_master_secret(settings.hash_key_file, settings.hash_key_env)
    if master is None and operators_used(settings, tenant) & KEYED_OPERATORS:
        raise JobError(
            "the hash/pseudonymize operator needs a key: set pii.hash_key_file or the "
            f"{settings.hash_key_env or 'hash key'} environment variable"
        )
    key = TenantKeys(master).key(tenant) if master is not None else None
    key_id = hmac.new(key, b"cg-pii-key-id", hashlib.sha256).hexdigest()[:16] if key else None
    clean = settings.model_copy(update={"hash_key_file": None, "hash_key_env": None})
    limit = max_bytes if max_bytes is not None else settings.max_chars
    if limit <= 0:
        raise JobError("the size limit must be positive")
    return JobSpec(clean.model_dump_json(), tenant, fields, min(limit, settings.max_chars), key_id), key


class _OneTenantKeys(TenantKeys):
    """The derived key of one tenant, without the master secret."""

    def __init__(self, tenant: str, key: bytes) -> None:
        super().__init__(b"")
        self._cache[tenant] = key
        self._tenant = tenant

    def key(self, tenant: str) -> bytes:
        if tenant != self._tenant:
            raise JobError("this worker holds the key of one tenant only")
        return self._cache[tenant]


def redactor(spec: JobSpec, key: bytes | None) -> RowRedactor:
    """The process's redactor for this job, built on first use."""
    r = _REDACTORS.get(spec.digest)
    if r is None:
        r = RowRedactor(spec, key)
        _REDACTORS.clear()  # one job at a time per worker: do not keep old models around
        _REDACTORS[spec.digest] = r
    return r


def _is_missing(v: Any) -> bool:
    return v is None or (isinstance(v, float) and math.isnan(v))


class RowRedactor:
    """One engine per worker process; redacts batches of rows."""

    def __init__(self, spec: JobSpec, key: bytes | None) -> None:
        global LOADS
        self.spec = spec
        self.settings = PIISettings.model_validate_json(spec.settings_json)
        self.tenant = spec.tenant
        self.keys = _OneTenantKeys(spec.tenant, key) if key is not None else None
        self.engine = PIIEngine(self.settings)
        self.engine.start()
        LOADS += 1

    # -- texts ------------------------------------------------------------------------------
    def _redact_texts(self, texts: list[str]) -> tuple[list[str], list[Counter[str]]]:
        """Like ``privacy redact``: one analysis batch, one operator session per text."""
        out: list[str] = []
        counts: list[Counter[str]] = []
        start = 0
        while start < len(texts):  # the engine caps the characters of one call
            end, total = start, 0
            while end < len(texts) and (end == start or total + len(texts[end]) <= self.settings.max_chars):
                total += len(texts[end])
                end += 1
            chunk = texts[start:end]
            for text, found in zip(chunk, self.engine.analyze_many(chunk, self.tenant), strict=True):
                session = RedactionSession(self.settings, self.tenant, self.keys, durable=True)
                out.append(session.apply(text, found))
                counts.append(Counter(f.entity_type for f in found))
            start = end
        return out, counts

    def _redact_safely(
        self, texts: list[str], owners: list[int], reasons: list[str | None]
    ) -> tuple[list[str | None], list[Counter[str]]]:
        """Redact; if the engine fails on the batch, find the rows it fails on and reject only those."""
        try:
            red, counts = self._redact_texts(texts)
            return list(red), counts
        except Exception:  # noqa: BLE001 - the message could hold text; only the row is reported
            if len(texts) == 1:
                reasons[owners[0]] = reasons[owners[0]] or REJECT_ENGINE
                return [None], [Counter()]
        mid = len(texts) // 2
        a, ca = self._redact_safely(texts[:mid], owners[:mid], reasons)
        b, cb = self._redact_safely(texts[mid:], owners[mid:], reasons)
        return a + b, ca + cb

    def _check(self, field: str, v: Any) -> tuple[str | None, str | None]:
        """(text, None) or (None, reason)."""
        if isinstance(v, bytes | bytearray | memoryview):
            raw = bytes(v)
            if len(raw) > self.spec.max_bytes:
                return None, f"{field}: {REJECT_TOO_LARGE}"
            try:
                return raw.decode("utf-8"), None
            except UnicodeDecodeError:
                return None, f"{field}: {REJECT_UNDECODABLE}"
        if not isinstance(v, str):
            return None, f"{field}: {REJECT_NOT_STRING} ({type(v).__name__})"
        try:
            size = len(v.encode("utf-8"))
        except UnicodeEncodeError:
            return None, f"{field}: {REJECT_UNDECODABLE}"
        if size > self.spec.max_bytes:
            return None, f"{field}: {REJECT_TOO_LARGE}"
        return v, None

    # -- columns (Spark DataFrame columns, datasets columns) -----------------------------------
    def redact_columns(
        self, columns: dict[str, list[Any]]
    ) -> tuple[dict[str, list[Any]], list[dict[str, int]], list[str | None]]:
        """Redact whole columns; returns the new columns, counts per row and reject reasons per row.

        Missing values (None/NaN) stay missing. A rejected row keeps its original values
        (it goes to the rejects output, not to the redacted one).
        """
        n = len(next(iter(columns.values()))) if columns else 0
        reasons: list[str | None] = [None] * n
        texts: list[str] = []
        owners: list[int] = []
        slots: list[tuple[str, int, bool]] = []
        for name, values in columns.items():
            for i, v in enumerate(values):
                if _is_missing(v):
                    continue
                text, why = self._check(name, v)
                if why is not None:
                    reasons[i] = reasons[i] or why
                    continue
                texts.append(text)  # type: ignore[arg-type]
                owners.append(i)
                slots.append((name, i, isinstance(v, bytes | bytearray | memoryview)))
        keep = [k for k, o in enumerate(owners) if reasons[o] is None]
        red, counts = self._redact_safely([texts[k] for k in keep], [owners[k] for k in keep], reasons)
        out = {name: list(values) for name, values in columns.items()}
        per_row: list[Counter[str]] = [Counter() for _ in range(n)]
        for k, value, c in zip(keep, red, counts, strict=True):
            name, i, was_bytes = slots[k]
            if reasons[i] is None and value is not None:
                out[name][i] = value.encode("utf-8") if was_bytes else value
                per_row[i].update(c)
        for i, why in enumerate(reasons):
            if why is not None:
                per_row[i] = Counter()
                for name in columns:
                    out[name][i] = columns[name][i]
        return out, [dict(sorted(c.items())) for c in per_row], reasons

    # -- JSON Lines (one record per line, dotted field paths) ---------------------------------
    def redact_lines(self, lines: list[Any]) -> tuple[list[Any], list[dict[str, int]], list[str | None]]:
        """Redact JSON Lines records like ``privacy redact`` does; rejects instead of guessing.

        Returns the output lines (redacted JSON for accepted records, the input as it was
        for rejected ones), counts and reasons.
        """
        n = len(lines)
        reasons: list[str | None] = [None] * n
        objs: list[Any] = [None] * n
        texts: list[str] = []
        owners: list[int] = []
        slots: list[tuple[Any, Any]] = []
        for i, line in enumerate(lines):
            if _is_missing(line):
                continue
            text, why = self._check("line", line)
            if why is not None:
                reasons[i] = why
                continue
            body = text.rstrip("\r\n")  # type: ignore[union-attr]
            if not body.strip():
                continue
            try:
                obj = json.loads(body)
            except ValueError:
                reasons[i] = f"line: {REJECT_NOT_JSON}"
                continue
            if not isinstance(obj, dict):
                reasons[i] = f"line: {REJECT_NOT_OBJECT}"
                continue
            objs[i] = obj
            mine: list[tuple[Any, Any]] = []
            for path in self.spec.fields:
                parent, key = _resolve(obj, path)
                if parent is None or parent[key] is None:
                    continue  # absent: written unchanged, as privacy redact does
                value = parent[key]
                if isinstance(value, str):
                    mine.append((parent, key))
                elif isinstance(value, dict | list):
                    mine.extend(_strings_in(value))
                else:
                    reasons[i] = f"{path}: {REJECT_NOT_STRING} ({type(value).__name__})"
                    break
            if reasons[i] is None:
                for parent, key in mine:
                    texts.append(parent[key])
                    owners.append(i)
                    slots.append((parent, key))
        red, counts = self._redact_safely(texts, owners, reasons)
        per_row: list[Counter[str]] = [Counter() for _ in range(n)]
        for (parent, key), value, c, i in zip(slots, red, counts, owners, strict=True):
            if value is not None:
                parent[key] = value
                per_row[i].update(c)
        out: list[Any] = []
        for i, line in enumerate(lines):
            if reasons[i] is not None or objs[i] is None:
                per_row[i] = Counter()
                out.append(line)
            else:
                text = json.dumps(objs[i], ensure_ascii=False)
                out.append(text.encode("utf-8") if isinstance(line, bytes | bytearray | memoryview) else text)
        return out, [dict(sorted(c.items())) for c in per_row], reasons


def _resolve(obj: dict[str, Any], path: str) -> tuple[Any, Any]:
    cur: Any = obj
    parts = path.split(".")
    for p in parts[:-1]:
        if not isinstance(cur, dict) or p not in cur:
            return None, None
        cur = cur[p]
    if not isinstance(cur, dict) or parts[-1] not in cur:
        return None, None
    return cur, parts[-1]


def _strings_in(node: Any) -> list[tuple[Any, Any]]:
    out: list[tuple[Any, Any]] = []
    items = node.items() if isinstance(node, dict) else enumerate(node) if isinstance(node, list) else ()
    for k, v in items:
        if isinstance(v, str):
            out.append((node, k))
        elif isinstance(v, dict | list):
            out.extend(_strings_in(v))
    return out
