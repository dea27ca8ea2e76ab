"""International phone numbers with python-phonenumbers, on candidate windows only.

Presidio's ``PhoneRecognizer`` runs ``PhoneNumberMatcher`` over the whole text
once per region (eight by default): about 8 ms per KB. Here one regex finds
digit runs that could be phone numbers (seven digits or more, separators
allowed) and the matcher runs only on those, for the configured regions.
"""

from __future__ import annotations

import re
from bisect import bisect_right

import phonenumbers
from presidio_analyzer import RecognizerResult

from privacy.pii.context import phone_cue_near, ref_label_before_phone

# Digits with separators; the look-behind admits Han characters and '#'/':' (电话13812345678,
# "cb#827 708 5965", "Tel.:(030) 1234567"); references and ports are judged later by context.
_CANDIDATE = re.compile(
    r"(?<![0-9A-Za-z.\-/+])(?:\+|00)?\(?\d(?:[\d().\-/]|[ \t](?![ \t]))(?:[\d().\-/]|[ \t](?![ \t])){4,22}\d(?![0-9A-Za-z/:]|\.\d)"
)
# Dates and times are never phones, whatever the context: 06.02.2019, 2021-07-01, 3/14/2023.
_DATE = re.compile(
    r"\d{1,2}[./\-]\d{1,2}[./\-](?:19|20)\d\d|(?:19|20)\d\d[./\-]\d{1,2}[./\-]\d{1,2}|\d{1,2}/\d{1,2}/\d\d"
)
_DIGITS7 = re.compile(r"\d(?:[\s().\-]{0,3}\d){6}")


class CgPhoneRecognizer:
    ENTITY = "PHONE_NUMBER"
    CONTEXT = [
        "phone",
        "number",
        "telephone",
        "cell",
        "cellphone",
        "mobile",
        "call",
        "tel",
        "fax",
        "电话",
        "手机",
        "致电",
    ]
    name = "CgPhoneRecognizer"
    TAKES_CLAIMED = True

    def __init__(self, regions: list[str]) -> None:
        self.regions = list(regions)
        self._trunk = {}
        for r in self.regions:
            meta = phonenumbers.PhoneMetadata.metadata_for_region(r)
            self._trunk[r] = meta.national_prefix if meta else None

    def could_match(self, text: str) -> bool:
        return _DIGITS7.search(text) is not None

    def find(self, text: str, claimed: list[tuple[int, int]] | None = None) -> list[RecognizerResult]:
        """``claimed``: spans already found with certainty (a Luhn-valid card, a checked ID): skip them."""
        results: list[RecognizerResult] = []
        lowered: str | None = None
        spans = sorted(claimed or [])
        starts = [a for a, _ in spans]
        for cand in _CANDIDATE.finditer(text):
            if spans:  # inside a claimed span? (bisect: a 1 MB text has thousands of them)
                k = bisect_right(starts, cand.start()) - 1
                if k >= 0 and cand.end() <= spans[k][1]:
                    continue
            chunk = cand.group().rstrip(" .-(")
            ndigits = sum(c.isdigit() for c in chunk)
            if ndigits < 7:
                continue
            # A bare run of 12+ digits (no +, no separators) is an ID or a timestamp, not a dialled number.
            if ndigits == len(chunk) and ndigits >= 12:
                continue
            if _DATE.fullmatch(chunk.strip("()")) or (chunk.count(".") >= 3 and not chunk.startswith("+")):
                continue  # a date, or a dotted version/build number (120.0.5880.201)
            end = cand.start() + len(chunk)
            if lowered is None:
                lowered = text.lower()
            if phone_cue_near(lowered, cand.start(), end):
                # A cue word: the shape is enough (unassigned area codes, new ranges, typos in the
                # metadata); the validity check still admits what the shape rule does not know.
                if _phone_shaped(chunk) or self._valid(chunk):
                    results.append(RecognizerResult(self.ENTITY, cand.start(), end, 0.75))
                continue
            if ref_label_before_phone(lowered, cand.start()):
                continue  # "Order #4159872231": a reference right after its label
            if self._valid(chunk):
                results.append(RecognizerResult(self.ENTITY, cand.start(), end, 0.4))
        return results

    def _valid(self, chunk: str) -> bool:
        chunk = chunk.replace("/", " ")
        # One parse per region (an international prefix needs none), first valid number wins:
        # cheaper than PhoneNumberMatcher over the whole text once per region.
        if chunk.startswith("00"):
            chunk = "+" + chunk[2:]
        if chunk.startswith("+"):
            regions: list[str | None] = [None]
        else:
            # A national number in a region with trunk prefix 0 (GB, DE, FR, CN...) starts with 0:
            # this keeps dates (2021-07-01) and Unix times from validating as German or British numbers.
            zero = chunk.lstrip("(").startswith("0")
            regions = [r for r in self.regions if zero or self._trunk.get(r) != "0"]
        for region in regions:
            try:
                num = phonenumbers.parse(chunk, region)
            except phonenumbers.NumberParseException:
                continue
            # For a national number, validity in the region it was parsed for is what we ask,
            # and it is cheaper than is_valid_number's search over every region of the code.
            # (NANP numbers: any +1 region will do.)
            if (
                phonenumbers.is_valid_number(num)
                if region is None or num.country_code == 1
                else phonenumbers.is_valid_number_for_region(num, region)
            ):
                return True
        return False


def _phone_shaped(chunk: str) -> bool:
    """A dialled number's shape: NANP (NXX NXX XXXX, optional 1), international (+ or 00, 8-15
    digits), or national with a trunk 0 (9-12 digits). Runs of 13+ digits are references."""
    d = "".join(c for c in chunk if c.isdigit())
    intl = chunk.startswith(("+", "00"))
    if intl:
        return 8 <= len(d) - (2 if chunk.startswith("00") else 0) <= 15
    if len(d) == 11 and d[0] == "1":
        d = d[1:]
    if len(d) == 10 and d[0] in "23456789" and d[3] in "23456789" and d[1:3] != "11":
        return True
    return d.startswith("0") and 9 <= len(d) <= 12 and not chunk.startswith("0.")
