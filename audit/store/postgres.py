"""PostgreSQL store (psycopg 3): one log shared by many gateway replicas.

Every append transaction starts with ``SELECT ... FROM head FOR UPDATE``: the
head row is the log's write lock, so sequence assignment, the chain hash and
the Merkle frontier move together and two writers can never take the same
number or build on the same predecessor (no gaps, no forks). Rows go in with
COPY inside that transaction; ``synchronous_commit`` stays at the server's
default (on), so a commit is on disk before the writer acknowledges it.

URL: ``postgresql://user@host:port/db``, optional ``?schema=NAME`` (created if
missing) and ``?table=PREFIX``; other query parameters go to libpq.
"""

from __future__ import annotations

import secrets
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import psycopg

from audit.errors import AuditUnavailable, StoreError
from audit.store.base import AppendTx, Head, Pruned, Query, RecordTuple, Row, Store, table_prefix


def _safe(url: str) -> str:
    """The URL without its password, for messages."""
    p = urlsplit(url)
    host = p.hostname or ""
    user = f"{p.username}@" if p.username else ""
    port = f":{p.port}" if p.port else ""
    keep = {k: v for k, v in parse_qsl(p.query) if k in ("schema", "table")}
    return urlunsplit((p.scheme, f"{user}{host}{port}", p.path, urlencode(keep), ""))


def _one(row: tuple[Any, ...] | None, table: str) -> tuple[Any, ...]:
    """The head row, which the schema creates with the tables."""
    if row is None:
        raise StoreError(f"audit store table {table}_head has no row: the store is damaged")
    return row


class _Tx(AppendTx):
    def __init__(self, store: PostgresStore, cur: psycopg.Cursor) -> None:
        self.s = store
        self.cur = cur

    def head(self) -> Head:
        self.cur.execute(
            f"SELECT size, chain, frontier, checkpoint_size FROM {self.s.t}_head WHERE id = 1 FOR UPDATE"
        )
        size, chain, frontier, cp = _one(self.cur.fetchone(), self.s.t)
        return Head(size, bytes(chain), bytes(frontier), cp)

    def insert(self, rows: list[RecordTuple]) -> None:
        with self.cur.copy(
            f"COPY {self.s.t}_records (seq, time, type, actor, tenant, body, leaf, chain) FROM STDIN"
        ) as cp:
            for r in rows:
                cp.write_row(r)

    def set_head(self, head: Head) -> None:
        self.cur.execute(
            f"UPDATE {self.s.t}_head SET size = %s, chain = %s, frontier = %s, checkpoint_size = %s "
            "WHERE id = 1",
            (head.size, head.chain, head.frontier, head.checkpoint_size),
        )

    def add_checkpoint(self, size: int, time: str, note: str) -> None:
        self.cur.execute(
            f"INSERT INTO {self.s.t}_checkpoints (size, time, note) VALUES (%s, %s, %s) "
            "ON CONFLICT (size) DO UPDATE SET time = EXCLUDED.time, note = EXCLUDED.note",
            (size, time, note),
        )


class PostgresStore(Store):
    def __init__(self, url: str) -> None:
        self.url = url
        prefix, params = table_prefix(url)
        self.schema = params.pop("schema", None)
        self.t = f'"{self.schema}".{prefix}' if self.schema else prefix
        self._prefix = prefix
        p = urlsplit(url)
        self._dsn = urlunsplit(("postgresql", p.netloc, p.path, urlencode(params), ""))
        self._conn: psycopg.Connection | None = None
        self.display = _safe(url)
        self._lock = threading.RLock()  # one thread at a time on the connection (see SQLiteStore)

    def _fail(self, action: str, exc: Exception) -> AuditUnavailable:
        # psycopg messages carry no row data here; keep the first line only.
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        return AuditUnavailable(f"audit store {self.display}: cannot {action}: {first}")

    def open(self) -> None:
        try:
            self._conn = psycopg.connect(self._dsn, autocommit=False, connect_timeout=10)
            self._create_schema()
        except psycopg.Error as exc:
            self.close()
            raise self._fail("open the log", exc) from None

    def _create_schema(self) -> None:
        t, p = self.t, self._prefix
        with self.conn.transaction(), self.conn.cursor() as cur:
            # Serialise schema creation between processes starting at once.
            cur.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (f"cg-audit-schema:{t}",))
            if self.schema:
                cur.execute(f'CREATE SCHEMA IF NOT EXISTS "{self.schema}"')
            for stmt in (
                f'CREATE TABLE IF NOT EXISTS {t}_records (seq BIGINT PRIMARY KEY, time TEXT COLLATE "C" NOT NULL, '
                "type TEXT NOT NULL, actor TEXT, tenant TEXT, body BYTEA NOT NULL, leaf BYTEA NOT NULL, "
                "chain BYTEA NOT NULL)",
                f"CREATE INDEX IF NOT EXISTS {p}_records_time ON {t}_records (time)",
                f"CREATE INDEX IF NOT EXISTS {p}_records_actor ON {t}_records (actor)",
                f"CREATE INDEX IF NOT EXISTS {p}_records_tenant ON {t}_records (tenant)",
                f"CREATE TABLE IF NOT EXISTS {t}_head (id INTEGER PRIMARY KEY CHECK (id = 1), size BIGINT NOT NULL, "
                "chain BYTEA NOT NULL, frontier BYTEA NOT NULL, checkpoint_size BIGINT NOT NULL)",
                f'CREATE TABLE IF NOT EXISTS {t}_checkpoints (size BIGINT PRIMARY KEY, time TEXT COLLATE "C" NOT NULL, '
                "note TEXT NOT NULL)",
                f"CREATE TABLE IF NOT EXISTS {t}_keys (actor TEXT PRIMARY KEY, kid TEXT NOT NULL, "
                "wrapped BYTEA NOT NULL, created TIMESTAMPTZ NOT NULL DEFAULT now())",
                f"CREATE TABLE IF NOT EXISTS {t}_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
            ):
                cur.execute(stmt)
            cur.execute(
                f"INSERT INTO {t}_head (id, size, chain, frontier, checkpoint_size) "
                "VALUES (1, 0, %s, %s, 0) ON CONFLICT (id) DO NOTHING",
                (Head().chain, b""),
            )
            cur.execute(
                f"INSERT INTO {t}_meta (key, value) VALUES ('origin', %s) ON CONFLICT (key) DO NOTHING",
                (f"compliance-gateway/audit/{secrets.token_hex(8)}",),
            )

    def drop(self) -> None:
        """Remove every table of this log (tests and benchmarks clean up with it)."""
        with self.conn.transaction(), self.conn.cursor() as cur:
            for s in ("records", "head", "checkpoints", "keys", "meta"):
                cur.execute(f"DROP TABLE IF EXISTS {self.t}_{s}")
            if self.schema:
                cur.execute(f'DROP SCHEMA IF EXISTS "{self.schema}" CASCADE')

    def close(self) -> None:
        if self._conn is not None:
            try:
                self._conn.close()
            finally:
                self._conn = None

    @property
    def conn(self) -> psycopg.Connection:
        if self._conn is None or self._conn.closed:
            raise AuditUnavailable(f"audit store {self.display} is not open")
        return self._conn

    def _reconnect_if_broken(self) -> None:
        if self._conn is not None and (self._conn.closed or self._conn.broken):
            self._conn = None
        if self._conn is None:
            try:
                self._conn = psycopg.connect(self._dsn, autocommit=False, connect_timeout=10)
            except psycopg.Error as exc:
                raise self._fail("reconnect", exc) from None

    def ping(self) -> None:
        try:
            with self._lock:
                self._reconnect_if_broken()
                with self.conn.transaction(), self.conn.cursor() as cur:
                    cur.execute("SELECT 1")
        except psycopg.Error as exc:
            raise self._fail("reach the database", exc) from None

    @contextmanager
    def append_tx(self) -> Iterator[AppendTx]:
        try:
            with self._lock:
                self._reconnect_if_broken()
                with self.conn.transaction(), self.conn.cursor() as cur:
                    yield _Tx(self, cur)
        except psycopg.Error as exc:
            raise self._fail("write records", exc) from None

    @contextmanager
    def _cursor(self, action: str) -> Iterator[psycopg.Cursor]:
        try:
            with self._lock:
                self._reconnect_if_broken()
                with self.conn.transaction(), self.conn.cursor() as cur:
                    yield cur
        except psycopg.Error as exc:
            raise self._fail(action, exc) from None

    def head(self) -> Head:
        with self._cursor("read the head") as cur:
            cur.execute(f"SELECT size, chain, frontier, checkpoint_size FROM {self.t}_head WHERE id = 1")
            size, chain, frontier, cp = _one(cur.fetchone(), self.t)
        return Head(size, bytes(chain), bytes(frontier), cp)

    def meta(self, key: str) -> str | None:
        with self._cursor("read metadata") as cur:
            cur.execute(f"SELECT value FROM {self.t}_meta WHERE key = %s", (key,))
            got = cur.fetchone()
        return got[0] if got else None

    def data_keys(self, actors: list[str]) -> dict[str, tuple[str, bytes]]:
        with self._cursor("read data keys") as cur:
            cur.execute(
                f"SELECT actor, kid, wrapped FROM {self.t}_keys WHERE actor = ANY(%s)", (list(actors),)
            )
            return {a: (k, bytes(w)) for a, k, w in cur.fetchall()}

    def add_data_keys(self, keys: list[tuple[str, str, bytes]]) -> None:
        with self._cursor("store data keys") as cur:
            cur.executemany(
                f"INSERT INTO {self.t}_keys (actor, kid, wrapped) VALUES (%s, %s, %s) "
                "ON CONFLICT (actor) DO NOTHING",
                keys,
            )

    def delete_data_keys(self, actor: str) -> int:
        with self._cursor("delete data keys") as cur:
            cur.execute(f"DELETE FROM {self.t}_keys WHERE actor = %s", (actor,))
            n = cur.rowcount
        # Rewrite the (small) keys table so the deleted row does not linger in a dead tuple.
        with self._lock:
            try:
                self.conn.autocommit = True
                self.conn.execute(f"VACUUM FULL {self.t}_keys")
            except psycopg.Error as exc:
                raise self._fail("vacuum the keys table", exc) from None
            finally:
                if not self.conn.closed:
                    self.conn.autocommit = False
        return n

    def rows(
        self, start: int = 0, end: int | None = None, query: Query | None = None, batch: int = 5000
    ) -> Iterator[Row]:
        where: list[str] = ["seq >= %s"]
        args: list[int | str] = [start]
        if end is not None:
            where.append("seq < %s")
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
                where.append(f"{col} {op} %s")
                args.append(val)
        sql = (
            f"SELECT seq, time, type, actor, tenant, body, leaf, chain FROM {self.t}_records "
            f"WHERE {' AND '.join(where)} ORDER BY seq LIMIT {int(batch)}"
        )
        while True:
            with self._cursor("read records") as cur:
                cur.execute(sql, args)
                got = cur.fetchall()
            for r in got:
                yield Row(r[0], r[1], r[2], r[3], r[4], bytes(r[5]), bytes(r[6]), bytes(r[7]))
            if len(got) < batch:
                return
            args[0] = got[-1][0] + 1

    def scan(self, start: int = 0, end: int | None = None) -> Iterator[RecordTuple]:
        self._reconnect_if_broken()
        try:
            with self.conn.transaction(), self.conn.cursor(name=f"scan_{id(self)}") as cur:
                cur.itersize = 10_000
                cur.execute(
                    f"SELECT seq, time, type, actor, tenant, body, leaf, chain FROM {self.t}_records "
                    "WHERE seq >= %s AND seq < %s ORDER BY seq",
                    (start, end if end is not None else 2**63 - 1),
                )
                yield from cur
        except psycopg.Error as exc:
            raise self._fail("read records", exc) from None

    def leaf_hashes(self, start: int, end: int) -> list[bytes]:
        with self._cursor("read leaf hashes") as cur:
            cur.execute(
                f"SELECT leaf FROM {self.t}_records WHERE seq >= %s AND seq < %s ORDER BY seq", (start, end)
            )
            return [bytes(r[0]) for r in cur.fetchall()]

    def checkpoints(self) -> list[tuple[int, str]]:
        with self._cursor("read checkpoints") as cur:
            cur.execute(f"SELECT size, note FROM {self.t}_checkpoints ORDER BY size")
            return [(r[0], r[1]) for r in cur.fetchall()]

    def prune(self, anchor: Pruned) -> int:
        with self._cursor("prune") as cur:
            cur.execute(f"SELECT 1 FROM {self.t}_head WHERE id = 1 FOR UPDATE")
            cur.execute(f"DELETE FROM {self.t}_records WHERE seq < %s", (anchor.size,))
            n = cur.rowcount
            cur.execute(f"DELETE FROM {self.t}_checkpoints WHERE size < %s", (anchor.size,))
            for k, v in (
                ("pruned_size", str(anchor.size)),
                ("pruned_chain", anchor.chain.hex()),
                ("pruned_frontier", anchor.frontier.hex()),
            ):
                cur.execute(
                    f"INSERT INTO {self.t}_meta (key, value) VALUES (%s, %s) "
                    "ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value",
                    (k, v),
                )
        return n
