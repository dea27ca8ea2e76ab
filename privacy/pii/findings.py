"""What the engine reports: an entity type, a span and a score. Never logged with the text."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(slots=True, frozen=True)
class Finding:
    entity_type: str
    start: int
    end: int
    score: float
    recognizer: str = ""

    def overlaps(self, other: Finding) -> bool:
        return self.start < other.end and other.start < self.end


def resolve_overlaps(findings: list[Finding]) -> list[Finding]:
    """Keep the best of overlapping findings (higher score, then longer span), ordered by start.

    Why greedy by score: a Luhn-validated card (score 1.0) must win over a phone
    number the phone library sees inside the same digits.
    """
    ranked = sorted(findings, key=lambda f: (-f.score, -(f.end - f.start), f.start))
    kept: list[Finding] = []
    for f in ranked:
        if not any(f.overlaps(k) for k in kept):
            kept.append(f)
    kept.sort(key=lambda f: f.start)
    return kept
