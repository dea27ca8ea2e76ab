"""Dates of birth: a date next to a birth cue. A date alone is not personal data.

Dates: numeric (03/14/1987, 14.03.1987, 1987-03-14, 1990/5/12), English month names
(March 14, 1987 / 14 March 1987 / 14-Mar-1987), German (3. März 1979) and Chinese
(1990年5月12日, 1990年5月). Cues: DOB, date of birth, born, birthday, b., 出生, 生日, 生于,
Geburtsdatum, geb., geboren, né le, fecha de nacimiento... before the date (with no other
date in between), or 出生/生 right after it (1990年5月12日出生).
"""

from __future__ import annotations

import re

from presidio_analyzer import RecognizerResult

_MON = (
    r"(?:jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|sep(?:t(?:ember)?)?|"
    r"oct(?:ober)?|nov(?:ember)?|dec(?:ember)?|januar|februar|märz|maerz|mai|juni|juli|oktober|dezember)\.?"
)
_Y = r"(?:19|20)\d\d"
_DATE = re.compile(
    r"(?<![0-9])(?:"
    rf"\d{{1,2}}[./\-]\d{{1,2}}[./\-](?:{_Y}|\d\d)"  # 03/14/1987, 14.03.1987, 3-4-79
    rf"|{_Y}[./\-]\d{{1,2}}[./\-]\d{{1,2}}"  # 1987-03-14, 1990/5/12
    rf"|{_Y}\s?年\s?\d{{1,2}}\s?月(?:\s?\d{{1,2}}\s?[日号])?"  # 1990年5月12日, 1990年5月
    rf"|{_MON}\s+\d{{1,2}}(?:st|nd|rd|th)?,?\s+{_Y}"  # March 14, 1987
    rf"|\d{{1,2}}(?:st|nd|rd|th|\.)?\s*(?:of\s+)?{_MON}[\s,\-]*{_Y}"  # 14 March 1987, 3. März 1979, 14-Mar-1987
    rf"|\d{{1,2}}-{_MON}-{_Y}"
    r")(?![0-9])",
    re.IGNORECASE,
)
_CUE = re.compile(
    r"(?<![a-z])(?:dob|d\.o\.b\.?|date\s+of\s+birth|birth\s*date|birthdate|birthday|bday|b-day|born(?:\s+on)?|"
    r"b\.|geburtsdatum|geb\.|geboren(?:\s+am)?|né(?:e)?\s+le|date\s+de\s+naissance|fecha\s+de\s+nacimiento|nacid[oa]|"
    r"data\s+di\s+nascita)(?![a-z])|出生日期|出生年月日?|出生于|出生在|出生|生日|生于|誕生日|生年月日",
    re.IGNORECASE,
)
_AFTER = re.compile(r"\s?(?:出生|生人|生(?![产成效意活气])|geboren|born)", re.IGNORECASE)
_CUE_WINDOW = 40
_AFTER_ANY = re.compile(r"出生|生人|geboren|born", re.IGNORECASE)


class DateOfBirthRecognizer:
    ENTITY = "DATE_OF_BIRTH"
    CONTEXT: list[str] = []
    name = "DateOfBirthRecognizer"
    _PRE = re.compile(r"\d{4}|\d{1,2}[./\-]\d{1,2}[./\-]\d\d")

    def could_match(self, text: str) -> bool:
        # A date and a birth word somewhere: most texts have dates, few have a birth cue.
        return self._PRE.search(text) is not None and (
            _CUE.search(text) is not None or _AFTER_ANY.search(text) is not None
        )

    def find(self, text: str) -> list[RecognizerResult]:
        dates = [m.span() for m in _DATE.finditer(text)]
        out = []
        prev_end = 0
        for start, end in dates:
            lo = max(prev_end, start - _CUE_WINDOW)  # no other date between the cue and this one
            cue = any(True for _ in _CUE.finditer(text, lo, start))
            if cue or _AFTER.match(text, end):
                out.append(RecognizerResult(self.ENTITY, start, end, 0.85))
            prev_end = end
        return out
