"""US social security numbers: Presidio's patterns and invalidation, digit look-arounds."""

from __future__ import annotations

from presidio_analyzer import Pattern
from presidio_analyzer.predefined_recognizers import UsSsnRecognizer as PresidioUsSsn

from privacy.pii.recognizers.base import FastMatch, Prechecked

_B, _A = r"(?<![0-9\-.])", r"(?![0-9]|[\-.][0-9])"


class CgUsSsnRecognizer(Prechecked, FastMatch, PresidioUsSsn):
    ENTITY = "US_SSN"
    PRECHECK = r"\d{3}"
    PATTERNS = [
        Pattern("SSN3 (very weak)", _B + r"[0-9]{3}-[0-9]{2}-[0-9]{4}" + _A, 0.05),
        Pattern("SSN4 (very weak)", _B + r"[0-9]{9}" + _A, 0.05),
        Pattern("SSN5 (medium)", _B + r"[0-9]{3}[- .][0-9]{2}[- .][0-9]{4}" + _A, 0.5),
    ]
    CONTEXT = [*PresidioUsSsn.CONTEXT, "social security"]

    def __init__(self) -> None:
        super().__init__(patterns=self.PATTERNS, context=self.CONTEXT, name="CgUsSsnRecognizer")
