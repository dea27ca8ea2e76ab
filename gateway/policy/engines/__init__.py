"""Embedded Rego engines behind one small interface, in an explicit registry.

``regorus`` (the default) is the Rust interpreter from ``gordon-to-regorus``;
``regopy`` wraps Microsoft's rego-cpp. ``docs/policy.md`` records why regorus
is the default. Third parties add an engine with ``register(name, cls)``.
"""

from __future__ import annotations

from gateway.policy.engines.base import UNDEFINED, CompiledPolicy, Engine

_REGISTRY: dict[str, str | type[Engine]] = {
    "regorus": "gateway.policy.engines.regorus_engine:RegorusEngine",
    "regopy": "gateway.policy.engines.regopy_engine:RegopyEngine",
}


def register(name: str, cls: type[Engine]) -> None:
    _REGISTRY[name] = cls


def engine_names() -> list[str]:
    return sorted(_REGISTRY)


def get_engine(name: str) -> Engine:
    """Instantiate an engine by name; the module is imported only when asked for."""
    try:
        target = _REGISTRY[name]
    except KeyError:
        raise LookupError(f"unknown policy engine {name!r}; known: {', '.join(engine_names())}") from None
    if isinstance(target, str):
        module, _, attr = target.partition(":")
        target = getattr(__import__(module, fromlist=[attr]), attr)
        _REGISTRY[name] = target
    return target()


__all__ = ["UNDEFINED", "CompiledPolicy", "Engine", "engine_names", "get_engine", "register"]
