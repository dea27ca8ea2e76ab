"""Engine behaviour: tenants, limits, bad input, batching."""

from __future__ import annotations

import pytest

from privacy.pii.engine import PIIEngine, TextTooLarge
from privacy.pii.settings import PIISettings
from tests.privacy.conftest import spans


@pytest.fixture(scope="module")
def tenant_engine(ner_nlp) -> PIIEngine:
    s = PIISettings(
        max_chars=2_000_000,
        tenants={
            "acme": {"allow": ["Jordan"], "deny": {"PERSON": ["Project Falcon"]}},
            "lite": {"pattern_only": True},
            "mailonly": {"entities": ["EMAIL_ADDRESS"]},
        },
    )
    e = PIIEngine(s)
    e.start(ner_nlp)
    return e


@pytest.fixture(scope="module")
def big_pattern_engine() -> PIIEngine:
    # Pattern-only: 1 MB through the NER takes tens of seconds on 2 cores (see docs/pii.md).
    e = PIIEngine(PIISettings(max_chars=2_000_000, ner={"enabled": False}))
    e.start()
    return e


def test_per_tenant_allow_and_deny(tenant_engine):
    text = "Jordan Lee leads Project Falcon; mail jordan@acme.io"
    acme = spans(tenant_engine, text, "acme")
    assert ("PERSON", "Project Falcon") in acme
    other = spans(tenant_engine, text, "someone-else")
    assert ("PERSON", "Project Falcon") not in other
    assert ("EMAIL_ADDRESS", "jordan@acme.io") in acme and ("EMAIL_ADDRESS", "jordan@acme.io") in other


def test_pattern_only_tenant_skips_ner(tenant_engine):
    text = "Maria Gonzalez, maria@example.com"
    assert ("PERSON", "Maria Gonzalez") in spans(tenant_engine, text, "default")
    lite = spans(tenant_engine, text, "lite")
    assert lite == [("EMAIL_ADDRESS", "maria@example.com")]
    assert spans(tenant_engine, "Maria Gonzalez, 13812345678, maria@example.com", "mailonly") == [
        ("EMAIL_ADDRESS", "maria@example.com")
    ]


def test_empty_and_whitespace(engine):
    assert engine.analyze("") == []
    assert engine.analyze("   \n\t ") == []
    assert engine.analyze_many([]) == []


def test_over_limit_is_a_clear_error_without_content():
    e = PIIEngine(PIISettings(max_chars=100, ner={"enabled": False}))
    e.start()
    secret = "13812345678 " * 20
    with pytest.raises(TextTooLarge) as err:
        e.analyze(secret)
    assert "13812345678" not in str(err.value) and "100" in str(err.value)


def test_binary_and_control_characters(pattern_engine):
    text = "\x00\x01\xff\ufffd binary \x00 13812345678 \x07 \udcff tail"
    assert ("CN_MOBILE", "13812345678") in spans(pattern_engine, text)


def test_mixed_scripts(engine):
    text = "Hi team, 我叫王小明, my email is wang@example.com, 手机13912345678; Олег Иванов; محمد"
    found = spans(engine, text)
    assert ("PERSON", "王小明") in found
    assert ("EMAIL_ADDRESS", "wang@example.com") in found
    assert ("CN_MOBILE", "13912345678") in found


def test_one_megabyte_input(big_pattern_engine):
    block = (
        "Ticket 4411: the build at v2.3.1 failed on port 8443. Contact jane.roe@example.org or 13812345678. "
    )
    text = block * (1_000_000 // len(block) + 1)
    assert len(text) >= 1_000_000
    found = big_pattern_engine.analyze(text)
    assert sum(f.entity_type == "EMAIL_ADDRESS" for f in found) == text.count("jane.roe@example.org")
    assert sum(f.entity_type == "CN_MOBILE" for f in found) == text.count("13812345678")


def test_analyze_many_matches_single_calls(engine):
    texts = ["Ask Maria Gonzalez.", "", "电话13812345678", "John Smith and Ann Lee met in Paris."]
    assert engine.analyze_many(texts) == [engine.analyze(t) for t in texts]


def test_findings_never_overlap(engine):
    text = "card 6222021234567890128 and 4111-1111-1111-1111, phone +1 (415) 555-2671"
    found = engine.analyze(text)
    for a, b in zip(found, found[1:], strict=False):
        assert a.end <= b.start


def test_cache_returns_same_findings_and_is_per_tenant(ner_nlp):
    e = PIIEngine(PIISettings(cache_entries=2, tenants={"strict": {"entities": ["EMAIL_ADDRESS"]}}))
    e.start(ner_nlp)
    text = "Maria Gonzalez: maria@example.com, 13812345678"
    first = e.analyze(text)
    assert e.analyze(text) == first and len(first) == 3
    assert [f.entity_type for f in e.analyze(text, "strict")] == ["EMAIL_ADDRESS"]
    e.analyze("a"), e.analyze("b")  # evicts: the cache stays bounded
    assert len(e._cache) == 2 and e.analyze(text) == first
    assert not any(text.encode() in k for k in e._cache)  # digests, not text


def test_long_text_with_ner_is_split_into_bounded_docs(ner_nlp):
    from privacy.pii import ner

    e = PIIEngine(PIISettings(max_chars=2_000_000, cache_entries=0))
    e.start(ner_nlp)
    seen = []
    real_pipe = ner_nlp.pipe

    class Spy:
        def __getattr__(self, name):
            return getattr(ner_nlp, name)

        def pipe(self, texts, **kw):
            texts = list(texts)
            seen.extend(len(t) for t in texts)
            return real_pipe(texts, **kw)

    e.ner.nlp = Spy()
    block = "Yesterday Maria Gonzalez wrote about Ticket 4411. "
    text = block * (120_000 // len(block))
    found = e.analyze(text)
    assert len(seen) >= 5 and max(seen) <= ner.DOC_CHARS + 200 and sum(seen) > 60_000
    assert sum(f.entity_type == "PERSON" for f in found) >= text.count("Maria Gonzalez") * 0.99
