import asyncio
import sqlite3

import pytest

from audit.errors import AuditUnavailable
from audit.log import open_log
from audit.verify import verify_store
from audit.writer import open_writer

from .helpers import gateway_event, opened, sql


async def test_writer_acknowledges_durable_sequence_numbers_in_order(
    sqlite_url, writer_keys, public_key
) -> None:
    w = open_writer(sqlite_url, checkpoint_every=50, **writer_keys)
    await w.start()
    assert w.healthy
    futs = [
        w.submit(
            "gateway.request",
            gateway_event(i),
            tenant="acme",
            subject=f"user-{i % 7}",
            personal={"client_ip": f"10.0.0.{i % 250}"},
        )
        for i in range(400)
    ]
    seqs = await asyncio.gather(*futs)
    assert seqs == list(range(400))
    # Acknowledged means committed: a second connection sees every record now.
    assert sql(sqlite_url, "SELECT count(*) FROM audit_records")[0][0] == 400
    assert await w.append("gateway.request", gateway_event(400)) == 400
    await w.check()
    await w.aclose()
    assert not w.healthy
    s = opened(sqlite_url)
    rep = verify_store(s, public_key)
    assert rep.ok, rep.problems
    assert (
        rep.records == 401 and rep.signed_size == 401 and rep.checkpoints >= 2
    )  # one per batch that crossed 50, one on close
    s.close()


async def test_group_commit_batches_concurrent_submits(sqlite_url, writer_keys) -> None:
    w = open_writer(sqlite_url, **writer_keys)
    await w.start()
    futs = [w.submit("gateway.request", {"i": i}) for i in range(2000)]
    await asyncio.gather(*futs)
    await w.aclose()
    # 2000 records, at most 1000 a batch, all queued before the first commit: a handful of transactions,
    # visible as consecutive records sharing one commit time.
    times = {t for (t,) in sql(sqlite_url, "SELECT time FROM audit_records")}
    assert len(times) <= 10


async def test_full_queue_refuses_and_reports_unhealthy(sqlite_url, writer_keys) -> None:
    w = open_writer(sqlite_url, queue_size=5, **writer_keys)
    await w.start()
    futs = [w.submit("gateway.request", {"i": i}) for i in range(5)]
    assert not w.healthy
    with pytest.raises(AuditUnavailable, match="queue is full"):
        w.submit("gateway.request", {"i": 5})
    assert await asyncio.gather(*futs) == [0, 1, 2, 3, 4]
    assert w.healthy
    await w.aclose()
    with pytest.raises(AuditUnavailable):
        w.submit("gateway.request", {"i": 6})


async def test_bad_record_fails_alone_and_is_not_logged(sqlite_url, writer_keys) -> None:
    w = open_writer(sqlite_url, **writer_keys)
    await w.start()
    with pytest.raises(ValueError):
        w.submit("Bad Type!", {})
    good1 = w.submit("gateway.request", {"i": 1})
    bad = w.submit("gateway.request", {"x": float("nan")})
    good2 = w.submit("gateway.request", {"i": 2})
    assert await good1 == 0 and await good2 == 1
    with pytest.raises(ValueError, match="canonical JSON"):
        await bad
    assert w.healthy
    await w.aclose()


async def test_disk_full_fails_closed_without_corrupting_the_log(sqlite_url, writer_keys, public_key) -> None:
    w = open_writer(sqlite_url, **writer_keys)
    await w.start()
    acked = await asyncio.gather(*[w.submit("gateway.request", gateway_event(i)) for i in range(50)])
    conn: sqlite3.Connection = w._appender.store.conn  # the writer's own connection
    pages = conn.execute("PRAGMA page_count").fetchone()[0]
    conn.execute(f"PRAGMA max_page_count = {pages}")  # SQLite now answers SQLITE_FULL, as on a full disk
    big = {"blob": "x" * 20000}
    with pytest.raises(AuditUnavailable, match="full"):
        await w.append("gateway.request", big)
    assert not w.healthy
    with pytest.raises(AuditUnavailable):
        w.submit("gateway.request", big)
    with pytest.raises(AuditUnavailable):
        await w.check()
    conn.execute("PRAGMA max_page_count = 1073741823")  # space freed: the writer recovers by itself
    for _ in range(100):
        if w.healthy:
            break
        await asyncio.sleep(0.05)
    assert w.healthy
    assert await w.append("gateway.request", big) == 50
    await w.aclose()
    s = opened(sqlite_url)
    rep = verify_store(s, public_key)
    assert rep.ok, rep.problems
    assert [r.seq for r in s.rows()] == acked + [50]
    s.close()


def test_sync_log_appends_and_signs_on_close(sqlite_url, writer_keys, public_key) -> None:
    with open_log(sqlite_url, checkpoint_every=10**6, **writer_keys) as log:
        assert [log.append("dp.training", {"epsilon": 2.5, "step": i}) for i in range(5)] == list(range(5))
        s = opened(sqlite_url)
        assert s.checkpoints() == []  # not yet signed...
    assert [size for size, _ in s.checkpoints()] == [5]  # ...close() signed it
    assert verify_store(s, public_key).ok
    s.close()


def test_keys_are_created_once_with_private_permissions(sqlite_url, cg_home) -> None:
    with open_log(sqlite_url) as log:
        log.append("x.y", {}, subject="alice", personal={"ip": "1.1.1.1"})
    for name in ("signing-key.pem", "subject-key"):
        mode = (cg_home / "audit" / name).stat().st_mode & 0o777
        assert mode == 0o600
    before = (cg_home / "audit" / "subject-key").read_bytes()
    with open_log(sqlite_url) as log:
        log.append("x.y", {}, subject="alice", personal={"ip": "1.1.1.1"})
    assert (cg_home / "audit" / "subject-key").read_bytes() == before


async def test_readiness_check_during_commits_does_not_flap(sqlite_url, writer_keys) -> None:
    """check() shares the writer's connection: it must wait for a commit, not fail inside it."""
    w = open_writer(sqlite_url, **writer_keys)
    await w.start()
    feeding = asyncio.gather(*[w.submit("gateway.request", gateway_event(i)) for i in range(3000)])
    for _ in range(20):
        await w.check()
        await asyncio.sleep(0)
    await feeding
    await w.aclose()


async def test_a_quiet_log_gets_its_tail_signed_by_the_timer(sqlite_url, writer_keys) -> None:
    w = open_writer(sqlite_url, checkpoint_every=10**6, checkpoint_seconds=0.1, **writer_keys)
    await w.start()
    await asyncio.gather(*[w.submit("a.b", {"i": i}) for i in range(3)])
    for _ in range(50):
        if sql(sqlite_url, "SELECT size FROM audit_checkpoints"):
            break
        await asyncio.sleep(0.05)
    assert sql(sqlite_url, "SELECT size FROM audit_checkpoints") == [(3,)]  # signed while still open
    await w.aclose()
