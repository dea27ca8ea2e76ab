"""ASGI types shared by the gateway's HTTP hosts (the proxy and the LiteLLM guardrail).

The same shapes as Starlette's ``starlette.types`` (which the base install does not ship): a
connection ``Scope``, the ``Message`` dicts exchanged with the server, and the ``Receive`` /
``Send`` callables.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any, TypeAlias

Scope: TypeAlias = MutableMapping[str, Any]
Message: TypeAlias = MutableMapping[str, Any]
Receive: TypeAlias = Callable[[], Awaitable[Message]]
Send: TypeAlias = Callable[[Message], Awaitable[None]]
ASGIApp: TypeAlias = Callable[[Scope, Receive, Send], Awaitable[None]]

__all__ = ["ASGIApp", "Message", "Receive", "Scope", "Send"]
