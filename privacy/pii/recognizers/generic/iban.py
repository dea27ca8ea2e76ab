"""IBANs: Presidio's recognizer (format and mod-97 check), behind a cheap precheck."""

from __future__ import annotations

from presidio_analyzer.predefined_recognizers import IbanRecognizer as PresidioIban

from privacy.pii.recognizers.base import Prechecked


class CgIbanRecognizer(Prechecked, PresidioIban):
    ENTITY = "IBAN_CODE"
    PRECHECK = r"[A-Z]{2}\d{2}"

    def __init__(self) -> None:
        super().__init__(name="CgIbanRecognizer")

    def find(self, text: str):
        return self.analyze(text, [self.ENTITY])
