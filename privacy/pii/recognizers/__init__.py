"""The recognizer registry: entity type -> factory, explicit, no subclass discovery.

A factory takes the engine settings (phone regions...) and returns an object
with ``could_match(text) -> bool`` (a cheap necessary condition) and
``find(text) -> list[RecognizerResult]``; ``CONTEXT`` lists words that raise
the score when they appear just before a match.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

from presidio_analyzer import RecognizerResult

from privacy.pii.recognizers.cn.bank_card import CnBankCardRecognizer
from privacy.pii.recognizers.cn.mobile import CnMobileRecognizer
from privacy.pii.recognizers.cn.person_name import CnPersonNameRecognizer
from privacy.pii.recognizers.cn.resident_id import CnResidentIdRecognizer
from privacy.pii.recognizers.generic.credit_card import CreditCardRecognizer
from privacy.pii.recognizers.generic.email import EmailRecognizer
from privacy.pii.recognizers.generic.iban import IbanRecognizer
from privacy.pii.recognizers.generic.ip import IpRecognizer
from privacy.pii.recognizers.generic.phone import PhoneRecognizer
from privacy.pii.recognizers.generic.us_ssn import UsSsnRecognizer


class Recognizer(Protocol):
    ENTITY: str
    CONTEXT: list[str]
    name: str

    def could_match(self, text: str) -> bool: ...

    def find(self, text: str) -> list[RecognizerResult]: ...


Factory = Callable[[Any], Recognizer]
# entity type -> factories (a type may have several recognizers: PERSON has the Chinese rule + NER).
REGISTRY: dict[str, list[Factory]] = {}


def register(entity_type: str, factory: Factory) -> None:
    REGISTRY.setdefault(entity_type, []).append(factory)


register("EMAIL_ADDRESS", lambda s: EmailRecognizer())
register("PHONE_NUMBER", lambda s: PhoneRecognizer(s.phone_regions))
register("CREDIT_CARD", lambda s: CreditCardRecognizer())
register("IBAN_CODE", lambda s: IbanRecognizer())
register("US_SSN", lambda s: UsSsnRecognizer())
register("IP_ADDRESS", lambda s: IpRecognizer())
register("CN_MOBILE", lambda s: CnMobileRecognizer())
register("CN_RESIDENT_ID", lambda s: CnResidentIdRecognizer())
register("CN_BANK_CARD", lambda s: CnBankCardRecognizer())
register("PERSON", lambda s: CnPersonNameRecognizer())


def build(entity_types: list[str], settings: Any) -> list[Recognizer]:
    return [factory(settings) for et in entity_types for factory in REGISTRY.get(et, [])]
