"""`privacy serve`: Presidio's REST API (analyzer + anonymizer) on our PII engine, over real HTTP."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from presidio_analyzer import RecognizerRegistry, RecognizerResult
from presidio_anonymizer import AnonymizerEngine
from presidio_anonymizer.entities import OperatorConfig
from presidio_anonymizer.entities import RecognizerResult as AnonResult

from privacy.pii.settings import PIISettings
from privacy.serve.app import NO_RECOGNIZERS, PresidioApp
from tests.servers import ServerThread

EMAIL = "mary.jones@example.org"
TEXT = f"Contact {EMAIL} or 13812345678; ID 11010519491231002X."


@pytest.fixture(scope="module")
def url() -> Iterator[str]:
    app = PresidioApp(PIISettings.model_validate({"ner": {"enabled": False}}))
    with ServerThread(app) as srv:
        yield srv.url


def analyze(url: str, body: object) -> httpx.Response:
    return httpx.post(url + "/analyze", json=body, timeout=10)


def test_analyze_has_presidios_shape_and_finds_chinese_identifiers(url: str) -> None:
    r = analyze(url, {"text": TEXT, "language": "en"})
    assert r.status_code == 200, r.text
    rows = r.json()
    stock_keys = set(RecognizerResult("EMAIL_ADDRESS", 0, 1, 1.0).to_dict()) - {"recognition_metadata"}
    assert all(set(row) == stock_keys for row in rows)
    got = {(x["entity_type"], TEXT[x["start"] : x["end"]]) for x in rows}
    assert ("EMAIL_ADDRESS", EMAIL) in got  # Presidio's name for the same entity
    assert ("CN_MOBILE", "13812345678") in got and ("CN_RESIDENT_ID", "11010519491231002X") in got
    assert all(0 < x["score"] <= 1 for x in rows)


def test_batch_entities_threshold_and_allow_list(url: str) -> None:
    r = analyze(url, {"text": [TEXT, "nothing here"], "language": "en", "entities": ["EMAIL_ADDRESS"]})
    rows = r.json()
    assert len(rows) == 2 and rows[1] == []
    assert [x["entity_type"] for x in rows[0]] == ["EMAIL_ADDRESS"]
    assert analyze(url, {"text": TEXT, "language": "en", "score_threshold": 1.01}).json() == []
    r = analyze(url, {"text": TEXT, "language": "en", "entities": ["EMAIL_ADDRESS"], "allow_list": [EMAIL]})
    assert r.json() == []
    r = analyze(url, {"text": TEXT, "language": "zh", "entities": ["CN_MOBILE", "NOT_A_TYPE"]})
    assert [x["entity_type"] for x in r.json()] == ["CN_MOBILE"]  # Presidio ignores unknown ones among known


def test_ad_hoc_recognizers_as_litellm_sends_them(url: str) -> None:
    rec = {
        "name": "ticket",
        "supported_language": "en",
        "supported_entity": "TICKET",
        "patterns": [{"name": "t", "regex": r"TCK-\d{4}", "score": 0.9}],
    }
    r = analyze(
        url, {"text": "see TCK-1234", "language": "en", "ad_hoc_recognizers": [rec], "entities": ["TICKET"]}
    )
    assert r.status_code == 200, r.text
    assert [(x["entity_type"], x["start"], x["end"]) for x in r.json()] == [("TICKET", 4, 12)]


def test_unknown_language_or_entity_is_the_stock_message_as_400(url: str) -> None:
    registry = RecognizerRegistry()
    registry.load_predefined_recognizers()
    with pytest.raises(ValueError) as stock:
        registry.get_recognizers(language="en", entities=["NOT_A_TYPE"])
    assert str(stock.value) == NO_RECOGNIZERS
    for body in (
        {"text": TEXT, "language": "xx"},
        {"text": TEXT, "language": "en", "entities": ["NOT_A_TYPE"]},
    ):
        r = analyze(url, body)
        assert r.status_code == 400 and r.json() == {"error": NO_RECOGNIZERS}
    r = httpx.get(url + "/supportedentities", params={"language": "xx"})
    assert r.status_code == 400 and r.json() == {"error": NO_RECOGNIZERS}


@pytest.mark.parametrize(
    "body, message",
    [
        ({"language": "en"}, "No text provided"),
        ({"text": "", "language": "en"}, "No text provided"),
        ({"text": "hi"}, "No language provided"),
        ({"text": 42, "language": "en"}, "text must be"),
        ({"text": ["a", 1], "language": "en"}, "text must be"),
        ({"text": "a", "language": "en", "entities": "EMAIL_ADDRESS"}, "entities must be"),
        ({"text": "a", "language": "en", "score_threshold": "high"}, "score_threshold"),
        ({"text": "a", "language": "en", "allow_list": ["("], "allow_list_match": "regex"}, "allow_list"),
        ({"text": "a", "language": "en", "ad_hoc_recognizers": [{"name": "x"}]}, "ad-hoc"),
        ([1, 2], "Invalid request json"),
    ],
)
def test_bad_analyze_requests_are_400_and_quote_nothing(url: str, body: object, message: str) -> None:
    r = analyze(url, body)
    assert r.status_code == 400, r.text
    assert message in r.json()["error"]


def test_bad_json_routes_and_methods(url: str) -> None:
    assert (
        httpx.post(url + "/analyze", content=b'{"text": "' + EMAIL.encode())
        .json()["error"]
        .startswith("Failed")
    )
    assert EMAIL not in httpx.post(url + "/analyze", content=b'{"text": "' + EMAIL.encode()).text
    assert httpx.get(url + "/analyze").status_code == 405
    assert httpx.get(url + "/nope").status_code == 404
    assert httpx.get(url + "/health").status_code == 200
    ents = httpx.get(url + "/supportedentities", params={"language": "en"}).json()
    assert {"EMAIL_ADDRESS", "PHONE_NUMBER", "CREDIT_CARD", "CN_RESIDENT_ID", "CN_MOBILE"} <= set(ents)
    assert "replace" in httpx.get(url + "/anonymizers").json()


def test_anonymize_is_presidios_own_engine(url: str) -> None:
    found = analyze(url, {"text": TEXT, "language": "en"}).json()
    ops = {
        "DEFAULT": {"type": "replace"},
        "CN_MOBILE": {"type": "mask", "masking_char": "*", "chars_to_mask": 4, "from_end": True},
    }
    r = httpx.post(url + "/anonymize", json={"text": TEXT, "analyzer_results": found, "anonymizers": ops})
    assert r.status_code == 200, r.text
    stock = AnonymizerEngine().anonymize(
        text=TEXT,
        analyzer_results=[AnonResult.from_json(x) for x in found],
        operators={k: OperatorConfig.from_json(v) for k, v in ops.items()},
    )
    assert r.text == stock.to_json()
    assert EMAIL not in r.json()["text"] and "1381234****" in r.json()["text"]


def test_bad_anonymize_requests(url: str) -> None:
    assert httpx.post(url + "/anonymize", json={}).status_code == 400
    r = httpx.post(url + "/anonymize", json={"text": TEXT})
    assert r.status_code == 422 and "analyzer results" in r.json()["error"]
    r = httpx.post(
        url + "/anonymize",
        json={
            "text": TEXT,
            "analyzer_results": [{"start": 8, "end": 30, "score": 1.0, "entity_type": "EMAIL_ADDRESS"}],
            "anonymizers": {"DEFAULT": {"type": "nope"}},
        },
    )
    assert r.status_code == 422 and EMAIL not in r.text
    r = httpx.post(url + "/anonymize", json={"text": TEXT, "analyzer_results": "x"})
    assert r.status_code == 422 and EMAIL not in r.text


_AROUND = st.text(
    alphabet=st.characters(whitelist_categories=("Ll", "Lu", "Zs", "Po"), blacklist_characters="@.<>"),
    max_size=30,
)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(before=_AROUND, after=_AROUND)
def test_an_email_anywhere_is_found_at_its_exact_offsets(url: str, before: str, after: str) -> None:
    text = f"{before} {EMAIL} {after}"
    rows = analyze(url, {"text": text, "language": "en", "entities": ["EMAIL_ADDRESS"]}).json()
    assert [(x["start"], x["end"]) for x in rows] == [(len(before) + 1, len(before) + 1 + len(EMAIL))]
