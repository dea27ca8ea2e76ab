"""PIIEngine: the analyzer. Start-up loads everything; analysis does no per-call setup.

Per text: every pattern recognizer whose cheap precheck passes runs (Presidio
``PatternRecognizer`` logic, compiled once), context words just before a match
raise its score, deny-list terms are added, allow-list terms dropped, overlaps
resolved. Names: the Chinese surname rule always; the gated spaCy NER unless
the engine or the tenant is pattern-only. ``analyze_many`` batches the NER of
all texts of one request into one ``nlp.pipe`` call.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from presidio_analyzer import PatternRecognizer, RecognizerResult

from privacy.pii.context import analysis_copy, map_span, ref_label_before, strip_invisible
from privacy.pii.findings import Finding, resolve_overlaps
from privacy.pii.ner import GatedNer
from privacy.pii.recognizers import Recognizer, build
from privacy.pii.settings import PIISettings

CONTEXT_WINDOW = 40
CONTEXT_BOOST = 0.35
CONTEXT_MIN_SCORE = 0.4
CACHE_MAX_TEXT = 65_536
CERTAIN = 0.85  # a validated checksum or a strong pattern
REFERENCE_SUPPRESSED = frozenset({"CREDIT_CARD", "CN_BANK_CARD"})


class TextTooLarge(ValueError):
    """The text is over the configured limit; the message carries sizes, never content."""


@dataclass(slots=True)
class _TenantProfile:
    recognizers: list[Recognizer]
    deny: list[PatternRecognizer]
    allow: frozenset[str]
    use_ner: bool
    entities: frozenset[str]


@dataclass
class PIIEngine:
    settings: PIISettings = field(default_factory=PIISettings)
    ner: GatedNer | None = None
    _profiles: dict[str, _TenantProfile] = field(default_factory=dict)
    _started: bool = False
    _cache: OrderedDict[bytes, tuple[Finding, ...]] | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def start(self, nlp: Any = None) -> None:
        """Load the NER model (unless pattern-only) and build recognizers for every tenant."""
        s = self.settings
        if s.ner.enabled and "PERSON" in s.entities:
            self.ner = GatedNer(s.ner.model, s.ner.window_chars, s.ner.batch_size)
            self.ner.load(nlp)
        self._cache = OrderedDict() if s.cache_entries > 0 else None
        self._profiles = {"*": self._profile(None)}
        for name in s.tenants:
            self._profiles[name] = self._profile(name)
        self._started = True

    @property
    def started(self) -> bool:
        return self._started

    def _profile(self, tenant: str | None) -> _TenantProfile:
        s = self.settings
        t = s.tenant(tenant) if tenant else None
        entities = list(t.entities) if t and t.entities is not None else list(s.entities)
        deny_terms: dict[str, list[str]] = {k: list(v) for k, v in s.deny.items()}
        if t:
            for k, v in t.deny.items():
                deny_terms.setdefault(k, []).extend(v)
        deny = [
            PatternRecognizer(supported_entity=et, deny_list=terms, name=f"deny:{et}")
            for et, terms in deny_terms.items()
            if terms
        ]
        allow = frozenset(a.casefold() for a in [*s.allow, *(t.allow if t else [])])
        use_ner = self.ner is not None and "PERSON" in entities and not (t and t.pattern_only)
        return _TenantProfile(build(entities, s), deny, allow, use_ner, frozenset(entities))

    def profile(self, tenant: str | None) -> _TenantProfile:
        if not self._started:
            raise RuntimeError("PIIEngine.start() was not called")
        return self._profiles.get(tenant or "*") or self._profiles["*"]

    def analyze(self, text: str, tenant: str | None = None) -> list[Finding]:
        return self.analyze_many([text], tenant)[0]

    def analyze_many(
        self, texts: Sequence[str], tenant: str | None = None, *, cache: bool = True
    ) -> list[list[Finding]]:
        """Findings per text, each list ordered by start and free of overlaps.

        Chat clients resend the whole conversation on every turn, so results are cached
        per (tenant, text digest): only new messages are analysed. The cache holds
        BLAKE2 digests and offsets, never text. ``cache=False`` for one-off texts (stream buffers).
        """
        total = sum(len(t) for t in texts)
        if total > self.settings.max_chars:
            raise TextTooLarge(
                f"text of {total} characters is over the PII limit of {self.settings.max_chars}"
            )
        prof = self.profile(tenant)
        out: list[list[Finding] | None] = [None] * len(texts)
        keys: list[bytes | None] = [None] * len(texts)
        todo: list[int] = []
        cache = self._cache if cache else None
        for i, t in enumerate(texts):
            if cache is not None and len(t) <= CACHE_MAX_TEXT:
                key = (
                    hashlib.blake2b(
                        t.encode("utf-8", "surrogatepass"), digest_size=16, person=b"cg-pii-cache"
                    ).digest()
                    + (tenant or "*").encode()
                )
                keys[i] = key
                with self._lock:
                    hit = cache.get(key)
                    if hit is not None:
                        cache.move_to_end(key)
                if hit is not None:
                    out[i] = list(hit)
                    continue
            todo.append(i)
        if todo:
            fresh = self._analyze_uncached([texts[i] for i in todo], prof)
            for i, found in zip(todo, fresh, strict=True):
                out[i] = found
                key = keys[i]
                if cache is not None and key is not None:
                    with self._lock:  # the gateway may analyse big bodies on a worker thread
                        cache[key] = tuple(found)
                        if len(cache) > self.settings.cache_entries:
                            cache.popitem(last=False)
        return out  # type: ignore[return-value]

    def _analyze_uncached(self, texts: Sequence[str], prof: _TenantProfile) -> list[list[Finding]]:
        # Recognizers see a same-length copy: full-width digits as ASCII, invisible characters as
        # spaces (138\u200b1234\u200b5678 is a phone number). Offsets stay those of the original.
        originals = texts
        stripped = [strip_invisible(t) for t in texts]
        texts = [analysis_copy(t) for t, _ in stripped]
        raw: list[list[RecognizerResult]] = [self._patterns(t, prof) for t in texts]
        if prof.use_ner and self.ner is not None:
            covered = [
                [(r.start, r.end) for r in found if r.score >= CERTAIN and r.entity_type != "PERSON"]
                for found in raw
            ]
            for i, extra in enumerate(self.ner.analyze_many(texts, covered)):
                raw[i].extend(extra)
        out = []
        threshold = self.settings.score_threshold
        for text, results in zip(texts, raw, strict=True):
            found = [
                Finding(r.entity_type, r.start, r.end, r.score, _recognizer_name(r))
                for r in results
                if r.score >= threshold
                and r.end > r.start
                and text[r.start : r.end].strip().casefold() not in prof.allow
            ]
            index = stripped[len(out)][1]
            if index is not None:  # back to offsets of the original text (invisible characters kept)
                found = [
                    Finding(f.entity_type, *map_span(index, f.start, f.end), f.score, f.recognizer)
                    for f in found
                ]
            out.append(resolve_overlaps(found))
        del originals
        return out

    def _patterns(self, text: str, prof: _TenantProfile) -> list[RecognizerResult]:
        results: list[RecognizerResult] = []
        if not text:
            return results
        lowered: str | None = None
        for rec in prof.recognizers:
            if not rec.could_match(text):
                continue
            if getattr(rec, "TAKES_CLAIMED", False):  # runs last; skips what is already certain
                found = rec.find(text, [(r.start, r.end) for r in results if r.score >= CERTAIN])  # type: ignore[call-arg]
            else:
                found = rec.find(text)
            if found and rec.ENTITY in REFERENCE_SUPPRESSED:
                # A number right after an order/invoice/ticket/tracking/waybill label is that
                # reference, not a card, unless a card cue is nearer to it than the label.
                if lowered is None:
                    lowered = text.lower()
                found = [r for r in found if not ref_label_before(lowered, r.start)]
            if found and rec.CONTEXT:
                if lowered is None:
                    lowered = text.lower()
                for r in found:
                    window = lowered[max(0, r.start - CONTEXT_WINDOW) : r.start]
                    if any(w in window for w in rec.CONTEXT):
                        r.score = max(min(1.0, r.score + CONTEXT_BOOST), CONTEXT_MIN_SCORE)
            for r in found:
                r.recognition_metadata = {"recognizer_name": rec.name}
            results.extend(found)
        for deny in prof.deny:
            for r in deny.analyze(text, deny.supported_entities):
                r.recognition_metadata = {"recognizer_name": deny.name}
                results.append(r)
        return results


def _recognizer_name(r: RecognizerResult) -> str:
    meta = r.recognition_metadata or {}
    return str(meta.get("recognizer_name", "ner"))
