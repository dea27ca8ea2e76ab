"""Names with spaCy NER, run only where a name can be.

Running the whole spaCy pipeline over every request is what makes stock
Presidio slow (about 80-98 ms per KB with the small model). A person name in
English text starts with a capital letter, so we (1) find capitalised words
that are not stop words or all-caps acronyms, (2) cut a window of a few words
around each, merged when they overlap, and (3) run only the ``ner`` component
(its own tok2vec; tagger, parser, lemmatizer excluded) over those windows with
``nlp.pipe``. The NER's receptive field is a few tokens, so a window of ~48
characters each side gives the same entities as the full text at a fraction
of the tokens. Texts of one request are batched into one ``pipe`` call.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from presidio_analyzer import RecognizerResult

# Capitalised word: ASCII or Latin-1/Latin Extended-A capital, then at least one lower-case letter.
_CAP_WORD = re.compile(r"(?<![\w@./\\-])[A-ZÀ-ÖØ-ÞĀ-Ž][a-zß-öø-ÿā-ž'’\-]+")
# Words that start sentences or are capitalised without being names.
_COMMON = frozenset(
    """
    hi hello hey dear thanks thank please could would can will shall should may might must do does did is are was
    were be been have has had i you he she it we they my your his her its our their this that these those there here
    what when where which who whom whose why how if then else so but and or nor not no yes ok okay also just only
    the a an in on at to for from by with about of as into over after before during since until while because
    write summarize summarise translate explain draft send reply call email check review update create add remove
    fix find list show tell give make use run deploy build test help let see note attached regards best sincerely
    cheers kind today tomorrow yesterday monday tuesday wednesday thursday friday saturday sunday january february
    march april june july august september october november december meeting report project team customer client
    order invoice ticket error warning version server service user admin support sales account payment subject
    re fw fwd attn cc bcc
    """.split()
)


def candidate_spans(text: str) -> list[tuple[int, int]]:
    """Spans of capitalised words that could start or be part of a name."""
    out = []
    for m in _CAP_WORD.finditer(text):
        if m.group().lower() not in _COMMON:
            out.append(m.span())
    return out


MAX_WINDOW = 2000
_POSSESSIVE = ("'s", "’s")


def windows(text: str, spans: Sequence[tuple[int, int]], width: int) -> list[tuple[int, int]]:
    """Merge [start-width, end+width] around each span, snapped outward to whitespace.

    Merged windows stop growing at MAX_WINDOW characters (the next one overlaps it
    instead), so a long capitalised text never becomes one giant spaCy doc.
    """
    merged: list[list[int]] = []
    n = len(text)
    for s, e in spans:
        ws = max(0, s - width)
        we = min(n, e + width)
        if ws > 0:
            sp = text.rfind(" ", 0, ws)
            ws = sp + 1 if sp >= 0 and ws - sp < 24 else ws
        if we < n:
            sp = text.find(" ", we)
            we = sp if 0 <= sp - we < 24 else we
        if merged and ws <= merged[-1][1] and we - merged[-1][0] <= MAX_WINDOW:
            merged[-1][1] = max(merged[-1][1], we)
        else:
            merged.append([ws, we])
    return [(a, b) for a, b in merged]


class GatedNer:
    """spaCy NER over candidate windows only. ``load()`` is the explicit start-up step."""

    ENTITY = "PERSON"
    LABELS = {"PERSON": "PERSON", "PER": "PERSON"}
    SCORE = 0.85

    def __init__(self, model: str, window_chars: int = 48, batch_size: int = 64) -> None:
        self.model = model
        self.window_chars = window_chars
        self.batch_size = batch_size
        self.nlp: Any = None

    def load(self, nlp: Any = None) -> None:
        """Load the spaCy model with only what NER needs (or adopt an already loaded one)."""
        if nlp is None:
            from privacy.pii.models import load_ner_pipeline

            nlp = load_ner_pipeline(self.model)
        self.nlp = nlp

    def analyze_many(self, texts: Sequence[str]) -> list[list[RecognizerResult]]:
        if self.nlp is None:
            raise RuntimeError("GatedNer.load() was not called")
        jobs: list[tuple[int, int, int]] = []  # (text index, window start, window end)
        for i, text in enumerate(texts):
            spans = candidate_spans(text)
            if spans:
                jobs.extend((i, a, b) for a, b in windows(text, spans, self.window_chars))
        results: list[list[RecognizerResult]] = [[] for _ in texts]
        if not jobs:
            return results
        docs = self.nlp.pipe((texts[i][a:b] for i, a, b in jobs), batch_size=self.batch_size)
        for (i, a, _b), doc in zip(jobs, docs, strict=True):
            for ent in doc.ents:
                label = self.LABELS.get(ent.label_)
                if label is None:
                    continue
                end = ent.end_char
                if ent.text.endswith(_POSSESSIVE):  # "Maria Gonzalez's": the name is without 's
                    end -= 2
                results[i].append(RecognizerResult(label, a + ent.start_char, a + end, self.SCORE))
        return results
