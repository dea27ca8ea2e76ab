"""Operators (what replaces a finding) and the per-request redaction session.

Registry ``OPERATORS: name -> function(session, entity_type, value) -> str``.
The session holds what must be consistent within one request: the numbering
of typed placeholders (the same value gets the same ``<PERSON_1>`` in every
message) and the pseudonym map used to restore responses. It lives only as
long as the request; nothing here is logged.

Presidio-anonymizer's operators are stateless (no per-request numbering, an
unkeyed hash), so the operator layer is ours; its ``mask`` semantics are kept.
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from privacy.pii.findings import Finding
from privacy.pii.keys import TenantKeys
from privacy.pii.settings import MaskSettings, PIISettings

Operator = Callable[["RedactionSession", str, str], str]
OPERATORS: dict[str, Operator] = {}

# Placeholders, hash tokens and pseudonyms all look like <TYPE_suffix>.
TOKEN_RE = re.compile(r"<([A-Z][A-Z_]*)_([0-9a-f]+)>")
TOKEN_MAX_LEN = 48

DEFAULT_MASKS: dict[str, MaskSettings] = {
    "PHONE_NUMBER": MaskSettings(keep_start=3, keep_end=4),
    "CN_MOBILE": MaskSettings(keep_start=3, keep_end=4),
    "CREDIT_CARD": MaskSettings(keep_start=0, keep_end=4),
    "CN_BANK_CARD": MaskSettings(keep_start=0, keep_end=4),
    "CN_RESIDENT_ID": MaskSettings(keep_start=3, keep_end=2),
    "IBAN_CODE": MaskSettings(keep_start=2, keep_end=2),
    "US_SSN": MaskSettings(keep_start=0, keep_end=4),
    "PERSON": MaskSettings(keep_start=1, keep_end=0),
    "EMAIL_ADDRESS": MaskSettings(keep_start=1, keep_end=0),
    "IP_ADDRESS": MaskSettings(keep_start=0, keep_end=0),
}
_DIGIT_TYPES = frozenset(
    {"PHONE_NUMBER", "CN_MOBILE", "CREDIT_CARD", "CN_BANK_CARD", "US_SSN", "CN_RESIDENT_ID"}
)


def register(name: str, op: Operator) -> None:
    OPERATORS[name] = op


def normalize(entity_type: str, value: str) -> str:
    """The identity of a value for numbering and hashing: '138-1234-5678' == '13812345678'."""
    v = unicodedata.normalize("NFKC", value).strip()
    if entity_type in _DIGIT_TYPES:
        digits = "".join(c for c in v if c.isalnum()).upper()
        if entity_type in ("CN_MOBILE", "PHONE_NUMBER") and digits.startswith("86") and len(digits) == 13:
            digits = digits[2:]
        return digits
    if entity_type in ("IBAN_CODE",):
        return v.replace(" ", "").upper()
    return " ".join(v.split()).casefold()


def _remove(session: RedactionSession, entity_type: str, value: str) -> str:
    return ""


def _keep(session: RedactionSession, entity_type: str, value: str) -> str:
    return value


def _mask(session: RedactionSession, entity_type: str, value: str) -> str:
    spec = session.settings.mask.get(entity_type) or DEFAULT_MASKS.get(entity_type) or MaskSettings()
    if entity_type == "EMAIL_ADDRESS" and "@" in value:
        local, _, domain = value.partition("@")
        return local[: spec.keep_start] + spec.char * max(1, len(local) - spec.keep_start) + "@" + domain
    idx = [i for i, c in enumerate(value) if c.isalnum()]
    keep = set(idx[: spec.keep_start]) | set(idx[len(idx) - spec.keep_end :] if spec.keep_end else [])
    if len(keep) >= len(idx):  # too short to keep anything: mask it all
        keep = set()
    return "".join(c if (i in keep or not c.isalnum()) else spec.char for i, c in enumerate(value))


def _placeholder(session: RedactionSession, entity_type: str, value: str) -> str:
    return session.number(entity_type, value)


def _pseudonymize(session: RedactionSession, entity_type: str, value: str) -> str:
    if session.durable:  # stable across requests: a keyed-hash token, kept in the pseudonym store
        token = _hash(session, entity_type, value)
        if token not in session.pseudonyms:
            session.new_durable[token] = value
    else:
        token = session.number(entity_type, value)
    session.pseudonyms.setdefault(token, value)
    return token


def _hash(session: RedactionSession, entity_type: str, value: str) -> str:
    if session.keys is None:
        raise RuntimeError(
            "hash operator configured without a hash key (set pii.hash_key_file or the key env var)"
        )
    return f"<{entity_type}_{session.keys.token(session.tenant, entity_type, normalize(entity_type, value))}>"


register("remove", _remove)
register("keep", _keep)
register("mask", _mask)
register("placeholder", _placeholder)
register("pseudonymize", _pseudonymize)
register("hash", _hash)


@dataclass
class RedactionSession:
    """Operator state for one request (or one dataset record stream)."""

    settings: PIISettings
    tenant: str = "default"
    keys: TenantKeys | None = None
    numbers: dict[tuple[str, str], str] = field(default_factory=dict)
    counters: dict[str, int] = field(default_factory=dict)
    pseudonyms: dict[str, str] = field(default_factory=dict)
    durable: bool = False
    new_durable: dict[str, str] = field(default_factory=dict)

    def number(self, entity_type: str, value: str) -> str:
        key = (entity_type, normalize(entity_type, value))
        token = self.numbers.get(key)
        if token is None:
            n = self.counters.get(entity_type, 0) + 1
            self.counters[entity_type] = n
            token = f"<{entity_type}_{n}>"
            self.numbers[key] = token
        return token

    def operator_for(
        self, entity_type: str, overrides: dict[str, str] | None = None, response: bool = False
    ) -> str:
        if overrides and entity_type in overrides:
            op = overrides[entity_type]
        else:
            t = self.settings.tenants.get(self.tenant)
            if t and entity_type in t.operators:
                op = t.operators[entity_type]
            else:
                op = self.settings.operators.get(entity_type, self.settings.default_operator)
        # PII the model produced is never pseudonymised: restoring it would reveal it again.
        if response and op == "pseudonymize":
            return "placeholder"
        return op

    def apply(
        self,
        text: str,
        findings: Sequence[Finding],
        overrides: dict[str, str] | None = None,
        response: bool = False,
    ) -> str:
        """Replace each finding (non-overlapping, sorted) with its operator's output."""
        if not findings:
            return text
        parts: list[str] = []
        pos = 0
        for f in findings:
            parts.append(text[pos : f.start])
            op = OPERATORS[self.operator_for(f.entity_type, overrides, response)]
            parts.append(op(self, f.entity_type, text[f.start : f.end]))
            pos = f.end
        parts.append(text[pos:])
        return "".join(parts)

    def restore(self, text: str, json_escape: bool = False) -> str:
        """Put the real values back for pseudonyms issued in this session; other tokens stay.

        ``json_escape``: the text is a fragment of a JSON string (streamed tool-call arguments).
        """
        if not self.pseudonyms or "<" not in text:
            return text

        def sub(m: re.Match[str]) -> str:
            value = self.pseudonyms.get(m.group(0))
            if value is None:
                return m.group(0)
            return json.dumps(value, ensure_ascii=False)[1:-1] if json_escape else value

        return TOKEN_RE.sub(sub, text)
