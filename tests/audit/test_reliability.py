"""Crashes, races and read-only files against real processes, SQLite and PostgreSQL."""

import os
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from audit.errors import AuditUnavailable
from audit.log import open_log
from audit.verify import verify_store

from .helpers import opened, sql

ROOT = Path(__file__).resolve().parents[2]


def _spawn(url: str, n: int, keys: dict, tag: str) -> subprocess.Popen:
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tests.audit.writer_proc",
            url,
            str(n),
            keys["signing_key_file"],
            keys["subject_key_file"],
            tag,
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _acks(lines: list[str]) -> list[int]:
    return [int(x) for x in lines if x.strip().isdigit()]


def test_kill_9_mid_stream_loses_nothing_acknowledged(sqlite_url, writer_keys, public_key) -> None:
    proc = _spawn(sqlite_url, 1_000_000, writer_keys, "crash")
    acked: list[str] = []
    assert proc.stdout.readline().strip() == "started"
    while len(acked) < 1500:
        line = proc.stdout.readline()
        assert line, proc.stderr.read()
        acked.append(line)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    acked_seqs = _acks(acked)
    s = opened(sqlite_url)  # the first open after the crash recovers the WAL
    rep = verify_store(s, public_key)
    assert rep.ok, rep.problems
    stored = {r.seq for r in s.rows()}
    assert set(acked_seqs) <= stored  # nothing acknowledged is missing
    assert stored == set(range(len(stored)))  # and the log has no hole
    assert rep.signed_size >= 1000 and rep.records == len(stored)
    s.close()
    # The log takes new writes after the crash and a later checkpoint covers the unsigned tail.
    with open_log(sqlite_url, **writer_keys) as log:
        assert log.append("audit.restart", {}) == len(stored)
    s = opened(sqlite_url)
    rep = verify_store(s, public_key)
    assert rep.ok and rep.unsigned_tail == 0
    s.close()


def test_two_writer_processes_on_postgres_no_gaps_no_forks(pg_url, writer_keys, public_key) -> None:
    opened(pg_url).close()  # create the schema once; the writers also race on it harmlessly
    procs = [_spawn(pg_url, 700, writer_keys, tag) for tag in ("a", "b")]
    outs = [p.communicate(timeout=120) for p in procs]
    for p, (_out, err) in zip(procs, outs, strict=True):
        assert p.returncode == 0, err
    a, b = (_acks(out.splitlines()) for out, _ in outs)
    assert len(a) == len(b) == 700
    assert not set(a) & set(b)  # no sequence number given twice (no fork)
    assert sorted(a + b) == list(range(1400))  # no gap
    s = opened(pg_url)
    rep = verify_store(s, public_key)
    assert rep.ok, rep.problems
    assert rep.records == 1400 and rep.unsigned_tail == 0
    # Each writer's own records kept their submission order.
    for tag, seqs in (("a", a), ("b", b)):
        mine = [r for r in s.rows() if r.tenant == tag]
        assert [r.seq for r in mine] == sorted(seqs)
        assert [int(r.body.split(b'"i":')[1].split(b",")[0].rstrip(b"}")) for r in mine] == list(range(700))
    s.close()


def test_postgres_tamper_is_located(pg_url, writer_keys, public_key) -> None:
    with open_log(pg_url, checkpoint_every=5, **writer_keys) as log:
        for i in range(12):
            log.append("gateway.request", {"i": i})
    s = opened(pg_url)
    with s.conn.transaction(), s.conn.cursor() as cur:
        cur.execute(f"UPDATE {s.t}_records SET body = overlay(body placing 'X'::bytea from 3) WHERE seq = 8")
    rep = verify_store(s, public_key)
    assert not rep.ok and rep.first_bad == 8
    s.close()


def test_postgres_schema_parameter_separates_logs(writer_keys, public_key) -> None:
    import uuid

    url = f"postgresql://postgres@127.0.0.1:5432/test?schema=t_audit_{uuid.uuid4().hex[:8]}"
    try:
        with open_log(url, **writer_keys) as log:
            assert log.append("a.b", {"x": 1}) == 0
        s = opened(url)
        assert verify_store(s, public_key).ok
    finally:
        s = opened(url)
        s.drop()
        s.close()


def test_unreachable_postgres_is_a_clear_error(writer_keys) -> None:
    with pytest.raises(AuditUnavailable, match="cannot open the log") as exc:
        open_log("postgresql://postgres:secret@127.0.0.1:1/test", **writer_keys)
    assert "secret" not in str(exc.value)


def test_read_only_database_gives_a_clear_error_not_corruption(writer_keys, public_key) -> None:
    d = Path(tempfile.mkdtemp(prefix="cg-audit-ro-"))
    try:
        d.chmod(0o755)
        url = f"sqlite:///{d}/ro.db"
        keys = {}
        for k, v in writer_keys.items():  # the unprivileged child must read the key files
            target = d / Path(v).name
            target.write_bytes(Path(v).read_bytes())
            target.chmod(0o644)
            keys[k] = str(target)
        with open_log(url, **keys) as log:
            for i in range(5):
                log.append("a.b", {"i": i})
        before = sql(url, "SELECT seq, body, chain FROM audit_records ORDER BY seq")
        for p in d.glob("ro.db*"):
            p.chmod(0o444)
        # Root ignores file modes: the child drops to 'nobody' (as a service account would be) after
        # Python has started, then opens the log.
        drop = "import os\nos.setgid(65534)\nos.setuid(65534)\n" if os.geteuid() == 0 else ""
        code = (
            "import sys\n"
            "from audit.log import open_log\n"
            "from audit.errors import AuditUnavailable\n"
            "import audit.store.sqlite  # noqa: F401 (import before the stdlib becomes unreadable)\n"
            f"{drop}"
            f"try:\n    log = open_log({url!r}, signing_key_file={keys['signing_key_file']!r}, "
            f"subject_key_file={keys['subject_key_file']!r})\n    log.append('a.b', {{'i': 99}})\n"
            "except AuditUnavailable as exc:\n    print('REFUSED', exc); sys.exit(3)\n"
        )
        out = subprocess.run(
            [sys.executable, "-c", code],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=60,
            env={**os.environ, "CG_HOME": str(d / "home")},
        )
        assert out.returncode == 3, out.stdout + out.stderr
        assert "REFUSED" in out.stdout and (
            "read-only" in out.stdout or "readonly" in out.stdout or "unable to open" in out.stdout
        )
        for p in d.glob("ro.db*"):
            p.chmod(0o644)
        assert sql(url, "SELECT seq, body, chain FROM audit_records ORDER BY seq") == before
        s = opened(url)
        assert verify_store(s, public_key).ok
        s.close()
    finally:
        import shutil

        shutil.rmtree(d, ignore_errors=True)


async def test_verify_while_a_writer_is_appending(pg_url, writer_keys, public_key) -> None:
    """A verifier reading a live PostgreSQL log sees a consistent prefix, not a false alarm."""
    import asyncio

    from audit.writer import open_writer

    async with open_writer(pg_url, checkpoint_every=50, **writer_keys) as w:
        await asyncio.gather(*[w.submit("a.b", {"i": i}) for i in range(200)])
        s = opened(pg_url)
        feeding = asyncio.gather(*[w.submit("a.b", {"i": i}) for i in range(200, 1200)])
        reps = [await asyncio.to_thread(verify_store, s, public_key) for _ in range(3)]
        await feeding
        s.close()
    assert all(r.ok for r in reps), [r.problems for r in reps]
    assert reps[0].records >= 200


async def test_postgres_connection_loss_fails_closed_then_recovers(pg_url, writer_keys, public_key) -> None:
    """Kill the writer's database session from outside: writes fail closed, then the writer reconnects."""
    import asyncio

    import psycopg

    from audit.writer import open_writer

    w = open_writer(pg_url, **writer_keys)
    await w.start()
    acked = await asyncio.gather(*[w.submit("a.b", {"i": i}) for i in range(20)])
    pid = w._appender.store.conn.info.backend_pid
    with psycopg.connect("postgresql://postgres@127.0.0.1:5432/test", autocommit=True) as admin:
        admin.execute("SELECT pg_terminate_backend(%s)", (pid,))
    with pytest.raises(AuditUnavailable):
        await w.append("a.b", {"i": "lost"})
    assert not w.healthy
    for _ in range(100):
        if w.healthy:
            break
        await asyncio.sleep(0.05)
    assert w.healthy
    acked.append(await w.append("a.b", {"i": 20}))
    await w.aclose()
    s = opened(pg_url)
    rep = verify_store(s, public_key)
    assert rep.ok, rep.problems
    assert [r.seq for r in s.rows()] == acked == list(range(21))
    s.close()
