"""granian's entry point for the gateway: ``granian --factory granian_app:create``.

The benchmark sets CG_BENCH_CONFIG to the YAML file; the app is the same
``GatewayApp`` that ``gateway serve`` hands to uvicorn (lifespan included).
"""

from __future__ import annotations

import os

from gateway.config import load_config
from gateway.hosts.proxy.app import GatewayApp


def create() -> GatewayApp:
    return GatewayApp(load_config(os.environ["CG_BENCH_CONFIG"]))
