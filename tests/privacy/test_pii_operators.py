"""Operators: remove, mask, numbered placeholders, keyed hashes, reversible pseudonyms."""

from __future__ import annotations

import pytest

from privacy.pii.keys import TenantKeys
from privacy.pii.operators import RedactionSession, normalize
from privacy.pii.settings import PIISettings


def redact(engine, settings, text, tenant="default", keys=None, session=None):
    session = session or RedactionSession(settings, tenant, keys)
    return session.apply(text, engine.analyze(text)), session


def test_remove_and_mask(pattern_engine):
    s = PIISettings(operators={"CN_MOBILE": "mask", "EMAIL_ADDRESS": "remove", "CREDIT_CARD": "mask"})
    out, _ = redact(pattern_engine, s, "手机13812345678，邮箱a.b@example.com，卡4111 1111 1111 1111")
    assert out == "手机138****5678，邮箱，卡**** **** **** 1111"


def test_placeholders_are_consistent_within_a_session(pattern_engine):
    s = PIISettings()
    session = RedactionSession(s)
    a, _ = redact(pattern_engine, s, "call 138-1234-5678 or mail x@example.com", session=session)
    b, _ = redact(pattern_engine, s, "again 13812345678, also 13900001111", session=session)
    assert a == "call <CN_MOBILE_1> or mail <EMAIL_ADDRESS_1>"
    assert b == "again <CN_MOBILE_1>, also <CN_MOBILE_2>"
    fresh, _ = redact(pattern_engine, s, "also 13900001111")
    assert fresh == "also <CN_MOBILE_1>"


def test_keyed_hash_is_stable_across_requests_and_separates_tenants(pattern_engine):
    s = PIISettings(default_operator="hash")
    keys = TenantKeys(b"0123456789abcdef0123456789abcdef")
    a, _ = redact(pattern_engine, s, "mail x@example.com", "t1", keys)
    b, _ = redact(pattern_engine, s, "mail X@Example.com", "t1", keys)
    c, _ = redact(pattern_engine, s, "mail x@example.com", "t2", keys)
    d, _ = redact(
        pattern_engine, s, "mail x@example.com", "t1", TenantKeys(b"another-master-secret-0000000000")
    )
    assert a == b and a.startswith("mail <EMAIL_ADDRESS_") and "example" not in a
    assert a != c and a != d


def test_hash_without_key_fails_closed(pattern_engine):
    s = PIISettings(default_operator="hash")
    with pytest.raises(RuntimeError):
        redact(pattern_engine, s, "mail x@example.com")


def test_pseudonymize_and_restore(engine):
    s = PIISettings(default_operator="pseudonymize")
    out, session = redact(engine, s, "Maria Gonzalez (maria@example.com) owes Ann Lee.")
    assert "Maria" not in out and "maria@" not in out
    assert session.restore(f"Dear {out}") == "Dear Maria Gonzalez (maria@example.com) owes Ann Lee."
    assert (
        session.restore("<PERSON_9> stays, <PERSON_1> is restored")
        == "<PERSON_9> stays, Maria Gonzalez is restored"
    )


def test_normalize_identity():
    assert normalize("CN_MOBILE", "+86 138-1234-5678") == normalize("CN_MOBILE", "13812345678")
    assert normalize("PERSON", " Maria  GONZALEZ ") == normalize("PERSON", "maria gonzalez")


def test_mask_short_values_fully(pattern_engine):
    s = PIISettings(default_operator="mask", mask={"EMAIL_ADDRESS": {"keep_start": 1, "keep_end": 0}})
    out, _ = redact(pattern_engine, s, "ip 10.0.0.1 mail ab@example.com")
    assert out == "ip **.*.*.* mail a*@example.com"
