import pytest

from audit.errors import VerificationError
from audit.export import collect
from audit.log import open_appender, open_log
from audit.retention import prune_before
from audit.store import Query
from audit.verify import verify_export_records, verify_store

from .helpers import opened, sql


def _fill(url, keys, n) -> None:  # noqa: ANN001
    with open_log(url, checkpoint_every=7, **keys) as log:
        for i in range(n):
            log.append("gateway.request", {"i": i}, tenant="acme")


def test_prune_keeps_the_rest_verifiable_and_provable(sqlite_url, writer_keys, public_key) -> None:
    _fill(sqlite_url, writer_keys, 30)
    cut = sql(sqlite_url, "SELECT time FROM audit_records WHERE seq = 18")[0][0]
    app = open_appender(sqlite_url, **writer_keys)
    res = prune_before(app, public_key, cut)
    assert res["anchor_size"] == 18 and res["pruned_records"] == 18
    app.write([])  # nothing
    s = app.store
    assert [r.seq for r in s.rows()][0] == 18
    rep = verify_store(s, public_key)
    assert rep.ok, rep.problems
    assert rep.pruned_before == 18 and rep.records == 13  # 12 kept + the prune record
    exp = collect(s, Query())
    assert [r["seq"] for r in exp.records] == list(range(18, 31))
    assert verify_export_records(exp.header, exp.note, exp.records, public_key, "mem").ok
    # A second prune moves the anchor on; the log still verifies.
    cut2 = sql(sqlite_url, "SELECT time FROM audit_records WHERE seq = 25")[0][0]
    assert prune_before(app, public_key, cut2)["anchor_size"] == 25
    assert verify_store(s, public_key).ok
    s.close()


def test_tampering_after_prune_is_still_detected(sqlite_url, writer_keys, public_key) -> None:
    _fill(sqlite_url, writer_keys, 20)
    cut = sql(sqlite_url, "SELECT time FROM audit_records WHERE seq = 10")[0][0]
    app = open_appender(sqlite_url, **writer_keys)
    prune_before(app, public_key, cut)
    app.store.close()
    sql(sqlite_url, "UPDATE audit_meta SET value = ? WHERE key = 'pruned_chain'", ("00" * 32,))
    s = opened(sqlite_url)
    rep = verify_store(s, public_key)
    assert not rep.ok and rep.first_bad == 10
    s.close()


def test_prune_refuses_a_damaged_log(sqlite_url, writer_keys, public_key) -> None:
    _fill(sqlite_url, writer_keys, 12)
    sql(sqlite_url, "DELETE FROM audit_records WHERE seq = 3")
    app = open_appender(sqlite_url, **writer_keys)
    with pytest.raises(VerificationError, match="nothing was pruned"):
        prune_before(app, public_key, "2999-01-01T00:00:00.000000Z")
    assert sql(sqlite_url, "SELECT count(*) FROM audit_records")[0][0] == 11 + 0
    app.store.close()
