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

_CANDIDATE = re.compile(r"(?<![\w.\-/:#+])(?:\+|00)?\(?\d[\d\s().\-]{5,22}\d(?![\w/:])")
_DIGITS7 = re.compile(r"\d(?:[\s().\-]{0,3}\d){6}")


class CgPhoneRecognizer:
    ENTITY = "PHONE_NUMBER"
    CONTEXT = ["phone", "number", "telephone", "cell", "cellphone", "mobile", "call", "tel", "fax", "电话", "手机", "致电"]
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
            if self._valid(chunk):
                results.append(RecognizerResult(self.ENTITY, cand.start(), cand.start() + len(chunk), 0.4))
        return results

    def _valid(self, chunk: str) -> bool:
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
            if (phonenumbers.is_valid_number(num) if region is None or num.country_code == 1
                    else phonenumbers.is_valid_number_for_region(num, region)):
                return True
        return False
