"""Chinese resident identity card numbers (GB 11643-1999): 17 digits + check character."""

from __future__ import annotations

import datetime as dt

from presidio_analyzer import Pattern

from privacy.pii.recognizers.base import FastPatternRecognizer

_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_CHECK = "10X98765432"


def gb11643_check_char(first17: str) -> str:
    return _CHECK[sum(int(c) * w for c, w in zip(first17, _WEIGHTS, strict=True)) % 11]


def valid_resident_id(value: str) -> bool:
    """Checksum plus a real birth date: random 18-digit numbers pass 1 time in ~4000."""
    v = value.upper()
    if len(v) != 18 or not v[:17].isdigit() or v[0] not in "12345678":
        return False
    try:
        birth = dt.date(int(v[6:10]), int(v[10:12]), int(v[12:14]))
    except ValueError:
        return False
    if not (1900 <= birth.year and birth <= dt.date.today()):
        return False
    return gb11643_check_char(v[:17]) == v[17]


class CnResidentIdRecognizer(FastPatternRecognizer):
    ENTITY = "CN_RESIDENT_ID"
    PRECHECK = r"\d{17}"
    PATTERNS = [Pattern("cn resident id", r"(?<![0-9A-Za-z])[1-8]\d{16}[0-9Xx](?![0-9A-Za-z])", 0.5)]
    CONTEXT = ["身份证", "证件", "公民身份", "id card", "resident", "identity"]

    def validate_result(self, pattern_text: str) -> bool:
        return valid_resident_id(pattern_text)
