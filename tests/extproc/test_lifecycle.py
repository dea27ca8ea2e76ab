"""Stopping the processor: SIGTERM lets open streams finish (each with its record), then Envoy fails closed."""

from __future__ import annotations

import json
import signal
import threading
import time
from pathlib import Path

import httpx

from gateway.auth.devkey import mint
from tests.extproc.conftest import bearer, envoy_stack
from tests.extproc.test_envoy import chat, request_records


def test_sigterm_drains_open_streams_then_fails_closed(tmp_path: Path) -> None:
    with envoy_stack(tmp_path, plugins=["auth", "audit"]) as stack:
        stack.upstream.pause = 0.05  # about 3 s for the whole answer
        tok = mint("alice", "acme", ["user"])
        text = "a long answer " * 6
        got: dict[str, object] = {}

        def stream() -> None:
            with httpx.stream("POST", f"{stack.url}/v1/chat/completions", json=chat(text, stream=True),
                              headers=bearer(tok), timeout=30) as s:
                got["rid"] = s.headers["x-request-id"]
                got["body"] = b"".join(s.iter_raw()).decode()

        t = threading.Thread(target=stream)
        t.start()
        time.sleep(1.0)  # mid-stream
        assert stack.extproc.proc is not None
        stack.extproc.proc.send_signal(signal.SIGTERM)
        t.join(30)
        body = str(got["body"])
        events = [json.loads(ln[6:]) for ln in body.split("\n") if ln.startswith("data: {")]
        out = "".join(c["delta"].get("content") or "" for e in events for c in e.get("choices", []))
        assert out == f"echo says: {text}" and body.rstrip().endswith("data: [DONE]"), body[-300:]
        assert stack.extproc.proc.wait(timeout=30) == 0  # a clean exit: the audit tail is signed
        recs = request_records(stack.store, {str(got["rid"])})
        assert len(recs) == 1 and recs[0]["payload"]["status"] == 200
        before = len(stack.upstream.received)
        r = httpx.post(f"{stack.url}/v1/chat/completions", json=chat("hi"), headers=bearer(tok), timeout=30)
        assert r.status_code >= 500 and len(stack.upstream.received) == before
