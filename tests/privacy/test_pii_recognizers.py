"""Recognizers: each entity found in English and Chinese text, validators reject look-alikes."""

from __future__ import annotations

import pytest

from privacy.pii.recognizers.cn.resident_id import gb11643_check_char, valid_resident_id
from tests.privacy.conftest import spans


@pytest.mark.parametrize(
    "text, entity, value",
    [
        ("手机号13812345678，请回电", "CN_MOBILE", "13812345678"),
        ("电话：+86 138 1234 5678。", "CN_MOBILE", "+86 138 1234 5678"),
        ("call 0086-139-8765-4321 today", "CN_MOBILE", "0086-139-8765-4321"),
        ("联系方式 159-0000-1234", "CN_MOBILE", "159-0000-1234"),
        ("身份证号11010519491231002X，", "CN_RESIDENT_ID", "11010519491231002X"),
        ("银行卡6222021234567890128已绑定", "CN_BANK_CARD", "6222021234567890128"),
        ("邮箱zhang.san@example.cn谢谢", "EMAIL_ADDRESS", "zhang.san@example.cn"),
        ("服务器IP地址192.168.10.20无法访问", "IP_ADDRESS", "192.168.10.20"),
        ("Pay with 4111 1111 1111 1111 now", "CREDIT_CARD", "4111 1111 1111 1111"),
        ("卡号4111111111111111", "CREDIT_CARD", "4111111111111111"),
        ("my ssn is 536-22-1234.", "US_SSN", "536-22-1234"),
        ("IBAN DE89 3704 0044 0532 0130 00 please", "IBAN_CODE", "DE89 3704 0044 0532 0130 00"),
        ("Reach me at (415) 555-2671 after 5", "PHONE_NUMBER", "(415) 555-2671"),
        ("Call +44 20 7946 0958 in London", "PHONE_NUMBER", "+44 20 7946 0958"),
        ("fe80::1ff:fe23:4567:890a is the link address", "IP_ADDRESS", "fe80::1ff:fe23:4567:890a"),
    ],
)
def test_pattern_entities(pattern_engine, text, entity, value):
    assert (entity, value) in spans(pattern_engine, text)


@pytest.mark.parametrize(
    "text",
    [
        "身份证号110105194912310021",  # wrong check character
        "身份证号110105194913310028",  # month 13
        "银行卡6222021234567890123",  # fails Luhn
        "card 4111 1111 1111 1112",  # fails Luhn
        "Order ORD-2024-000123 shipped at 2024-05-12T13:45:12Z",
        "Upgrade to v2.13.4 and open port 8080; error 0x80070005",
        "Invoice INV-20240512-0042, build 1.2.3, ticket #123456",
        "timestamp 1715512345123 and request id 20240512134512",
    ],
)
def test_lookalikes_are_not_pii(pattern_engine, text):
    assert spans(pattern_engine, text) == []


def test_gb11643_checksum():
    assert gb11643_check_char("11010519491231002") == "X"
    assert valid_resident_id("11010519491231002X")
    assert valid_resident_id("11010519491231002x")
    assert not valid_resident_id("21010519491231002X")
    assert not valid_resident_id("1101051949123100")


@pytest.mark.parametrize(
    "text, name",
    [
        ("我叫王小明，手机号13812345678", "王小明"),
        ("联系人：欧阳娜娜，电话见附件", "欧阳娜娜"),
        ("请把合同发给张伟先生", "张伟"),
        ("收件人：李娜", "李娜"),
    ],
)
def test_chinese_names(pattern_engine, text, name):
    assert ("PERSON", name) in spans(pattern_engine, text)


def test_english_names_need_ner(engine, pattern_engine):
    text = "Please forward the Q3 report to Maria Gonzalez before Friday."
    assert ("PERSON", "Maria Gonzalez") in spans(engine, text)
    assert all(e != "PERSON" for e, _ in spans(pattern_engine, text))


def test_allow_list_keeps_technical_terms(engine):
    found = spans(engine, "Deploy to EKS, store in S3, use C4 instances. Ask Maria Gonzalez.")
    values = [v for _, v in found]
    assert "S3" not in values and "EKS" not in values and "C4" not in values
    assert ("PERSON", "Maria Gonzalez") in found


def test_chinese_names_without_cue_found_by_default_and_can_be_turned_off(pattern_engine):
    from privacy.pii.engine import PIIEngine
    from privacy.pii.settings import PIISettings

    text = "昨天刘建华提交了报销"
    assert ("PERSON", "刘建华") in spans(pattern_engine, text)
    strict = PIIEngine(PIISettings(ner={"enabled": False}, cn_names_without_cue=False))
    strict.start()
    assert all(e != "PERSON" for e, _ in spans(strict, text))


def test_person_shape_rule_rejects_titles_places_and_phrases():
    from privacy.pii.ner import extend_name, person_shaped

    assert (
        person_shaped("Maria Gonzalez")
        and person_shaped("Orfhlaith McElwaine")
        and person_shaped("Anne-Marie Roy")
    )
    for phrase in (
        "Facilities Manager",
        "East Linda",
        "Port Stevenmouth",
        "Histocompatibility And Immunogenetics",
        "Project Falcon",
        "Google Cloud",
        "Maria",
        "maria gonzalez",
        "Q3 Report",
    ):
        assert not person_shaped(phrase), phrase
    text = "Meeting notes: Roselinde Holsten and Ann Lee"
    i = text.index("Holsten")
    assert text[slice(*extend_name(text, i, i + len("Holsten")))] == "Roselinde Holsten"
