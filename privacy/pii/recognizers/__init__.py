"""The recognizer registry: entity type -> factory, explicit, no subclass discovery.

A factory takes the engine settings (phone regions...) and returns an object
with ``could_match(text) -> bool`` (a cheap necessary condition) and
``find(text) -> list[RecognizerResult]``; ``CONTEXT`` lists words that raise
the score when they appear just before a match.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any, Protocol

from presidio_analyzer import RecognizerResult

from privacy.pii.recognizers.cn.bank_card import CnBankCardRecognizer
from privacy.pii.recognizers.cn.mobile import CnMobileRecognizer
from privacy.pii.recognizers.cn.person_name import CnPersonNameBareRecognizer, CnPersonNameRecognizer
from privacy.pii.recognizers.cn.resident_id import CnResidentIdRecognizer
from privacy.pii.recognizers.generic.address import AddressRecognizer
from privacy.pii.recognizers.generic.credit_card import CgCreditCardRecognizer
from privacy.pii.recognizers.generic.dob import DateOfBirthRecognizer
from privacy.pii.recognizers.generic.email import CgEmailRecognizer
from privacy.pii.recognizers.generic.iban import CgIbanRecognizer
from privacy.pii.recognizers.generic.ip import CgIpRecognizer
from privacy.pii.recognizers.generic.person_cue import LowercaseNameRecognizer
from privacy.pii.recognizers.generic.phone import CgPhoneRecognizer
from privacy.pii.recognizers.generic.us_ssn import CgUsSsnRecognizer


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
    """Add a recognizer factory for an entity type (new or existing); config may then name the type.

    Entity type names are upper-case identifiers (``EMPLOYEE_ID``): they become placeholders
    ``<EMPLOYEE_ID_1>``, which the restore step parses back.
    """
    if not re.fullmatch(r"[A-Z][A-Z0-9_]*", entity_type):
        raise ValueError(f"entity type {entity_type!r}: use upper-case letters, digits and _")
    REGISTRY.setdefault(entity_type, []).append(factory)


register("EMAIL_ADDRESS", lambda s: CgEmailRecognizer())
register("PHONE_NUMBER", lambda s: CgPhoneRecognizer(s.phone_regions))
register("CREDIT_CARD", lambda s: CgCreditCardRecognizer())
register("IBAN_CODE", lambda s: CgIbanRecognizer())
register("US_SSN", lambda s: CgUsSsnRecognizer())
register("IP_ADDRESS", lambda s: CgIpRecognizer())
register("CN_MOBILE", lambda s: CnMobileRecognizer())
register("CN_RESIDENT_ID", lambda s: CnResidentIdRecognizer())
register("CN_BANK_CARD", lambda s: CnBankCardRecognizer())
register(
    "PERSON",
    lambda s: (
        CnPersonNameBareRecognizer(s.cn_name_pos_tagger)
        if s.cn_names_without_cue
        else CnPersonNameRecognizer()
    ),
)
register("PERSON", lambda s: LowercaseNameRecognizer())
register("ADDRESS", lambda s: AddressRecognizer())
register("DATE_OF_BIRTH", lambda s: DateOfBirthRecognizer())


def known_entities() -> tuple[str, ...]:
    """Every entity type some recognizer is registered for (the settings validate against this)."""
    return tuple(REGISTRY)


def build(entity_types: list[str], settings: Any) -> list[Recognizer]:
    """Recognizers for the entity types; those that take claimed spans (phone) run last."""
    recs = [factory(settings) for et in entity_types for factory in REGISTRY.get(et, [])]
    return sorted(recs, key=lambda r: bool(getattr(r, "TAKES_CLAIMED", False)))
