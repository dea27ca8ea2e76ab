from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from gateway.auth.devkey import mint
from gateway.config import load_config
from gateway.hosts.proxy.app import GatewayApp
from tests.gateway.upstream_app import EchoUpstream
from tests.servers import ServerThread


@pytest.fixture
def upstream() -> Iterator[tuple[EchoUpstream, str]]:
    app = EchoUpstream()
    with ServerThread(app) as srv:
        yield app, srv.url


@contextlib.contextmanager
def run_gateway(overrides: dict[str, Any], tmp_path: Path) -> Iterator[tuple[str, GatewayApp]]:
    base: dict[str, Any] = {
        "plugins": ["auth", "ratelimit", "audit"],
        "audit": {"store": f"jsonl://{tmp_path / 'audit.jsonl'}"},
    }
    for k, v in overrides.items():
        base[k] = v
    config = load_config(None, overrides=base, environ={})
    app = GatewayApp(config)
    with ServerThread(app) as srv:
        yield srv.url, app


@pytest.fixture
def gateway_factory(tmp_path: Path):
    stack = contextlib.ExitStack()

    def make(**overrides: Any) -> tuple[str, GatewayApp]:
        return stack.enter_context(run_gateway(overrides, tmp_path))

    with stack:
        yield make


@pytest.fixture
def token() -> str:
    return mint("alice", "acme", ["user"])


def auth(tok: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {tok}"}


def audit_events(path: Path, at_least: int, timeout: float = 10.0) -> list[dict[str, Any]]:
    """The JSON-lines audit events once at least ``at_least`` are written (they land after the answer)."""
    import time

    import orjson

    deadline = time.monotonic() + timeout
    while True:
        events = [orjson.loads(x) for x in path.read_bytes().splitlines()] if path.exists() else []
        if len(events) >= at_least or time.monotonic() > deadline:
            return events
        time.sleep(0.05)
