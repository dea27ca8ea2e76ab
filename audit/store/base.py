"""The storage interface: what the appender, verifier and exporter ask of a store.

A store keeps five things: the records (sequence number, indexed columns and
the exact canonical bytes), the head (size, chain hash, Merkle frontier and the
size of the last checkpoint), the signed checkpoints, the subjects' wrapped data
keys, and a few metadata values (the log's origin, the pruned prefix). Hashing
is not the store's job: it hands rows over and takes back what the appender
computed, under a lock that serialises writers (see ``append_tx``).
"""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from collections.abc import Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any, TypeAlias
from urllib.parse import parse_qs, urlsplit

from audit.errors import StoreError
from audit.hashing import GENESIS

RECORD_COLUMNS = ("seq", "time", "type", "actor", "tenant", "body", "leaf", "chain")
# One record as a tuple in RECORD_COLUMNS order, as the database driver returns it (a tampered store
# may hold anything in any column: readers check the values).
RecordTuple: TypeAlias = tuple[Any, ...]
_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,40}$")


@dataclass
class Head:
    size: int = 0
    chain: bytes = GENESIS
    frontier: bytes = b""
    checkpoint_size: int = 0


@dataclass
class Row:
    seq: int
    time: str
    type: str
    actor: str | None
    tenant: str | None
    body: bytes
    leaf: bytes
    chain: bytes


@dataclass
class Pruned:
    """The anchor left by ``audit prune``: everything before ``size`` is gone but these hashes."""

    size: int
    chain: bytes
    frontier: bytes


@dataclass
class Query:
    since: str | None = None
    until: str | None = None
    tenant: str | None = None
    actor: str | None = None
    type: str | None = None


class AppendTx(ABC):
    """One write transaction holding the log's write lock; commit on clean exit."""

    @abstractmethod
    def head(self) -> Head: ...

    @abstractmethod
    def insert(self, rows: list[RecordTuple]) -> None:
        """Rows as tuples in RECORD_COLUMNS order."""

    @abstractmethod
    def set_head(self, head: Head) -> None: ...

    @abstractmethod
    def add_checkpoint(self, size: int, time: str, note: str) -> None: ...


def table_prefix(url: str) -> tuple[str, dict[str, str]]:
    """The ``?table=`` prefix (default ``audit``) and the other query parameters."""
    params = {k: v[-1] for k, v in parse_qs(urlsplit(url).query).items()}
    prefix = params.pop("table", "audit")
    if not _IDENT.match(prefix):
        raise StoreError(f"table prefix {prefix!r} must be letters, digits and underscores")
    schema = params.get("schema")
    if schema is not None and not _IDENT.match(schema):
        raise StoreError(f"schema {schema!r} must be letters, digits and underscores")
    return prefix, params


class Store(ABC):
    """An audit store; open() creates the schema, every method is synchronous (run it in a thread)."""

    url: str

    @abstractmethod
    def open(self) -> None: ...

    @abstractmethod
    def close(self) -> None: ...

    @abstractmethod
    def ping(self) -> None:
        """Raise AuditUnavailable unless a write transaction could start now."""

    @abstractmethod
    def append_tx(self) -> AbstractContextManager[AppendTx]: ...

    @abstractmethod
    def head(self) -> Head: ...

    @abstractmethod
    def meta(self, key: str) -> str | None: ...

    @abstractmethod
    def data_keys(self, actors: list[str]) -> dict[str, tuple[str, bytes]]:
        """actor -> (kid, wrapped key) for the actors that have a key."""

    @abstractmethod
    def add_data_keys(self, keys: list[tuple[str, str, bytes]]) -> None:
        """Insert (actor, kid, wrapped) rows; an actor that already has a key keeps it."""

    @abstractmethod
    def delete_data_keys(self, actor: str) -> int: ...

    @abstractmethod
    def rows(
        self, start: int = 0, end: int | None = None, query: Query | None = None, batch: int = 5000
    ) -> Iterator[Row]: ...

    def scan(self, start: int = 0, end: int | None = None) -> Iterator[RecordTuple]:
        """Raw (seq, time, type, actor, tenant, body, leaf, chain) tuples in order: the verifier's fast path."""
        for r in self.rows(start, end):
            yield (r.seq, r.time, r.type, r.actor, r.tenant, r.body, r.leaf, r.chain)

    @abstractmethod
    def leaf_hashes(self, start: int, end: int) -> list[bytes]: ...

    @abstractmethod
    def checkpoints(self) -> list[tuple[int, str]]:
        """(size, note) of every stored checkpoint, by size."""

    @abstractmethod
    def prune(self, anchor: Pruned) -> int:
        """Delete records and checkpoints before ``anchor.size`` and keep the anchor; returns rows deleted."""

    def origin(self) -> str:
        got = self.meta("origin")
        if got is None:
            raise StoreError(f"store {self.url} has no origin: it was not created by this tool")
        return got

    def pruned(self) -> Pruned | None:
        size = self.meta("pruned_size")
        if size is None:
            return None
        return Pruned(
            int(size),
            bytes.fromhex(self.meta("pruned_chain") or ""),
            bytes.fromhex(self.meta("pruned_frontier") or ""),
        )

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
