"""The chain inside a real Envoy (ext_proc), in front of a real model server."""

from __future__ import annotations

import httpx

from tests.extproc.conftest import Stack, bearer

EMAIL = "li.wei@example.com"
PHONE = "13812345678"


def chat(text: str, **extra: object) -> dict[str, object]:
    return {"model": "echo-1", "messages": [{"role": "user", "content": text}], **extra}


def test_pii_redacted_in_and_restored_out(stack: Stack, token: str) -> None:
    r = httpx.post(f"{stack.url}/v1/chat/completions", json=chat(f"mail {EMAIL} or call {PHONE}"),
                   headers=bearer(token), timeout=30)
    assert r.status_code == 200, r.text
    seen = stack.upstream.received[-1]["messages"][0]["content"]
    assert EMAIL not in seen and PHONE not in seen and "<EMAIL_ADDRESS_1>" in seen, seen
    assert r.json()["choices"][0]["message"]["content"] == f"echo says: mail {EMAIL} or call {PHONE}"
    assert "server-timing" in r.headers and "x-request-id" in r.headers
    assert "authorization" not in stack.upstream.headers[-1]
