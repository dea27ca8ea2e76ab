from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from gateway.auth.devkey import mint
from tests.extproc.harness import EnvoyProcess, ExtProcProcess, envoy_config
from tests.extproc.split_upstream import SplitEcho
from tests.servers import ServerThread


@dataclass
class Stack:
    url: str  # Envoy's listener
    upstream: SplitEcho
    envoy: EnvoyProcess
    extproc: ExtProcProcess
    store: str  # the audit store


def chain_config(upstream_url: str, store: str, **sections: Any) -> dict[str, Any]:
    cfg: dict[str, Any] = {
        "upstreams": [{"name": "echo", "url": upstream_url, "labels": {"region": "eu"}}],
        "plugins": ["auth", "ratelimit", "pii", "policy", "audit"],
        "pii": {"default_operator": "pseudonymize", "ner": {"enabled": False}},
        "policy": {"reload_interval_s": 0, "test_on_load": False},
        "rate_limit": {"tenants": {"initech": {"requests_per_minute": 2}}},
        # Sign the tail half a second after the last record, so `audit verify` sees it signed.
        "audit": {"store": store, "linger_ms": 1, "checkpoint_seconds": 0.5},
        "server": {"max_body_bytes": 65536},
    }
    cfg.update(sections)
    return cfg


@contextlib.contextmanager
def envoy_stack(tmp: Path, **sections: Any) -> Iterator[Stack]:
    store = f"sqlite:///{tmp / 'audit.db'}"
    up = SplitEcho()
    with ServerThread(up) as srv:
        cfg_file = tmp / "gateway.yaml"
        cfg_file.write_text(yaml.safe_dump(chain_config(srv.url, store, **sections)))
        with ExtProcProcess(cfg_file) as ep:
            with EnvoyProcess(envoy_config(srv.port, ep.port)) as envoy:
                yield Stack(envoy.url, up, envoy, ep, store)


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    with envoy_stack(tmp_path_factory.mktemp("extproc")) as s:
        yield s


@pytest.fixture(scope="module")
def token() -> str:
    return mint("alice", "acme", ["user"])


def bearer(tok: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {tok}"}
