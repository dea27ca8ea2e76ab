"""Each kind of tampering is detected and the first bad record is named."""

import pytest

from audit.log import open_log
from audit.verify import verify_store

from .helpers import gateway_event, opened, sql


@pytest.fixture
def log_url(sqlite_url, writer_keys):  # noqa: ANN201
    with open_log(sqlite_url, checkpoint_every=10, **writer_keys) as log:
        for i in range(40):
            log.append(
                "gateway.request",
                gateway_event(i),
                tenant="acme",
                subject=f"u{i % 4}",
                personal={"client_ip": "192.0.2.7"},
            )
    return sqlite_url


def _verify(url, public_key):  # noqa: ANN202
    s = opened(url)
    try:
        return verify_store(s, public_key)
    finally:
        s.close()


def test_untouched_log_verifies(log_url, public_key) -> None:
    rep = _verify(log_url, public_key)
    assert rep.ok and rep.records == 40 and rep.checkpoints == 4


def test_flipped_byte_is_located(log_url, public_key) -> None:
    (body,) = sql(log_url, "SELECT body FROM audit_records WHERE seq = 17")[0]
    flipped = bytearray(body)
    i = flipped.index(b"req-17") + 4
    flipped[i] ^= 0x01
    sql(log_url, "UPDATE audit_records SET body = ? WHERE seq = 17", (bytes(flipped),))
    rep = _verify(log_url, public_key)
    assert not rep.ok and rep.first_bad == 17
    assert "record 17" in rep.problems[0]


def test_deleted_record_is_located(log_url, public_key) -> None:
    sql(log_url, "DELETE FROM audit_records WHERE seq = 23")
    rep = _verify(log_url, public_key)
    assert not rep.ok and rep.first_bad == 23 and "missing" in rep.problems[0]


def test_deleted_tail_is_detected(log_url, public_key) -> None:
    sql(log_url, "DELETE FROM audit_records WHERE seq >= 38")
    rep = _verify(log_url, public_key)
    assert not rep.ok and rep.first_bad == 38


def test_reordered_records_are_located(log_url, public_key) -> None:
    sql(log_url, "UPDATE audit_records SET seq = -1 WHERE seq = 12")
    sql(log_url, "UPDATE audit_records SET seq = 12 WHERE seq = 13")
    sql(log_url, "UPDATE audit_records SET seq = 13 WHERE seq = -1")
    rep = _verify(log_url, public_key)
    assert not rep.ok and rep.first_bad == 12


def test_rehashed_edit_is_caught_by_the_signed_checkpoint(log_url, public_key) -> None:
    """An attacker who recomputes every stored hash after an edit still cannot match the signature."""
    from audit.hashing import chain_hash, leaf_hash

    rows = sql(log_url, "SELECT seq, body FROM audit_records ORDER BY seq")
    prev = sql(log_url, "SELECT chain FROM audit_records WHERE seq = 24")[0][0]
    for seq, body in rows[25:]:
        if seq == 26:
            body = body.replace(b'"status":200', b'"status":201')
            sql(log_url, "UPDATE audit_records SET body = ? WHERE seq = 26", (body,))
        prev = chain_hash(prev, body)
        sql(
            log_url,
            "UPDATE audit_records SET leaf = ?, chain = ? WHERE seq = ?",
            (leaf_hash(body), prev, seq),
        )
    sql(log_url, "UPDATE audit_head SET chain = ?", (prev,))
    rep = _verify(log_url, public_key)
    assert not rep.ok
    assert rep.first_bad == 20  # the first record after the last checkpoint that still matches
    assert "20..29" in rep.problems[0]


def test_replaced_checkpoint_signature_is_detected(log_url, public_key) -> None:
    (note,) = sql(log_url, "SELECT note FROM audit_checkpoints WHERE size = 30")[0]
    (other,) = sql(log_url, "SELECT note FROM audit_checkpoints WHERE size = 20")[0]
    forged = note.split("\n\n")[0] + "\n\n" + other.split("\n\n")[1]
    sql(log_url, "UPDATE audit_checkpoints SET note = ? WHERE size = 30", (forged,))
    rep = _verify(log_url, public_key)
    assert not rep.ok
    assert any("checkpoint at size 30" in p and "bad signature" in p for p in rep.problems)


def test_indexed_column_edit_is_detected(log_url, public_key) -> None:
    sql(log_url, "UPDATE audit_records SET tenant = 'other' WHERE seq = 5")
    rep = _verify(log_url, public_key)
    assert not rep.ok and rep.first_bad == 5


def test_wrong_public_key_fails(log_url) -> None:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    rep = _verify(log_url, Ed25519PrivateKey.generate().public_key())
    assert not rep.ok and "no signature by the given key" in rep.problems[0]
