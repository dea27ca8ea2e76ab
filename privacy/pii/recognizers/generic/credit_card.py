"""Credit cards: Presidio's pattern and Luhn check, with digit look-arounds instead of \\b.

Also Mastercard's 2-series (2221-2720), which Presidio's pattern does not cover."""

from __future__ import annotations

from presidio_analyzer import Pattern
from presidio_analyzer.predefined_recognizers import CreditCardRecognizer as PresidioCreditCard

from privacy.pii.recognizers.base import NO_DIGIT_AFTER, NO_DIGIT_BEFORE, FastMatch, Prechecked


class CgCreditCardRecognizer(Prechecked, FastMatch, PresidioCreditCard):
    ENTITY = "CREDIT_CARD"
    PRECHECK = r"\d{4}"
    PATTERNS = [
        Pattern(
            "card",
            # Not the tail of a longer dashed/grouped number (order 112-3456789-1234567, a
            # 22-digit tracking number in groups of four): digits joined by - or one space.
            NO_DIGIT_BEFORE
            + r"(?<!\d-)(?<!\d\d )"
            + r"(?!1\d{12}(?!\d))(?:4\d{3}|5[0-5]\d{2}|2[2-7]\d{2}|6\d{3}|1\d{3}|3\d{3})(?:[- ]|  )?\d{3,4}(?:[- ]|  )?\d{3,4}(?:[- ]|  )?\d{3,5}"
            + NO_DIGIT_AFTER
            + r"(?!-\d)(?! \d{4})",
            0.3,
        )
    ]
    CONTEXT = [*PresidioCreditCard.CONTEXT, "信用卡", "卡号"]

    def __init__(self) -> None:
        super().__init__(patterns=self.PATTERNS, context=self.CONTEXT, name="CgCreditCardRecognizer")
