"""What one record holds, and the exact bytes that get hashed.

A record body is the RFC 8785 canonical JSON of::

    {"v": 1, "time": "2026-01-31T12:00:00.000000Z", "type": "gateway.request",
     "actor": "<hmac hex>", "tenant": "acme", "payload": {...},
     "personal": {"kid": ..., "n": ..., "ct": ...}}

(``actor``, ``tenant`` and ``personal`` are left out when empty). The sequence
number is not in the body: it is the record's leaf index, fixed by its position
in the Merkle tree and the chain. The store keeps these exact bytes; the
verifier hashes them as they are and never re-serialises.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson

from audit.errors import StoreError
from audit.hashing import canonical_json, orjson_is_canonical

VERSION = 1
_TYPE = re.compile(r"^[a-z][a-z0-9_.:-]{0,63}$")


def utc_now() -> str:
    """Fixed-width RFC 3339 UTC with microseconds: sorts as text in every store."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_time(value: str) -> str:
    """A date or datetime given by a user, as the fixed-width form the stores compare."""
    v = value.strip()
    try:
        dt = datetime.fromisoformat(v.replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(
            f"{value!r} is not an ISO 8601 date or time (e.g. 2026-01-31 or 2026-01-31T12:00Z)"
        ) from None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return dt.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@dataclass(frozen=True)
class Entry:
    """A record ready to append: everything but its sequence number and hashes."""

    time: str
    type: str
    actor: str | None
    tenant: str | None
    body: bytes


def check_type(type_: str) -> str:
    if not isinstance(type_, str) or not _TYPE.match(type_):
        raise ValueError("record type must be lowercase letters, digits and . _ : - (e.g. 'gateway.request')")
    return type_


def make_body(
    time: str,
    type_: str,
    actor: str | None,
    tenant: str | None,
    payload: dict[str, Any],
    personal: dict[str, str] | None,
) -> bytes:
    if not isinstance(payload, dict):
        raise ValueError("record payload must be a JSON object")
    if tenant is not None and not isinstance(tenant, str):
        raise ValueError("tenant must be a string")
    doc: dict[str, Any] = {"v": VERSION, "time": time, "type": type_, "payload": payload}
    if actor is not None:
        doc["actor"] = actor
    if tenant is not None:
        doc["tenant"] = tenant
    if personal is not None:
        doc["personal"] = personal
    # Every field but the payload is a string, a small int or the sealed dict of ASCII keys and
    # base64 strings: orjson writes those canonically, so only the payload needs checking.
    return canonical_json(doc, known_fast=orjson_is_canonical(payload))


def parse_body(body: bytes) -> dict[str, Any]:
    try:
        doc = orjson.loads(body)
    except orjson.JSONDecodeError:
        raise StoreError("record body is not JSON") from None
    if not isinstance(doc, dict):
        raise StoreError("record body is not a JSON object")
    return doc
