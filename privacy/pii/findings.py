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


def _rank(f: Finding) -> tuple[int, float, int, int]:
    # Structured identifiers (checked patterns) outrank names: a name model's guess that
    # overlaps a phone number or an IP address must not leave part of the number in clear.
    return (f.entity_type == "PERSON", -f.score, -(f.end - f.start), f.start)


def resolve_overlaps(findings: list[Finding]) -> list[Finding]:
    """Keep the best of overlapping findings (identifiers before names, then higher score, then
    longer span), ordered by start.

    Why greedy by score: a Luhn-validated card (score 1.0) must win over a phone
    number the phone library sees inside the same digits. Findings are split into
    clusters of transitively overlapping spans first, so a 1 MB text with thousands
    of findings costs O(n log n), not O(n^2).
    """
    if len(findings) < 2:
        return list(findings)
    ordered = sorted(findings, key=lambda f: (f.start, f.end))
    kept: list[Finding] = []
    cluster: list[Finding] = [ordered[0]]
    reach = ordered[0].end
    for f in ordered[1:]:
        if f.start < reach:
            cluster.append(f)
            reach = max(reach, f.end)
            continue
        kept.extend(_best(cluster))
        cluster, reach = [f], f.end
    kept.extend(_best(cluster))
    kept.sort(key=lambda f: f.start)
    return kept


def _best(cluster: list[Finding]) -> list[Finding]:
    if len(cluster) == 1:
        return cluster
    if all(f.entity_type == cluster[0].entity_type for f in cluster):
        # Same type (a name from the cue rule and a shorter one from the model): the union,
        # so that no part of the value is left in clear.
        best = max(cluster, key=lambda f: f.score)
        return [
            Finding(
                best.entity_type,
                min(f.start for f in cluster),
                max(f.end for f in cluster),
                best.score,
                best.recognizer,
            )
        ]
    chosen: list[Finding] = []
    for f in sorted(cluster, key=_rank):
        if not any(f.overlaps(k) for k in chosen):
            chosen.append(f)
    return chosen
