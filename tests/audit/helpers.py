"""Small helpers shared by the audit tests (real stores, real keys)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from audit.store import open_store


def gateway_event(i: int) -> dict:
    return {
        "request_id": f"req-{i}",
        "route": "/v1/chat/completions",
        "model": "qwen2.5-7b",
        "upstream": "gpu-eu",
        "status": 403 if i % 5 == 0 else 200,
        "decision": "deny" if i % 5 == 0 else "allow",
        "deny_reasons": ["pii.ssn"] if i % 5 == 0 else [],
        "prompt_tokens": 100 + i,
        "completion_tokens": 20,
        "timings_ms": {"auth": 0.25, "pii": 3.5, "upstream": 120.75},
        "pii": {"EMAIL_ADDRESS": i % 3},
    }


def sqlite_path(url: str) -> Path:
    return Path(url.removeprefix("sqlite:///"))


def sql(url: str, statement: str, args: tuple = ()) -> list[tuple]:
    """Edit the database behind the log's back, as an attacker with file access would."""
    with sqlite3.connect(sqlite_path(url)) as c:
        got = c.execute(statement, args).fetchall()
    return got


def opened(url: str):  # noqa: ANN201
    s = open_store(url)
    s.open()
    return s
