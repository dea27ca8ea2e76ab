"""A Presidio pattern recognizer that says cheaply whether it can match at all.

A recognizer is data (``ENTITY``, ``PATTERNS``, ``CONTEXT``) plus ``PRECHECK``:
a tiny regex (or a substring) that every match must contain. The engine runs
the precheck first and skips the recognizer's real patterns when it fails; on
prose without digits that skips nearly every pattern recognizer.
"""

from __future__ import annotations

import re
from typing import ClassVar

from presidio_analyzer import Pattern, PatternRecognizer, RecognizerResult

# Digits next to CJK characters: \b does not separate them (both are \w), so numeric
# patterns use explicit look-arounds instead.
NO_DIGIT_BEFORE = r"(?<![0-9])"
NO_DIGIT_AFTER = r"(?![0-9])"


class Prechecked:
    """Mixin: ``could_match(text)`` is a necessary condition for any match."""

    PRECHECK: ClassVar[str | None] = None  # regex
    PRECHECK_SUBSTR: ClassVar[str | None] = None  # plain substring, cheaper still
    _precheck_re: ClassVar[re.Pattern[str] | None] = None

    def could_match(self, text: str) -> bool:
        if self.PRECHECK_SUBSTR is not None and self.PRECHECK_SUBSTR not in text:
            return False
        if self.PRECHECK is None:
            return True
        cls = type(self)
        if cls.__dict__.get("_precheck_re") is None:
            cls._precheck_re = re.compile(self.PRECHECK)
        return cls._precheck_re.search(text) is not None  # type: ignore[union-attr]


class FastMatch:
    """Mixin: Presidio's pattern semantics (score, ``validate_result``, ``invalidate_result``)
    with the patterns compiled once per class by the standard ``re`` module.

    Presidio's own matching compiles with the ``regex`` module under IGNORECASE, builds an
    explanation object per match and logs each pattern's timing: several times slower on
    the hot path. A pattern may name a group ``pii``: the finding is that group's span
    (the cue words around it are context, not data), so no variable-width lookbehind is
    needed.
    """

    ENTITY: ClassVar[str]
    FLAGS: ClassVar[int] = re.MULTILINE | re.DOTALL
    _compiled: ClassVar[list[tuple[float, re.Pattern[str]]] | None] = None

    def find(self, text: str) -> list[RecognizerResult]:
        cls = type(self)
        compiled = cls.__dict__.get("_compiled")
        if compiled is None:
            compiled = [(p.score, re.compile(p.regex, self.FLAGS)) for p in self.patterns]  # type: ignore[attr-defined]
            cls._compiled = compiled
        best: dict[tuple[int, int], float] = {}
        for score, rx in compiled:
            group = "pii" if "pii" in rx.groupindex else 0
            for m in rx.finditer(text):
                start, end = m.span(group)
                if start == end:
                    continue
                value = text[start:end]
                s = score
                valid = self.validate_result(value)  # type: ignore[attr-defined]
                if valid is not None:
                    s = 1.0 if valid else 0.0
                if s > 0 and self.invalidate_result(value):  # type: ignore[attr-defined]
                    s = 0.0
                if s > best.get((start, end), 0.0):
                    best[(start, end)] = s
        return [RecognizerResult(self.ENTITY, a, b, s) for (a, b), s in best.items()]


class FastPatternRecognizer(Prechecked, FastMatch, PatternRecognizer):
    """A Presidio ``PatternRecognizer`` declared by class constants."""

    ENTITY: ClassVar[str]
    PATTERNS: ClassVar[list[Pattern]]
    CONTEXT: ClassVar[list[str]] = []

    def __init__(self) -> None:
        super().__init__(
            supported_entity=self.ENTITY,
            patterns=self.PATTERNS,
            context=self.CONTEXT,
            name=type(self).__name__,
        )


def luhn_ok(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = ord(ch) - 48
        if i % 2:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return total % 10 == 0
