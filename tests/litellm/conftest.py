"""Fixtures: `gateway serve` (the real ASGI app under uvicorn) with the guardrail API, an echo model server."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from gateway.config import load_config
from gateway.hosts.proxy.app import GatewayApp
from gateway.policy.bundle import default_bundle_dir
from tests.gateway.conftest import audit_events
from tests.gateway.upstream_app import EchoUpstream
from tests.servers import ServerThread

GUARDRAIL = "/beta/litellm_basic_guardrail_api"


@dataclass
class Gateway:
    url: str
    app: GatewayApp
    key: str
    audit: Path
    upstream: EchoUpstream
    upstream_url: str

    def events(self, at_least: int) -> list[dict[str, Any]]:
        return audit_events(self.audit, at_least)

    def guardrail_events(self) -> list[dict[str, Any]]:
        return [e for e in audit_events(self.audit, 0) if e["payload"].get("host") == "guardrail"]


def gateway_config(up_url: str, tmp: Path, key_file: Path, **extra: Any) -> Any:
    overrides: dict[str, Any] = {
        "upstreams": [{"name": "u", "url": up_url}],
        "plugins": ["auth", "ratelimit", "pii", "policy", "audit"],
        "pii": {"ner": {"enabled": False}, "default_operator": "pseudonymize"},
        "policy": {"bundle_dir": str(default_bundle_dir())},
        "audit": {"store": f"jsonl://{tmp / 'audit.jsonl'}"},
        "guardrail": {"api_key_envs": [], "api_key_files": [str(key_file)]},
    }
    overrides.update(extra)
    return load_config(None, overrides=overrides, environ={})


@pytest.fixture(scope="module")
def gw(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    tmp = tmp_path_factory.mktemp("guardrail")
    key = "cg-test-" + secrets.token_urlsafe(24)
    key_file = tmp / "guardrail.key"
    key_file.write_text(key + "\n")
    up = EchoUpstream(models=("echo-1", "llama-2-7b-uncensored"))
    with ServerThread(up) as up_srv:
        app = GatewayApp(gateway_config(up_srv.url, tmp, key_file))
        with ServerThread(app) as srv:
            yield Gateway(srv.url, app, key, tmp / "audit.jsonl", up, up_srv.url)
