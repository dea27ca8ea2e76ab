"""IP addresses: Presidio's recognizer with an IPv4 pattern that also works next to CJK text."""

from __future__ import annotations

from presidio_analyzer import Pattern
from presidio_analyzer.predefined_recognizers import IpRecognizer as PresidioIp

from privacy.pii.recognizers.base import Prechecked

_OCTET = r"(?:25[0-5]|2[0-4][0-9]|[01]?[0-9][0-9]?)"
_IPV4 = Pattern(
    "IPv4",
    r"(?<![0-9A-Za-z.])" + _OCTET + r"(?:\." + _OCTET + r"){3}(?:/(?:[0-2]?\d|3[0-2]))?(?![0-9A-Za-z]|\.\d)",
    0.6,
)


class IpRecognizer(Prechecked, PresidioIp):
    ENTITY = "IP_ADDRESS"
    PRECHECK = r"\d\.\d|[0-9A-Fa-f]?::?[0-9A-Fa-f]{1,4}:"
    PATTERNS = [_IPV4, *(p for p in PresidioIp.PATTERNS if p.name not in ("IPv4", "IPv6_unspecified"))]

    def __init__(self) -> None:
        super().__init__(patterns=self.PATTERNS, name="IpRecognizer")

    def find(self, text: str):
        return self.analyze(text, [self.ENTITY])
