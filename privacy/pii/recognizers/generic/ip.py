"""IP addresses: Presidio's recognizer with an IPv4 pattern that also works next to CJK text."""

from __future__ import annotations

import re

from presidio_analyzer import Pattern, RecognizerResult
from presidio_analyzer.predefined_recognizers import IpRecognizer as PresidioIp

from privacy.pii.recognizers.base import FastMatch, Prechecked

_OCTET = r"(?:25[0-5]|2[0-4][0-9]|[01]?[0-9][0-9]?)"
_IPV4 = Pattern(
    "IPv4",
    r"(?<![0-9A-Za-z.])" + _OCTET + r"(?:\." + _OCTET + r"){3}(?:/(?:[0-2]?\d|3[0-2]))?(?![0-9A-Za-z]|\.\d)",
    0.6,
)


_V6_HINT = re.compile(r"(?:[0-9A-Fa-f]{1,4}:){3}")


class CgIpRecognizer(Prechecked, FastMatch, PresidioIp):
    ENTITY = "IP_ADDRESS"
    PRECHECK = r"\d\.\d|[0-9A-Fa-f]?::?[0-9A-Fa-f]{1,4}:"
    # Presidio's IPv6 patterns with \w in the look-arounds narrowed to ASCII (CJK is \w too).
    PATTERNS = [
        _IPV4,
        *(
            Pattern(
                p.name,
                p.regex.replace(r"(?<![\w:])", r"(?<![0-9A-Za-z:])").replace(r"(?![\w:]", r"(?![0-9A-Za-z:]"),
                p.score,
            )
            for p in PresidioIp.PATTERNS
            if p.name not in ("IPv4", "IPv6_unspecified")
        ),
    ]

    def __init__(self) -> None:
        super().__init__(patterns=self.PATTERNS, name="CgIpRecognizer")
        self._v4 = _V4Only()

    def invalidate_result(self, pattern_text: str) -> bool:
        # Unspecified, loopback and broadcast addresses identify no one ("listening on 0.0.0.0:8080").
        return pattern_text.startswith(("0.0.0.0", "127.", "255.255.255.255")) or pattern_text in (
            "::",
            "::1",
        )

    def find(self, text: str) -> list[RecognizerResult]:
        # Without '::' or three hex groups only IPv4 can match: skip the long IPv6 alternations.
        return super().find(text) if ("::" in text or _V6_HINT.search(text)) else self._v4.find(text)


class _V4Only(FastMatch, PresidioIp):
    ENTITY = "IP_ADDRESS"
    invalidate_result = CgIpRecognizer.invalidate_result

    def __init__(self) -> None:
        super().__init__(patterns=[_IPV4], name="CgIpRecognizer")
