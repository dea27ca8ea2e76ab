"""Chinese mobile numbers: 11 digits starting 1[3-9], optional +86/0086, optional separators."""

from __future__ import annotations

from presidio_analyzer import Pattern

from privacy.pii.recognizers.base import NO_DIGIT_AFTER, NO_DIGIT_BEFORE, FastPatternRecognizer

_PREFIX = r"(?:(?:\+|00)86[\s\-]?|\(\+?86\)\s?|86-)?"
# 1[3-9] and nine more digits, one optional space or dash between any two (3-4-4, 3-3-5, 4-3-4...).
_BODY = r"1[ \-]?[3-9](?:[ \-]?\d){9}"


class CnMobileRecognizer(FastPatternRecognizer):
    ENTITY = "CN_MOBILE"
    PRECHECK = r"1[ \-]?[3-9]"
    PATTERNS = [
        Pattern("cn mobile (+86)", NO_DIGIT_BEFORE + r"(?:\+|00)86[\s\-]?" + _BODY + NO_DIGIT_AFTER, 0.85),
        Pattern("cn mobile", NO_DIGIT_BEFORE + _PREFIX + _BODY + NO_DIGIT_AFTER + r"(?![ \-]\d)", 0.6),
    ]
    CONTEXT = [
        "手机",
        "电话",
        "联系",
        "号码",
        "致电",
        "拨打",
        "mobile",
        "phone",
        "tel",
        "call",
        "cell",
        "wechat",
        "微信",
    ]
