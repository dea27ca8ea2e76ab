"""English names in any case after a name cue: "my name is john smith", "name: li wei", "this is maria".

The NER model needs capitals; chat users often type none. After a cue that introduces a
name, one to three words that are not common English words are taken as the name. Strong
cues ("my name is", "name:", "call me", "signed") take any non-common word; weak ones ("i'm",
"this is", "it's") require the words to end the clause (punctuation, "and", "from", "here",
end of line) so that "i'm having trouble" or "this is urgent" stay untouched.
"""

from __future__ import annotations

import re

from presidio_analyzer import RecognizerResult
from spacy.lang.en.stop_words import STOP_WORDS

_W = r"(?:st\.|[a-zà-öø-ÿā-žƀ-ɏḀ-ỿ][a-zà-öø-ÿā-žƀ-ɏḀ-ỿ'’\-]*)"
_STRONG = (
    r"my\s+name\s+is|my\s+name'?s|my\s+full\s+name\s+is|name\s+is|full\s+name\s*[:\-–]|name\s*[:\-–]|"
    r"customer\s+name\s*[:\-–]?|account\s+holder\s*[:\-–]?|call\s+me|you\s+can\s+call\s+me|signed\s*[,:\-–]?|"
    r"regards\s*,|cheers\s*,|thanks\s*,|sincerely\s*,|name\s+on\s+the\s+(?:account|card|order)\s+is|"
    r"spelled|spelt|first\s+name\s*[:\-–]?|last\s+name\s*[:\-–]?|surname\s*[:\-–]?"
)
_WEAK = r"i\s*am|i'?m|i’m|this\s+is|it'?s|its|here\s+is|here'?s"
_RX = re.compile(
    rf"(?:(?P<strong>{_STRONG})|(?P<weak>{_WEAK}))\s+(?P<name>{_W}(?:[ \t]+{_W}){{0,3}})", re.IGNORECASE
)
_END_OK = re.compile(
    r"\s*(?:$|[,.;:!?)\n–—-]|\s(?:and|from|here|again|calling|speaking|with|at|of|the|i|my)\b)", re.IGNORECASE
)
# Common words that are not names (spaCy's English stop words plus chat vocabulary).
_COMMON = frozenset(STOP_WORDS) | frozenset(
    """
    having trying looking calling writing contacting wondering getting going still unable sure sorry glad happy
    interested new back again lol so very really just also ok okay fine good great urgent important here there
    not the a an your customer client user admin support team manager agent member owner holder writing
    following regarding about following reaching asking need needing want wanting hoping waiting done
    available busy free late early home out away online offline stuck lost confused frustrated upset
    having problem problems issue issues help pls please thanks thank hi hello hey yes no yeah yep nope
    account order card number phone email address name password login refund payment invoice ticket
    today tomorrow yesterday now later soon monday tuesday wednesday thursday friday saturday sunday
    correct wrong right left same other another first last next previous old current real full
    """.split()
)
_PARTICLES = frozenset("van von de der den da del della di du la le dos das bin al st. ben el mac".split())


# Every cue above starts with one of these words.
_FIRST_WORD = re.compile(
    r"(?<![a-z])(?:my|name|full|customer|account|call|you|signed|regards|cheers|thanks|"
    r"sincerely|spelled|spelt|first|last|surname|i|im|this|it|its|here)(?![a-z])",
    re.IGNORECASE,
)


class LowercaseNameRecognizer:
    ENTITY = "PERSON"
    CONTEXT: list[str] = []
    name = "LowercaseNameRecognizer"
    _PRE = re.compile(
        r"(?i)name|i'?m|i am|this is|it'?s|call me|signed|regards|cheers|thanks|sincerely|spel|here"
    )

    def could_match(self, text: str) -> bool:
        return self._PRE.search(text) is not None

    def find(self, text: str) -> list[RecognizerResult]:
        out: list[RecognizerResult] = []
        last = -1
        for w in _FIRST_WORD.finditer(text):  # only where a cue can start: cheaper than a full scan
            if w.start() < last:
                continue
            m = _RX.match(text, w.start())
            if m is not None:
                last = m.end()
                self._take(text, m, out)
        return out

    def _take(self, text: str, m: re.Match[str], out: list[RecognizerResult]) -> None:
        words = m.group("name").split()
        start = m.start("name")
        keep: list[str] = []
        for w in words:
            if w.lower() in _PARTICLES and keep:
                keep.append(w)
                continue
            if w.lower().strip("'’-") in _COMMON or w.lower().endswith(("ing", "ed", "ly")) and len(w) > 5:
                break
            keep.append(w)
        while keep and keep[-1].lower() in _PARTICLES:
            keep.pop()
        if not keep:
            return
        span = " ".join(keep)
        # the joined words must be exactly the text (single spaces); otherwise take the first word
        if text[start : start + len(span)] != span:
            span = keep[0]
        end = start + len(span)
        if m.group("weak") and not _END_OK.match(text, end):
            return
        out.append(RecognizerResult(self.ENTITY, start, end, 0.6 if m.group("strong") else 0.5))
