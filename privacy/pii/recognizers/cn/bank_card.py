"""Chinese bank (UnionPay) card numbers: 62 + 14-17 digits, Luhn-checked."""

from __future__ import annotations

from presidio_analyzer import Pattern

from privacy.pii.recognizers.base import NO_DIGIT_AFTER, NO_DIGIT_BEFORE, FastPatternRecognizer, luhn_ok


class CnBankCardRecognizer(FastPatternRecognizer):
    ENTITY = "CN_BANK_CARD"
    PRECHECK = r"62\d\d"
    PATTERNS = [
        Pattern("unionpay", NO_DIGIT_BEFORE + r"62\d{14,17}" + NO_DIGIT_AFTER, 0.5),
        Pattern(
            "unionpay grouped",
            NO_DIGIT_BEFORE + r"62\d{2}(?:[ \-]?\d){12,15}" + NO_DIGIT_AFTER + r"(?![ \-]\d)",
            0.5,
        ),
    ]
    CONTEXT = ["银行卡", "卡号", "储蓄卡", "借记卡", "信用卡", "开户", "账号", "bank card", "card"]

    def validate_result(self, pattern_text: str) -> bool:
        digits = "".join(c for c in pattern_text if c.isdigit())
        return 16 <= len(digits) <= 19 and luhn_ok(digits)
