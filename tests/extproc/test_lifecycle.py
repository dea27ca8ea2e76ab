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
            with httpx.stream(
                "POST",
                f"{stack.url}/v1/chat/completions",
                json=chat(text, stream=True),
                headers=bearer(tok),
                timeout=30,
            ) as s:
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


def test_workers_share_one_port(tmp_path: Path) -> None:
    """--workers N: N processor processes on one port (SO_REUSEPORT); Envoy spreads its streams."""
    import socket

    import yaml

    from tests.extproc.conftest import chain_config
    from tests.extproc.harness import EnvoyProcess, ExtProcProcess, envoy_config
    from tests.extproc.split_upstream import SplitEcho
    from tests.servers import ServerThread

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    up = SplitEcho()
    with ServerThread(up) as srv:
        (tmp_path / "gw.yaml").write_text(
            yaml.safe_dump(chain_config(srv.url, f"sqlite:///{tmp_path / 'audit.db'}", plugins=["auth"]))
        )
        cmd = [
            "gateway",
            "extproc",
            "--config",
            str(tmp_path / "gw.yaml"),
            "--port",
            str(port),
            "--log-level",
            "info",
            "--workers",
            "2",
        ]
        with (
            ExtProcProcess(tmp_path / "gw.yaml", module=cmd) as ep,
            EnvoyProcess(envoy_config(srv.port, port)) as env,
        ):
            assert ep.proc is not None
            tok = mint("alice", "acme", ["user"])
            with httpx.Client() as c:
                codes = {
                    c.post(
                        f"{env.url}/v1/chat/completions", json=chat("hi"), headers=bearer(tok), timeout=30
                    ).status_code
                    for _ in range(20)
                }
            assert codes == {200}
            deadline = time.monotonic() + 30
            while ep.output.count(b"ext_proc server listening on") < 2 and time.monotonic() < deadline:
                time.sleep(0.1)
            assert ep.output.count(f"listening on 127.0.0.1:{port}".encode()) == 2, ep.output[-2000:]
