"""The one validation path: what ``gateway serve`` checks before it serves, and all that ``--check`` runs.

``check_chain(config)`` builds the chain's plugins from a loaded config (every
plugin name resolved, every section validated by its plugin's own Settings
model: modes, operators, entity names...) and runs each plugin's ``check()``:
the start-up work that needs no network (the policy bundle loaded, compiled and
its Rego tests run; the PII engine's keys and model loaded). It returns the
checked plugins, which ``serve`` then hands to the host, so nothing is
validated twice and nothing that ``--check`` accepts is refused by ``serve``
for a configuration reason. Services (the audit store, Redis, an OPA server,
the upstreams) are reached only when the host starts.
"""

from __future__ import annotations

from gateway.chain.pipeline import build_plugins
from gateway.chain.plugins import Plugin
from gateway.config import GatewayConfig


def check_chain(config: GatewayConfig) -> list[Plugin]:
    """Build and check the plugins; raises ``ConfigError`` naming the key."""
    plugins = build_plugins(config)
    for plugin in plugins:
        check = getattr(plugin, "check", None)
        if callable(check):
            check()
    return plugins
