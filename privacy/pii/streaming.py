"""Streaming restore and redaction: hold back only the shortest tail that could still change.

``StreamRewriter.push(text)`` returns what can be emitted now; ``flush()``
returns the rest at the end of the stream. Two reasons to hold text:

- a token (``<PERSON_1>``) may be split across chunks: hold from the last ``<``
  while the tail can still become a token (at most ``TOKEN_MAX_LEN`` chars);
- with response redaction on, PII may be split: hold the trailing run of
  characters that can belong to an identifier (digits, letters, ``@.+-``),
  plus the run before it when the two could be one value (``+86 138`` +
  `` 1234 5678``, ``John`` + `` Smith``), plus any finding touching the tail,
  plus the last few Han characters when they may start a Chinese name.

Prose that cannot be the start of a token or PII is emitted at once, so
time-to-first-token stays close to the upstream's.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from privacy.pii.findings import Finding
from privacy.pii.operators import TOKEN_MAX_LEN, RedactionSession
from privacy.pii.recognizers.cn.person_name import COMPOUND_SURNAMES, SINGLE_SURNAMES

_TOKEN_PREFIX = re.compile(r"<[A-Za-z0-9_]*$")
_RUN = re.compile(r"[0-9A-Za-zÀ-ž@._%+\-#()'’]*$")
_SEP = re.compile(r"[ \t\-]{1,3}$")
_HAN_TAIL = re.compile(r"[\u4e00-\u9fff]{1,4}$")
_SURNAME_CHARS = frozenset(SINGLE_SURNAMES + "".join(COMPOUND_SURNAMES))
MAX_HOLD = 96
CONTEXT_CHARS = 40


def token_cut(buf: str) -> int:
    """Index from which ``buf`` may still be the start of a token."""
    i = buf.rfind("<", max(0, len(buf) - TOKEN_MAX_LEN))
    if i >= 0 and _TOKEN_PREFIX.match(buf, i) and ">" not in buf[i:]:
        return i
    return len(buf)


def _joinable(prev: str, cur: str) -> bool:
    if not prev:
        return False
    digitish = any(c.isdigit() for c in prev) or prev.startswith("+")
    if digitish and (not cur or cur[0].isdigit() or cur[0] in "(+"):
        return True
    return prev[0].isupper() and (not cur or cur[0].isupper())


def pii_cut(buf: str) -> int:
    """Index from which ``buf`` may still be part of a PII value continued by the next chunk."""
    n = len(buf)
    m = _RUN.search(buf)
    cut = m.start() if m else n
    cur = buf[cut:n]
    # Extend over previous runs that may form one value with the current one.
    while n - cut < MAX_HOLD:
        sep = _SEP.search(buf, 0, cut)
        if not sep:
            break
        pm = _RUN.search(buf, 0, sep.start())
        prev = buf[pm.start() : sep.start()] if pm else ""
        if not _joinable(prev, cur):
            break
        cut, cur = pm.start(), prev  # type: ignore[union-attr]
    h = _HAN_TAIL.search(buf, 0, cut)
    if h and any(c in _SURNAME_CHARS for c in h.group()):
        cut = h.start() + next(i for i, c in enumerate(h.group()) if c in _SURNAME_CHARS)
    return max(cut, n - MAX_HOLD)


class StreamRewriter:
    """Rewrite one stream of text: redact PII the model produced, then restore pseudonyms."""

    def __init__(
        self,
        session: RedactionSession,
        analyze: Callable[[str], list[Finding]] | None = None,
        restore: bool = True,
        json_escape: bool = False,
    ) -> None:
        self.session = session
        self.analyze = analyze
        self.restore = restore
        self.json_escape = json_escape
        self.buf = ""
        self.ctx = ""  # the last raw characters already emitted: context cues for the next analysis

    def push(self, text: str) -> str:
        self.buf += text
        return self._emit(final=False)

    def flush(self) -> str:
        return self._emit(final=True)

    def _emit(self, final: bool) -> str:
        buf = self.buf
        if not buf:
            return ""
        cut = len(buf)
        findings: list[Finding] = []
        if self.analyze is not None:
            k = len(self.ctx)
            findings = [
                Finding(f.entity_type, f.start - k, f.end - k, f.score, f.recognizer)
                for f in self.analyze(self.ctx + buf)
                if f.start >= k
            ]
            if not final:
                cut = pii_cut(buf)
                for f in findings:
                    if f.end >= cut and f.start < cut:
                        cut = f.start
        if self.restore and not final:
            cut = min(cut, token_cut(buf))
        head = buf[:cut]
        self.buf = buf[cut:]
        self.ctx = (self.ctx + head)[-CONTEXT_CHARS:]
        if self.analyze is not None:
            head = self.session.apply(head, [f for f in findings if f.end <= cut], response=True)
        if self.restore:
            head = self.session.restore(head, self.json_escape)
        return head
