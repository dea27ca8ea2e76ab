"""The plugin contract and the registry.

A plugin is a small class; the chain and its order come from the config
(``plugins:``). Built-in plugins are registered here by name; third parties
add theirs through the entry-point group ``compliance_gateway.plugins``.

Hooks (all optional except ``name``):

- ``startup()``/``shutdown()``: load models, compile policies, open pools once.
- ``ready() -> (ok, detail)``: for ``/readyz``.
- ``on_request(ctx)``: in chain order; raise a ``gateway.chain.errors.GatewayError`` to refuse.
- ``on_response(ctx)``: non-streaming, in reverse chain order; may rewrite ``ctx.response``.
- ``on_chunk(ctx, chunk) -> list[dict]``: streaming, in reverse chain order; gets one
  parsed SSE event (the JSON of a ``data:`` line) and returns the events to pass on
  (hold back by returning ``[]``, release later).
- ``on_stream_end(ctx) -> list[dict]``: flush anything held back.
- ``on_complete(ctx)``: always, in chain order, once the answer or error is decided and
  before its final bytes are released (``Chain.commit``: token debits, the audit record,
  whose durability the host then waits for). Must not raise.
"""

from __future__ import annotations

from importlib import metadata
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict

from gateway.chain.context import RequestContext

ENTRY_POINT_GROUP = "compliance_gateway.plugins"


class EmptySettings(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Plugin:
    """Base class with no-op hooks. Subclasses override what they need."""

    name: ClassVar[str] = "plugin"
    # The top-level config section holding this plugin's settings (None: PluginSpec.settings).
    section: ClassVar[str | None] = None
    Settings: ClassVar[type[BaseModel]] = EmptySettings

    def __init__(self, settings: Any, config: Any) -> None:
        self.settings = settings
        self.config = config

    async def startup(self) -> None:
        return None

    async def shutdown(self) -> None:
        return None

    async def ready(self) -> tuple[bool, str]:
        return True, "ok"

    async def on_request(self, ctx: RequestContext) -> None:
        return None

    async def on_response(self, ctx: RequestContext) -> None:
        return None

    def on_chunk(self, ctx: RequestContext, chunk: dict[str, Any]) -> list[dict[str, Any]]:
        return [chunk]

    def on_stream_end(self, ctx: RequestContext) -> list[dict[str, Any]]:
        return []

    async def on_complete(self, ctx: RequestContext) -> None:
        return None


# name -> "module:Class", imported lazily so an unused plugin costs nothing.
_BUILTINS: dict[str, str] = {
    "auth": "gateway.chain.plugins.auth:JWTAuthPlugin",
    "ratelimit": "gateway.chain.plugins.ratelimit:RateLimitPlugin",
    "pii": "gateway.chain.plugins.pii:PIIPlugin",
    "policy": "gateway.chain.plugins.policy:PolicyPlugin",
    "audit": "gateway.chain.plugins.audit:AuditPlugin",
    "watermark": "gateway.chain.plugins.watermark:WatermarkDetectPlugin",
}
_REGISTRY: dict[str, type[Plugin]] = {}


def register(name: str, cls: type[Plugin]) -> None:
    _REGISTRY[name] = cls


def _import(target: str) -> Any:
    module, _, attr = target.partition(":")
    mod = __import__(module, fromlist=[attr])
    return getattr(mod, attr)


def resolve(name: str) -> type[Plugin]:
    """Explicit registrations first, then built-ins, then installed entry points."""
    if name in _REGISTRY:
        return _REGISTRY[name]
    if name in _BUILTINS:
        cls = _import(_BUILTINS[name])
        _REGISTRY[name] = cls
        return cls
    for ep in metadata.entry_points(group=ENTRY_POINT_GROUP):
        if ep.name == name:
            cls = ep.load()
            _REGISTRY[name] = cls
            return cls
    raise LookupError(f"unknown plugin {name!r}: not built in and no entry point in {ENTRY_POINT_GROUP!r}")
