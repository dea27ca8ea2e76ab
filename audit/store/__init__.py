"""Stores by URL scheme: an explicit registry (add one with :func:`register`)."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from urllib.parse import urlsplit

from audit.errors import StoreError
from audit.store.base import Head, Pruned, Query, Row, Store

__all__ = ["Head", "Pruned", "Query", "Row", "Store", "open_store", "register", "STORES"]

# scheme -> "module:Class"; imported only when used so sqlite users never load psycopg.
STORES: dict[str, str] = {
    "sqlite": "audit.store.sqlite:SQLiteStore",
    "postgresql": "audit.store.postgres:PostgresStore",
    "postgres": "audit.store.postgres:PostgresStore",
}


def register(scheme: str, target: str) -> None:
    STORES[scheme] = target


def open_store(url: str) -> Store:
    """Build the store for ``url`` (not yet opened: call ``open()``)."""
    scheme = urlsplit(url).scheme
    if scheme not in STORES:
        raise StoreError(
            f"unknown audit store {url.split(':', 1)[0]!r}: use one of "
            + ", ".join(f"{s}://" for s in STORES)
        )
    module, _, cls = STORES[scheme].partition(":")
    factory: Callable[[str], Store] = getattr(importlib.import_module(module), cls)
    return factory(url)
