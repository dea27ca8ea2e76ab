"""Postal addresses: US, UK and German street addresses, Chinese addresses (省/市/区/县/路/街/号/室).

Each format is anchored on what makes it an address and not a phrase:
- US: house number, street words, a street suffix (St, Ave, Blvd...), optional unit, then
  city, two-letter state and ZIP; or number + street + suffix with no city (lower score).
- UK: house number, street words, a street suffix (Road, Lane, Close...), optional town,
  then a postcode (SW1A 2AA).
- DE: street (…straße/str./weg/allee/platz or ``Am Markt``) and number, then a five-digit
  postcode and the town.
- CN: optional province/city/district/county/street-office, then a road/street (路/街/大道/巷)
  with a number and 号, then building/unit/room (栋/单元/室) if any.
"""

from __future__ import annotations

import re

from presidio_analyzer import RecognizerResult

_US_SUFFIX = (
    r"(?:Street|St|Avenue|Ave|Boulevard|Blvd|Road|Rd|Drive|Dr|Lane|Ln|Court|Ct|Way|Parkway|Pkwy|Place|Pl|"
    r"Terrace|Ter|Circle|Cir|Highway|Hwy|Square|Sq|Trail|Trl|Loop|Plaza|Alley|Row|Pike|Run)\.?"
)
_UNIT = r"(?:,?\s+(?:Apt|Apartment|Suite|Ste|Unit|Fl|Floor|Rm|Room|Bldg|#)\.?\s*#?[\w-]{1,6})"
_STREET_WORD = r"(?:[A-Z][A-Za-z'.-]*|\d{1,3}(?:st|nd|rd|th))"
_STATES = (
    "AL|AK|AZ|AR|CA|CO|CT|DE|DC|FL|GA|HI|ID|IL|IN|IA|KS|KY|LA|ME|MD|MA|MI|MN|MS|MO|MT|NE|NV|NH|NJ|NM|NY|NC|"
    "ND|OH|OK|OR|PA|RI|SC|SD|TN|TX|UT|VT|VA|WA|WV|WI|WY|PR"
)
_CITY = r"[A-Z][A-Za-z.'-]+(?:\s[A-Z][A-Za-z.'-]+){0,3}"
_US = re.compile(
    rf"(?<![\w-])\d{{1,6}}[A-Z]?\s+(?:(?:N|S|E|W|NE|NW|SE|SW)\.?\s+)?(?:{_STREET_WORD}\s+){{1,5}}?{_US_SUFFIX}"
    rf"(?:{_UNIT})?,?\s+{_CITY},?\s+(?:{_STATES})\.?\s+\d{{5}}(?:-\d{{4}})?(?!\d)"
)
_US_STREET_ONLY = re.compile(
    rf"(?<![\w-])\d{{1,6}}[A-Z]?\s+(?:(?:N|S|E|W|NE|NW|SE|SW)\.?\s+)?(?:{_STREET_WORD}\s+){{1,4}}?{_US_SUFFIX}"
    rf"(?:{_UNIT})?(?![A-Za-z])"
)
_UK_SUFFIX = (
    r"(?:Road|Rd|Street|St|Lane|Avenue|Ave|Close|Gardens|Crescent|Drive|Terrace|Way|Grove|Place|Square|"
    r"Court|Hill|Row|Mews|Parade|Walk|Rise|View|Green|Park)"
)
_UK_POSTCODE = r"(?:[A-Z]{1,2}\d[A-Z\d]?\s*\d[A-Z]{2}|GIR\s*0AA)"
_UK = re.compile(
    rf"(?:(?:Flat|Apartment|Unit)\s+\w{{1,4}},?\s+)?(?<![\w-])\d{{1,4}}[A-Za-z]?\s+(?:[A-Z][A-Za-z'-]+\s+){{1,3}}?"
    rf"{_UK_SUFFIX},?\s+(?:[A-Z][A-Za-z'-]+(?:[\s-][A-Z][A-Za-z'-]+){{0,2}},?\s+)?{_UK_POSTCODE}(?![A-Za-z0-9])"
)
_DE_WORD = r"[A-ZÄÖÜ][\wäöüß.'-]*"
_DE = re.compile(
    rf"(?<![\w-])(?:(?:Am|An\s+der|Auf\s+dem|Im|In\s+der|Zum|Zur)\s+{_DE_WORD}|(?:{_DE_WORD}\s+){{0,2}}?{_DE_WORD}"
    r"(?:straße|strasse|str\.|weg|allee|platz|gasse|ring|damm|ufer|chaussee|steig|pfad|markt)|"
    rf"{_DE_WORD}-{_DE_WORD}-(?:Straße|Str\.|Allee|Platz|Weg))"
    r"\s+\d{1,4}\s?[a-zA-Z]?(?:[-/]\d{1,4})?,?\s+\d{5}\s+[A-ZÄÖÜ][\wäöüß-]+"
    r"(?:\s(?:am|an\sder|im|in\sder|ob\sder|bei)\s[A-ZÄÖÜ][\wäöüß]+)?"
)
_HAN = r"\u4e00-\u9fff"
_CN_NUM = r"[0-9一二三四五六七八九十百零〇]+"
_CN = re.compile(
    rf"(?:[{_HAN}]{{2,3}}(?:省|自治区|特别行政区))?"
    rf"(?:[{_HAN}]{{2,7}}?(?:市|自治州|地区|盟))?"
    rf"(?:[{_HAN}]{{1,5}}?(?:区|县|旗|市))?"
    rf"(?:[{_HAN}]{{2,5}}?(?:街道|镇|乡))?"
    rf"(?:[{_HAN}0-9]{{1,10}}?(?:路|街|大道|大街|巷|弄|胡同|道)(?:[一二三四五六七八九十东西南北中]段)?){_CN_NUM}(?:之{_CN_NUM})?号"
    rf"(?:[{_HAN}A-Za-z]{{0,10}}?(?:{_CN_NUM}(?:号楼|栋|幢|座|单元|楼|层|室|号|户))+)?"
)
# Leading words the CN pattern may take in with a province-less city: 寄到北京市 -> 北京市.
_CN_LEAD = re.compile(
    r"^(?:麻烦|请|帮我|我|家|住|住在|寄到|寄往|寄至|送到|送往|送至|发到|发往|邮寄到|地址|改成|改为|是|为|在|到|往|至|于|的)+"
)


# Cheap anchors (a plain alternation of words, a postcode): the full patterns run only where they occur.
_EN_ANCHOR = re.compile(rf"(?<![A-Za-z])(?:{_US_SUFFIX}|{_UK_SUFFIX})(?![A-Za-z])")
_DE_ANCHOR = re.compile(r"\d{5}\s+[A-ZÄÖÜ]")


class AddressRecognizer:
    ENTITY = "ADDRESS"
    CONTEXT: list[str] = []
    name = "AddressRecognizer"
    _PRE = re.compile(r"\d")

    def could_match(self, text: str) -> bool:
        return self._PRE.search(text) is not None

    def find(self, text: str) -> list[RecognizerResult]:
        out: list[RecognizerResult] = []
        # Each format runs only where its anchor word occurs (a street suffix, a German street word).
        en = _EN_ANCHOR.search(text) is not None
        de = _DE_ANCHOR.search(text) is not None
        m: re.Match[str] | None
        for rx, score, ok in ((_US, 0.85, en), (_UK, 0.85, en), (_DE, 0.85, de), (_US_STREET_ONLY, 0.5, en)):
            if not ok:
                continue
            for m in rx.finditer(text):
                out.append(RecognizerResult(self.ENTITY, m.start(), m.end(), score))
        # Chinese: around each 号 only (the pattern's optional leading units make every Han
        # character a possible start; a window keeps that cheap).
        k = text.find("号")
        done = -1
        while k >= 0:
            m = _CN.search(text, max(done + 1, k - 48), k + 32) if k >= done else None
            k = text.find("号", k + 1)
            if m is None:
                continue
            done = m.end()
            start = m.start()
            lead = _CN_LEAD.match(m.group())
            if lead and not re.search("(?:省|市|区|县)$", lead.group()):
                start += lead.end()
            if m.end() - start >= 4:
                out.append(RecognizerResult(self.ENTITY, start, m.end(), 0.85))
        return out
