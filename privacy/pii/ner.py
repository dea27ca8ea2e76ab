"""Names with spaCy NER, run only where a name can be.

Running the whole spaCy pipeline over every request is what makes stock
Presidio slow (about 45-100 ms per KB with the small model on this machine).
Here:

1. A rule first: two or three capitalised words after a cue ("Dear", "I'm",
   "customer", "contact", "and" ...) are a name, no model needed.
2. The remaining capitalised words that are not common words or acronyms are
   candidates; a window of ~20 characters around each is cut, overlapping
   windows merged, and all windows of a text joined into one doc.
3. Only the ``ner`` component runs (its own tok2vec; tagger, parser,
   lemmatizer excluded at load); entities are read from ``doc.to_array``.
   The NER's receptive field is a few tokens, so windows give the same
   entities as the full text (measured: equal recall) at a fraction of the tokens.
4. Person-shaped ORG/FAC/PRODUCT entities (the small model mislabels many
   unfamiliar names) become PERSON; spans grow over adjacent capitalised words
   the model left out.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from collections.abc import Sequence
from typing import Any

from presidio_analyzer import RecognizerResult
from spacy.attrs import ENT_IOB, ENT_TYPE, IDX, LENGTH
from spacy.lang.de.stop_words import STOP_WORDS as _DE_STOP

# German capitalises every noun: in German text the model's single capitalised words and phrases
# with function words ("Vielen Dank", "Ihre Bestellung", "Der Techniker") are not names.
_DE_HINT = re.compile(
    r"(?<![A-Za-z])(?:und|(?i:der|die|das|bitte|vielen)|nicht|Sie|Ihre?|Ihnen|ist|wird|für|mit|auf|sehr|Grüßen|zwischen|kommt|am)(?![A-Za-z])"
)
_DE_FUNCTION = frozenset(w for w in _DE_STOP if w not in {"von", "van", "de", "der", "den", "zu"}) | {
    "vielen",
    "dank",
    "geehrte",
    "geehrter",
    "damen",
    "herren",
}

# Capitalised word: ASCII or Latin-1/Latin Extended-A capital, then at least one lower-case letter.
_CAP_WORD = re.compile(r"(?<![0-9A-Za-zß-öø-ÿā-žƀ-ɏḀ-ỿ_@./\\-])[A-ZÀ-ÖØ-ÞĀ-ŽḀ-Ỿ][a-zß-öø-ÿā-žƀ-ɏḀ-ỿ'’\-]+")
# CJK characters and punctuation: blanked (same length) in the copy the English model reads, so
# "客户Michael Chen反馈" reaches it as "  Michael Chen  " (its tokenizer does not split Han from Latin).
_CJK = re.compile(r"[\u3000-\u303f\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uff00-\uffef]+")


def _blank_cjk(text: str) -> str:
    return _CJK.sub(lambda m: " " * len(m.group()), text) if _CJK.search(text) else text


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
    re fw fwd attn cc bcc contact ask tell forward escalate notify invite meet ping thx i'm i’m i've i'll i'd
    compose debug wire mention describe generate rewrite refactor optimize optimise convert analyze analyse
    classify extract transfer pay book schedule remind cancel confirm verify approve reject assign implement
    design plan prepare outline suggest recommend compare calculate estimate correct improve proofread format
    answer respond ignore act pretend imagine consider assume given using note important urgent hello goodbye
    english french german spanish italian chinese japanese korean russian portuguese dutch arabic hindi
    python java javascript typescript rust go sql json yaml html css linux windows docker kubernetes
    step first second third next finally also however therefore example question answer summary context
    input output result results issue issues bug feature request response data file files table query
    sure certainly absolutely great understood here here's below above based unfortunately apologies sorry
    done good well yes no okay got let's that's it's there's what's i'll you're we're they're however overall
    status owner priority subject tel fax mobile cell phone email e-mail mail name address date time from to
    reply forwarded message transcript caller agent visitor guest note notes signature ref reference
    requester assignee assigned reporter author sender recipient
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
_SEP = "\n\n"
DOC_CHARS = 20_000
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
            ws = sp + 1 if sp >= 0 and ws - sp < 24 else (0 if sp < 0 and ws < 24 else ws)
        if we < n:
            sp = text.find(" ", we)
            we = sp if 0 <= sp - we < 24 else we
        if merged and ws <= merged[-1][1] and we - merged[-1][0] <= MAX_WINDOW:
            merged[-1][1] = max(merged[-1][1], we)
        else:
            merged.append([ws, we])
    return [(a, b) for a, b in merged]


_LOWER = "a-zß-öø-ÿā-žƀ-ɏḀ-ỿ'’"
_NAME_WORD = rf"(?:[A-ZÀ-ÖØ-ÞĀ-ŽḀ-Ỿ]['’])?[A-ZÀ-ÖØ-ÞĀ-ŽḀ-Ỿ][{_LOWER}]+(?:[A-Z][{_LOWER}]+)?(?:-[A-ZÀ-ÖØ-ÞĀ-ŽḀ-Ỿ][{_LOWER}]+)?"
_INITIAL = r"[A-Z]\."  # a middle initial: "Dağhan A. Zhu"
_DE_NOUN_ENDINGS = (
    "ung",
    "heit",
    "keit",
    "schaft",
    "zeit",
    "nummer",
    "schrift",
    "stelle",
    "kosten",
    "vertrag",
    "dienst",
    "teil",
    "adresse",
    "anschrift",
    "zentrale",
    "abteilung",
    "leistung",
    "lieferung",
    "sendung",
    "datum",
    "betrag",
    "konto",
    "gebühr",
    "service",
    "mitarbeiter",
    "filiale",
)
_PARTICLE_WORDS = frozenset(
    "van von de der den da del della di du la le dos das bin al auch st. ben el ní ó mac".split()
)
_PARTICLE = r"(?:van|von|de|der|den|da|del|della|di|du|la|le|dos|das|bin|al|auch|st\.|St\.|ben|el|ní|ó|mac|van den|van der|de la)"
_PERSON_SHAPE = re.compile(
    rf"{_NAME_WORD}(?:[ \t]+(?:{_PARTICLE}[ \t]+|{_INITIAL}[ \t]+)?{_NAME_WORD}){{1,2}}"
)
# A cue that introduces a person, then two or three capitalised words: a name even when the
# small NER model misses it or calls it an ORG. Written from general English usage.
_CUED_NAME = re.compile(
    r"(?:\b(?i:dear|hi|hello|mr\.?|mrs\.?|ms\.?|dr\.?|prof\.?|i'm|i am|name is|customer|client|patient|"
    r"colleague|contact|call|ask|for|to|with|from|by|and|cc|attn:?|can|could|let|tell|ping|bcc|signed\s+by|"
    r"approved\s+by|assigned\s+to|owner:|agent:|attendees:|spoke\s+(?:with|to)|speaking\s+with|per|met|meet|"
    r"thanks,?|cheers,?|regards,?|sincerely,?|emailed|called|told|escalated\s+to|reassigned\s+to|forwarded\s+to|"
    r"on\s+behalf\s+of|c/o|via|said|says|requester:?|assignee:?|assigned:?|visitor|reporter:?|author:?|"
    r"sender:?|recipient:?|from:|to:|—|--|mr\.?|mrs\.?|miss|interview\s+with)\s+)"
    rf"({_NAME_WORD}(?:[ \t]+(?:{_PARTICLE}[ \t]+|{_INITIAL}[ \t]+)?{_NAME_WORD}){{1,2}})"
)
# A single capitalised word after a greeting and before a comma/line end: "Hey Viktor," "Thanks, Hana!".
_GREETED = re.compile(
    rf"\b(?i:hey|hi|hello|hiya|dear|thanks|thank\s+you|cheers|morning|evening|afternoon|bye|welcome)[ ,]+"
    rf"({_NAME_WORD})(?=\s*(?:[,!:\n]|$))"
)
# Person-shaped words followed by a verb a person does ("Nadia Lindqvist has approved", "... joined").
_BEFORE_VERB = re.compile(
    rf"({_NAME_WORD}(?:[ \t]+(?:{_PARTICLE}[ \t]+|{_INITIAL}[ \t]+)?{_NAME_WORD}){{1,2}})(?=(?:['’]s)?\s+(?:has|had|was|is|will|would|wrote|"
    r"said|says|called|asked|joined|approved|reported|sent|replied|mentioned|confirmed|signed|left|needs|wants|"
    r"and|agreed|requested|emailed|phoned|visited|paid|ordered|complained|says|thinks|can|could|should|from)\b)"
)
# A mention ("@Viktor"), a speaker at the start of a line ("Thảo MacLeod: ..."), the first of a list
# of names ("Femi Yates, Lorena Underwood and ..."), a lone first name before a reporting verb.
_MENTION = re.compile(rf"(?<![\w.])@({_NAME_WORD})")
_SPEAKER = re.compile(
    rf"(?m)^[ \t]*({_NAME_WORD}(?:[ \t]+(?:{_PARTICLE}[ \t]+|{_INITIAL}[ \t]+)?{_NAME_WORD}){{1,2}}):"
)
_LIST_HEAD = re.compile(
    rf"({_NAME_WORD}(?:[ \t]+(?:{_PARTICLE}[ \t]+|{_INITIAL}[ \t]+)?{_NAME_WORD}){{1,2}}),[ \t]+"
    rf"(?={_NAME_WORD}(?:[ \t]+(?:{_PARTICLE}[ \t]+|{_INITIAL}[ \t]+)?{_NAME_WORD}){{1,2}}(?:,|[ \t]+and\b))"
)
_FIRST_BEFORE_VERB = re.compile(
    rf"(?<![\w-])({_NAME_WORD})(?=[ \t]+(?:said|says|asked|wrote|replied|mentioned|"
    r"confirmed|told|thinks|reckons|called|emailed|phoned)\b)"
)
# Latin-script names inside Chinese text: "请把文件发给Nate Ikeda。", "Rania MacLeod的账户".
_HAN_ADJACENT = re.compile(
    rf"(?<=[\u4e00-\u9fff，。：、；！？（])\s?({_NAME_WORD}(?:[ \t]+(?:{_PARTICLE}[ \t]+|{_INITIAL}[ \t]+)?{_NAME_WORD}){{1,2}})"
    rf"|({_NAME_WORD}(?:[ \t]+(?:{_PARTICLE}[ \t]+|{_INITIAL}[ \t]+)?{_NAME_WORD}){{1,2}})(?=\s?[\u4e00-\u9fff，。：、；！？）])"
)
# Words that make a capitalised phrase an organisation, product or place rather than a person.
_NOT_PERSON_WORDS = frozenset(
    """
    inc corp corporation llc ltd gmbh ag sa plc co company group bank capital partners holdings university college
    school institute hospital clinic foundation association agency department ministry office council committee
    street st road rd avenue ave boulevard lane square park city county state river lake mountain island airport
    station center centre team service services cloud platform engine server database cluster api sdk app studio
    labs lab systems solutions technologies software networks media news times journal post review press
    monday tuesday wednesday thursday friday saturday sunday january february march july
    september october november december please thanks thank regards best kind dear meeting notes ticket invoice
    order version build release project program programme initiative operation product plan campaign
    east west north south new old port fort mount lake saint san santa los las el upper lower great little
    route village crescent club ranch shoals roads junction junctions walk bridge loop squares underpass court
    hills hill circles circle cape coves cove mission wells ways burg view views heights gardens harbor harbour
    valley springs falls ridge drive way place terrace parkway highway plaza mall
    manager engineer officer worker scientist technologist librarian designer developer analyst consultant
    director assistant specialist administrator teacher nurse architect accountant editor producer surveyor
    technician therapist planner adviser advisor coordinator executive lead head chief
    wallet store pay support cloud hub mail maps play docs sheets teams assistant home account pro max plus
    premium plan shop market prime music video tv books photos drive connect care desk portal center centre
    tier chat live satisfied resolved closed open pending shipped delivered required signature issue case
    total grand subtotal amount balance due tax fee fees price discount
    """.split()
)
# Labels the small model gives unfamiliar names; places (GPE, LOC) are not relabelled.
_RELABEL = frozenset({"ORG", "FAC", "PRODUCT", "WORK_OF_ART", "NORP"})


_WORD_BEFORE = re.compile(rf"(?:({_NAME_WORD})|{_PARTICLE}) $")
_WORD_AFTER = re.compile(rf" ({_NAME_WORD})(?![\w@])")


def extend_name(text: str, start: int, end: int) -> tuple[int, int]:
    """Grow a name span over adjacent capitalised words the model left out ("Roselinde" + "Holsten")."""
    for _ in range(2):
        m = _WORD_BEFORE.search(text, max(0, start - 40), start)
        if not m or m.end() != start or (m.group(1) and _blocked(m.group(1))):
            break
        start = m.start()
    for _ in range(2):
        m = _WORD_AFTER.match(text, end)
        if not m or _blocked(m.group(1)):
            break
        end = m.end()
    return start, end


_NEXT_LOWER = re.compile(r"[ \t]+[a-z]")


def _lone_sentence_start(text: str, sp: tuple[int, int]) -> bool:
    """A single capitalised word opening a line or sentence, followed by a lower-case word
    ("Tracking number ...", "Log line: ..."): the capital is the sentence's, and a lone first
    name there is rare enough that the model call is not worth it."""
    a, b = sp
    k = a - 1
    while k >= 0 and text[k] in " \t":
        k -= 1
    if k >= 0 and text[k] not in '\n.!?:;"(':
        return False
    return _NEXT_LOWER.match(text, b) is not None


def _blocked(word: str) -> bool:
    w = word.lower()
    return w in _COMMON or w in _NOT_PERSON_WORDS


def _inside(sp: tuple[int, int], spans: list[tuple[int, int]], starts: list[int]) -> bool:
    k = bisect_right(starts, sp[0]) - 1
    return k >= 0 and sp[1] <= spans[k][1]


def person_shaped(span: str) -> bool:
    """Two or three capitalised words, none of them an organisation/place/product word."""
    if not _PERSON_SHAPE.fullmatch(span):
        return False
    return not any(_blocked(w.strip("'’")) for w in span.split())


class GatedNer:
    """spaCy NER over candidate windows only. ``load()`` is the explicit start-up step."""

    ENTITY = "PERSON"
    LABELS = {"PERSON": "PERSON", "PER": "PERSON"}
    SCORE = 0.85
    RELABEL_SCORE = 0.6
    CUE_SCORE = 0.55

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

    def analyze_many(
        self, texts: Sequence[str], exclude: Sequence[Sequence[tuple[int, int]]] | None = None
    ) -> list[list[RecognizerResult]]:
        """PERSON results per text: NER over the joined candidate windows, then the cue rule."""
        if self.nlp is None:
            raise RuntimeError("GatedNer.load() was not called")
        results: list[list[RecognizerResult]] = [[] for _ in texts]
        jobs: list[tuple[int, str, list[tuple[int, int, int]]]] = []
        originals = texts
        texts = [_blank_cjk(t) for t in texts]
        for i, text in enumerate(texts):
            # The rule first: a name introduced by a cue ("Dear", "customer", "I'm") needs no NER.
            cued = []
            for rx in (_CUED_NAME, _BEFORE_VERB, _SPEAKER, _LIST_HEAD):
                for m in rx.finditer(text):
                    if person_shaped(m.group(1)) and m.group(1).split()[0].lower() not in _COMMON:
                        cued.append(m.span(1))
                        results[i].append(RecognizerResult("PERSON", m.start(1), m.end(1), self.CUE_SCORE))
            singles = [*_GREETED.finditer(text), *_MENTION.finditer(text), *_FIRST_BEFORE_VERB.finditer(text)]
            for m in singles:
                if not _blocked(m.group(1).strip("'’")):
                    cued.append(m.span(1))
                    results[i].append(RecognizerResult("PERSON", m.start(1), m.end(1), self.CUE_SCORE))
            if originals[i] is not text:
                for m in _HAN_ADJACENT.finditer(originals[i]):
                    g = 1 if m.group(1) else 2
                    if person_shaped(m.group(g)) and m.group(g).split()[0].lower() not in _COMMON:
                        cued.append(m.span(g))
                        results[i].append(RecognizerResult("PERSON", m.start(g), m.end(g), self.CUE_SCORE))
            cued.sort()
            merged_cued: list[tuple[int, int]] = []
            for a, b in cued:
                if merged_cued and a < merged_cued[-1][1]:
                    merged_cued[-1] = (merged_cued[-1][0], max(b, merged_cued[-1][1]))
                else:
                    merged_cued.append((a, b))
            cued = merged_cued
            spans = candidate_spans(text)
            if exclude is not None and exclude[i] and spans:
                # Words inside what the patterns already found (an address's street and town, an
                # e-mail's name part) need no model: the finding covers them.
                ex = sorted(exclude[i])
                ex_starts = [a for a, _ in ex]
                spans = [sp for sp in spans if not _inside(sp, ex, ex_starts)]
            spans = [sp for sp in spans if not _lone_sentence_start(text, sp)]
            if spans and len(_DE_HINT.findall(text, 0, 4000)) >= 2:
                # German text: a lone capitalised word is a noun (its results are dropped below anyway)
                spans = [
                    sp
                    for k, sp in enumerate(spans)
                    if (k > 0 and sp[0] - spans[k - 1][1] <= 4)
                    or (k + 1 < len(spans) and spans[k + 1][0] - sp[1] <= 4)
                ]
            if cued:  # cued spans are disjoint and in order: bisect, not a scan per candidate
                cued_starts = [a for a, _ in cued]
                spans = [sp for sp in spans if not _inside(sp, cued, cued_starts)]
            if spans:
                # One doc per text: its windows joined by a blank line (per-doc overhead dominates
                # for many small windows). segs: (offset in doc, offset in text, length).
                # Docs are capped at DOC_CHARS (spaCy's memory grows with doc length, and it
                # refuses docs over nlp.max_length).
                pieces: list[str] = []
                segs: list[tuple[int, int, int]] = []
                pos = 0
                for a, b in windows(text, spans, self.window_chars):
                    if pos and pos + (b - a) > DOC_CHARS:
                        jobs.append((i, _SEP.join(pieces), segs))
                        pieces, segs, pos = [], [], 0
                    pieces.append(text[a:b])
                    segs.append((pos, a, b - a))
                    pos += b - a + len(_SEP)
                jobs.append((i, _SEP.join(pieces), segs))
        if jobs:
            docs = self.nlp.pipe((joined for _, joined, _ in jobs), batch_size=self.batch_size)
            for (i, joined, segs), doc in zip(jobs, docs, strict=True):
                self._collect(texts[i], joined, segs, doc, results[i])
        return results

    def _collect(
        self, text: str, joined: str, segs: list[tuple[int, int, int]], doc: Any, out: list[RecognizerResult]
    ) -> None:
        german = len(_DE_HINT.findall(text, 0, 4000)) >= 2
        # doc.ents builds Python Span objects over every token; the arrays are several times cheaper.
        arr = doc.to_array([ENT_IOB, ENT_TYPE, IDX, LENGTH])
        n = len(arr)
        strings = doc.vocab.strings
        seg_starts = [s[0] for s in segs]
        for b in (arr[:, 0] == 3).nonzero()[0]:
            e = b + 1
            while e < n and arr[e, 0] == 1:
                e += 1
            label = strings[int(arr[b, 1])]
            start, end = int(arr[b, 2]), int(arr[e - 1, 2] + arr[e - 1, 3])
            score = self.SCORE
            span = joined[start:end]
            if span != span.strip():  # whitespace tokens (blanked CJK) at an edge are not the name
                start += len(span) - len(span.lstrip())
                end -= len(span) - len(span.rstrip())
                span = joined[start:end]
                if not span:
                    continue
            if span.endswith(_POSSESSIVE):  # "Maria Gonzalez's": the name is without 's
                end -= 2
                span = span[:-2]
            if "\n" in span:  # a name does not run over a line break: keep the line with most of it
                parts = span.split("\n")
                k = max(range(len(parts)), key=lambda j: len(parts[j]))
                start += sum(len(p) + 1 for p in parts[:k])
                span = parts[k]
                end = start + len(span)
            if any(w.strip("'’.,").lower() in _NOT_PERSON_WORDS for w in span.split()):
                continue  # "App Store", "Acme Support": product and organisation words
            words = span.split(" ")
            while words and words[-1].strip("'’.,").lower() in _COMMON:
                words.pop()
            if len(words) < len(span.split(" ")):
                span = " ".join(words)
                end = start + len(span)
            if not span:
                continue
            if german and (
                " " not in span
                or span.split()[0].lower() in _DE_STOP
                or any(w.lower() in _DE_FUNCTION for w in span.split())
            ):
                continue
            if label not in self.LABELS:
                # The small model often calls an unfamiliar name ORG/FAC/PRODUCT: keep it as a
                # person when it has the shape of one (2-3 capitalised words, no org words).
                if span.startswith(("Dear ", "Hi ")):
                    cut = span.index(" ") + 1
                    start, span = start + cut, span[cut:]
                if label not in _RELABEL or not person_shaped(span):
                    continue
                score = self.RELABEL_SCORE
            if all(w.strip("'’.,").lower() in _COMMON for w in span.split()):
                continue  # "Status", "Email", "Tel": field labels the small model calls a person
            if any(c.isdigit() for c in span) or "@" in span:
                continue  # digits or an address are never part of a name: the patterns own those
            # A name the model found is capitalised word by word (particles and initials aside):
            # "Gutschrift erfolgt innerhalb von" is a German sentence, not a person.
            words = span.split(" ")
            lead = 0
            while lead < len(words) and not words[lead][:1].isupper():
                lead += 1
            trail = len(words)
            while trail > lead and not words[trail - 1][:1].isupper():
                trail -= 1
            if lead or trail < len(words):  # "with Karen Vu", "Karen Vu called": trim the lower-case words
                start += sum(len(w) + 1 for w in words[:lead])
                words = words[lead:trail]
                span = " ".join(words)
                end = start + len(span)
            if not words or any(not (w[:1].isupper() or w.lower() in _PARTICLE_WORDS) for w in words):
                continue
            if any(len(w) >= 9 and w.lower().endswith(_DE_NOUN_ENDINGS) for w in span.split()):
                continue  # "Lieferzeit", "Neue Lieferanschrift": German compound nouns, not names
            k = bisect_right(seg_starts, start) - 1
            doc_off, text_off, length = segs[k]
            end = min(end, doc_off + length)
            s0, e0 = extend_name(text, text_off + start - doc_off, text_off + end - doc_off)
            if s0 > 0 and text[s0 - 1].isalpha():
                continue  # the window cut a word: not a name boundary
            if " " not in text[s0:e0] and text.startswith(":", e0) and (s0 == 0 or text[s0 - 1] == "\n"):
                continue  # "Betreff:", "Status:" opening a line: a field label
            out.append(RecognizerResult("PERSON", s0, e0, score))
