import asyncio

from audit.erasure import erase_subject
from audit.log import open_appender, open_log
from audit.verify import verify_store
from audit.writer import open_writer

from .helpers import gateway_event, opened, sqlite_path


async def test_raw_subject_and_personal_data_never_reach_the_file(sqlite_url, writer_keys) -> None:
    async with open_writer(sqlite_url, **writer_keys) as w:
        await asyncio.gather(
            *[
                w.submit(
                    "gateway.request",
                    gateway_event(i),
                    tenant="acme",
                    subject="alice@example.com",
                    personal={"client_ip": "203.0.113.99"},
                )
                for i in range(20)
            ]
        )
    raw = b"".join(p.read_bytes() for p in sqlite_path(sqlite_url).parent.glob("audit.db*"))
    assert b"alice@example.com" not in raw
    assert b"203.0.113.99" not in raw


def test_erasure_shreds_personal_data_and_keeps_the_log_verifiable(
    sqlite_url, writer_keys, public_key
) -> None:
    with open_log(sqlite_url, **writer_keys) as log:
        for i in range(10):
            log.append(
                "gateway.request",
                gateway_event(i),
                subject="alice" if i % 2 else "bob",
                personal={"client_ip": f"198.51.100.{i}"},
            )
    app = open_appender(sqlite_url, **writer_keys)
    alice, bob = app.subjects.actor("alice"), app.subjects.actor("bob")
    keys_before = app.store.data_keys([alice, bob])
    assert set(keys_before) == {alice, bob}
    res = erase_subject(app, "alice")
    assert res == {"actor": alice, "keys_destroyed": 1, "erasure_record": 10}
    assert set(app.store.data_keys([alice, bob])) == {bob}
    # Bob's data still opens; Alice's cannot, by anyone holding the subject key.
    from audit.record import parse_body

    docs = [parse_body(r.body) for r in app.store.rows(end=10)]
    kid, wrapped = app.store.data_keys([bob])[bob]
    bob_key = app.subjects.unwrap(bob, kid, wrapped)
    assert app.subjects.open(bob, bob_key, docs[0]["personal"]) == {"client_ip": "198.51.100.0"}
    erasure = parse_body(next(app.store.rows(start=10)).body)
    assert erasure["type"] == "audit.erasure" and erasure["actor"] == alice
    assert erasure["payload"]["keys_destroyed"] == 1
    app.store.close()
    s = opened(sqlite_url)
    rep = verify_store(s, public_key)
    assert rep.ok, rep.problems
    assert rep.records == 11 and rep.unsigned_tail == 0
    s.close()
    # The wrapped key is gone from the file too (secure_delete + WAL checkpoint).
    raw = b"".join(p.read_bytes() for p in sqlite_path(sqlite_url).parent.glob("audit.db*"))
    assert keys_before[alice][1] not in raw


def test_erasure_on_postgres(pg_url, writer_keys, public_key) -> None:
    with open_log(pg_url, **writer_keys) as log:
        for i in range(6):
            log.append(
                "gateway.request", gateway_event(i), subject=f"s{i % 2}", personal={"client_ip": "192.0.2.1"}
            )
    app = open_appender(pg_url, **writer_keys)
    res = erase_subject(app, "s1")
    assert res["keys_destroyed"] == 1 and res["erasure_record"] == 6
    assert set(app.store.data_keys([app.subjects.actor("s0"), app.subjects.actor("s1")])) == {
        app.subjects.actor("s0")
    }
    rep = verify_store(app.store, public_key)
    assert rep.ok and rep.records == 7
    app.store.close()
