"""SQLite store: the embedded default (WAL mode, ``synchronous=FULL``).

WAL lets readers (``audit verify``, exports) run while the gateway writes;
``synchronous=FULL`` makes each commit durable before the writer acknowledges
it. ``BEGIN IMMEDIATE`` takes the database's write lock before the head is
read, so several processes can append to one file without forks.
``secure_delete`` overwrites deleted key rows instead of leaving them in free
pages (erasure).

URL: ``sqlite:///relative/path.db`` or ``sqlite:////absolute/path.db``,
optional ``?table=PREFIX``.
"""

from __future__ import annotations

import os
import secrets
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from audit.errors import AuditUnavailable, StoreError
from audit.store.base import AppendTx, Head, Pruned, Query, RecordTuple, Row, Store, table_prefix

_READONLY_HINT = "check that the file and its directory are writable and the disk is not full"


def _path_from_url(url: str) -> str:
    parts = urlsplit(url)
    path = unquote(parts.path)
    if parts.netloc:
        raise StoreError("sqlite URLs have no host: use sqlite:///relative.db or sqlite:////absolute.db")
    if not path or path == "/":
        raise StoreError("sqlite URL needs a file path, e.g. sqlite:///var/audit.db")
    return path[1:]  # sqlite:///rel -> "rel"; sqlite:////abs -> "/abs"


def _b(v: object) -> bytes:
    """A BLOB column as bytes, even if someone stored TEXT (or a number) there."""
    if isinstance(v, bytes | bytearray | memoryview):
        return bytes(v)
    return str(v).encode()


class _Tx(AppendTx):
    def __init__(self, store: SQLiteStore) -> None:
        self.s = store
        self.c = store.conn

    def head(self) -> Head:
        size, chain, frontier, cp = self.c.execute(
            f"SELECT size, chain, frontier, checkpoint_size FROM {self.s.t}_head WHERE id = 1"
        ).fetchone()
        return Head(size, bytes(chain), bytes(frontier), cp)

    def insert(self, rows: list[RecordTuple]) -> None:
        self.c.executemany(
            f"INSERT INTO {self.s.t}_records (seq, time, type, actor, tenant, body, leaf, chain) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            rows,
        )

    def set_head(self, head: Head) -> None:
        self.c.execute(
            f"UPDATE {self.s.t}_head SET size = ?, chain = ?, frontier = ?, checkpoint_size = ? WHERE id = 1",
            (head.size, head.chain, head.frontier, head.checkpoint_size),
        )

    def add_checkpoint(self, size: int, time: str, note: str) -> None:
        self.c.execute(
            f"INSERT OR REPLACE INTO {self.s.t}_checkpoints (size, time, note) VALUES (?, ?, ?)",
            (size, time, note),
        )


class SQLiteStore(Store):
    def __init__(self, url: str) -> None:
        self.url = url
        self.path = _path_from_url(url)
        self.t, _params = table_prefix(url)
        self._conn: sqlite3.Connection | None = None
        # One connection, used by one thread at a time: a readiness ping waits for a running commit
        # instead of starting a transaction inside it.
        self._lock = threading.RLock()

    def _fail(self, action: str, exc: sqlite3.Error) -> AuditUnavailable:
        msg = str(exc)
        hint = (
            f"; {_READONLY_HINT}"
            if any(w in msg for w in ("readonly", "read-only", "full", "unable to open"))
            else ""
        )
        return AuditUnavailable(f"audit store {self.path}: cannot {action}: {msg}{hint}")

    def open(self) -> None:
        try:
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise AuditUnavailable(
                f"audit store {self.path}: cannot create its directory: {exc.strerror}"
            ) from None
        try:
            conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False, timeout=30)
        except sqlite3.Error as exc:
            raise self._fail("open the database", exc) from None
        self._conn = conn
        try:
            conn.execute("PRAGMA busy_timeout = 30000")
            mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
            if mode.lower() != "wal":
                raise AuditUnavailable(
                    f"audit store {self.path}: cannot switch to WAL mode; {_READONLY_HINT}"
                )
            conn.execute("PRAGMA synchronous = FULL")
            conn.execute("PRAGMA secure_delete = ON")
            self._create_schema()
        except sqlite3.Error as exc:
            self.close()
            raise self._fail("open the log for writing", exc) from None
        except AuditUnavailable:
            self.close()
            raise

    def _create_schema(self) -> None:
        t, c = self.t, self._conn
        assert c is not None
        have = c.execute(
            "SELECT 1 FROM sqlite_master WHERE type='table' AND name=?", (f"{t}_head",)
        ).fetchone()
        if have:
            return
        c.execute("BEGIN IMMEDIATE")
        try:
            for stmt in (
                f"CREATE TABLE IF NOT EXISTS {t}_records (seq INTEGER PRIMARY KEY, time TEXT NOT NULL, "
                "type TEXT NOT NULL, actor TEXT, tenant TEXT, body BLOB NOT NULL, leaf BLOB NOT NULL, "
                "chain BLOB NOT NULL)",
                f"CREATE INDEX IF NOT EXISTS {t}_records_time ON {t}_records (time)",
                f"CREATE INDEX IF NOT EXISTS {t}_records_actor ON {t}_records (actor)",
                f"CREATE INDEX IF NOT EXISTS {t}_records_tenant ON {t}_records (tenant)",
                f"CREATE TABLE IF NOT EXISTS {t}_head (id INTEGER PRIMARY KEY CHECK (id = 1), size INTEGER NOT NULL, "
                "chain BLOB NOT NULL, frontier BLOB NOT NULL, checkpoint_size INTEGER NOT NULL)",
                f"CREATE TABLE IF NOT EXISTS {t}_checkpoints (size INTEGER PRIMARY KEY, time TEXT NOT NULL, "
                "note TEXT NOT NULL)",
                f"CREATE TABLE IF NOT EXISTS {t}_keys (actor TEXT PRIMARY KEY, kid TEXT NOT NULL, "
                "wrapped BLOB NOT NULL, created TEXT NOT NULL DEFAULT CURRENT_TIMESTAMP)",
                f"CREATE TABLE IF NOT EXISTS {t}_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
            ):
                c.execute(stmt)
            c.execute(
                f"INSERT OR IGNORE INTO {t}_head (id, size, chain, frontier, checkpoint_size) "
                "VALUES (1, 0, ?, ?, 0)",
                (Head().chain, b""),
            )
            c.execute(
                f"INSERT OR IGNORE INTO {t}_meta (key, value) VALUES ('origin', ?)",
                (f"compliance-gateway/audit/{secrets.token_hex(8)}",),
            )
            c.execute("COMMIT")
        except BaseException:
            c.execute("ROLLBACK")
            raise

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    @property
    def conn(self) -> sqlite3.Connection:
        if self._conn is None:
            raise AuditUnavailable(f"audit store {self.path} is not open")
        return self._conn

    def ping(self) -> None:
        try:
            with self._lock:
                self.conn.execute("BEGIN IMMEDIATE")
                self.conn.execute("ROLLBACK")
        except sqlite3.Error as exc:
            raise self._fail("start a write", exc) from None
        if not os.access(self.path, os.W_OK):
            raise AuditUnavailable(f"audit store {self.path} is read-only; {_READONLY_HINT}")

    @contextmanager
    def append_tx(self) -> Iterator[AppendTx]:
        with self._lock:
            yield from self._append_tx()

    def _append_tx(self) -> Iterator[AppendTx]:
        c = self.conn
        try:
            c.execute("BEGIN IMMEDIATE")
        except sqlite3.Error as exc:
            raise self._fail("start a write", exc) from None
        try:
            yield _Tx(self)
            c.execute("COMMIT")
        except sqlite3.Error as exc:
            self._rollback()
            raise self._fail("write records", exc) from None
        except BaseException:
            self._rollback()
            raise

    def _rollback(self) -> None:
        try:
            self.conn.execute("ROLLBACK")
        except sqlite3.Error:
            pass

    def _read(self, sql: str, args: tuple[object, ...] = ()) -> list[tuple[Any, ...]]:
        try:
            with self._lock:
                return self.conn.execute(sql, args).fetchall()
        except sqlite3.Error as exc:
            raise self._fail("read", exc) from None

    def head(self) -> Head:
        size, chain, frontier, cp = self._read(
            f"SELECT size, chain, frontier, checkpoint_size FROM {self.t}_head WHERE id = 1"
        )[0]
        return Head(size, bytes(chain), bytes(frontier), cp)

    def meta(self, key: str) -> str | None:
        got = self._read(f"SELECT value FROM {self.t}_meta WHERE key = ?", (key,))
        return got[0][0] if got else None

    def data_keys(self, actors: list[str]) -> dict[str, tuple[str, bytes]]:
        out: dict[str, tuple[str, bytes]] = {}
        for i in range(0, len(actors), 500):
            chunk = actors[i : i + 500]
            marks = ",".join("?" * len(chunk))
            for actor, kid, wrapped in self._read(
                f"SELECT actor, kid, wrapped FROM {self.t}_keys WHERE actor IN ({marks})", tuple(chunk)
            ):
                out[actor] = (kid, bytes(wrapped))
        return out

    def add_data_keys(self, keys: list[tuple[str, str, bytes]]) -> None:
        try:
            with self._write():
                self.conn.executemany(
                    f"INSERT OR IGNORE INTO {self.t}_keys (actor, kid, wrapped) VALUES (?, ?, ?)", keys
                )
        except sqlite3.Error as exc:
            raise self._fail("store data keys", exc) from None

    def delete_data_keys(self, actor: str) -> int:
        try:
            with self._write():
                n = self.conn.execute(f"DELETE FROM {self.t}_keys WHERE actor = ?", (actor,)).rowcount
            with self._lock:
                self.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")  # no copy of the key left in the WAL
        except sqlite3.Error as exc:
            raise self._fail("delete data keys", exc) from None
        return n

    @contextmanager
    def _write(self) -> Iterator[None]:
        with self._lock:
            self.conn.execute("BEGIN IMMEDIATE")
            try:
                yield
                self.conn.execute("COMMIT")
            except BaseException:
                self._rollback()
                raise

    def rows(
        self, start: int = 0, end: int | None = None, query: Query | None = None, batch: int = 5000
    ) -> Iterator[Row]:
        where: list[str] = ["seq >= ?"]
        args: list[int | str] = [start]
        if end is not None:
            where.append("seq < ?")
            args.append(end)
        q = query or Query()
        for col, op, val in (
            ("time", ">=", q.since),
            ("time", "<", q.until),
            ("tenant", "=", q.tenant),
            ("actor", "=", q.actor),
            ("type", "=", q.type),
        ):
            if val is not None:
                where.append(f"{col} {op} ?")
                args.append(val)
        sql = (
            f"SELECT seq, time, type, actor, tenant, body, leaf, chain FROM {self.t}_records "
            f"WHERE {' AND '.join(where)} ORDER BY seq LIMIT {int(batch)}"
        )
        while True:
            got = self._read(sql, tuple(args))
            for r in got:
                yield Row(r[0], r[1], r[2], r[3], r[4], _b(r[5]), _b(r[6]), _b(r[7]))
            if len(got) < batch:
                return
            args[0] = got[-1][0] + 1

    def scan(self, start: int = 0, end: int | None = None) -> Iterator[RecordTuple]:
        sql = (
            f"SELECT seq, time, type, actor, tenant, body, leaf, chain FROM {self.t}_records "
            "WHERE seq >= ? AND seq < ? ORDER BY seq"
        )
        try:
            cur = self.conn.execute(sql, (start, end if end is not None else 2**63 - 1))
            while True:
                got = cur.fetchmany(10_000)
                if not got:
                    return
                yield from got
        except sqlite3.Error as exc:
            raise self._fail("read records", exc) from None

    def leaf_hashes(self, start: int, end: int) -> list[bytes]:
        got = self._read(
            f"SELECT seq, leaf FROM {self.t}_records WHERE seq >= ? AND seq < ? ORDER BY seq", (start, end)
        )
        return [_b(r[1]) for r in got]

    def checkpoints(self) -> list[tuple[int, str]]:
        return [
            (r[0], r[1]) for r in self._read(f"SELECT size, note FROM {self.t}_checkpoints ORDER BY size")
        ]

    def prune(self, anchor: Pruned) -> int:
        try:
            with self._write():
                c = self.conn
                n = c.execute(f"DELETE FROM {self.t}_records WHERE seq < ?", (anchor.size,)).rowcount
                c.execute(f"DELETE FROM {self.t}_checkpoints WHERE size < ?", (anchor.size,))
                for k, v in (
                    ("pruned_size", str(anchor.size)),
                    ("pruned_chain", anchor.chain.hex()),
                    ("pruned_frontier", anchor.frontier.hex()),
                ):
                    c.execute(f"INSERT OR REPLACE INTO {self.t}_meta (key, value) VALUES (?, ?)", (k, v))
        except sqlite3.Error as exc:
            raise self._fail("prune", exc) from None
        return n
