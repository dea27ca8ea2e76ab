"""Stop sequences over text, for whole answers and for streams.

OpenAI's ``stop`` ends the answer *before* the stop sequence. While streaming,
a piece of text may end with the beginning of a stop sequence ("...the en" when
the stop is "end"), so :class:`StopFilter` holds back the longest suffix that
could still grow into one and releases it once it cannot.
"""

from __future__ import annotations


def cut_at_stop(text: str, stops: list[str]) -> tuple[str, bool]:
    """Return ``(text before the first stop sequence, whether one was found)``."""
    first = min((i for i in (text.find(s) for s in stops) if i >= 0), default=-1)
    return (text[:first], True) if first >= 0 else (text, False)


class StopFilter:
    """Feed text pieces in; get back what is safe to send."""

    def __init__(self, stops: list[str]):
        self.stops = [s for s in stops if s]
        self.pending = ""
        self.stopped = False

    def _held_suffix(self, text: str) -> int:
        """Length of the longest suffix of ``text`` that is a proper prefix of a stop."""
        best = 0
        for stop in self.stops:
            for n in range(min(len(stop) - 1, len(text)), best, -1):
                if text.endswith(stop[:n]):
                    best = n
                    break
        return best

    def feed(self, piece: str) -> str:
        if self.stopped:
            return ""
        text = self.pending + piece
        before, found = cut_at_stop(text, self.stops)
        if found:
            self.stopped, self.pending = True, ""
            return before
        hold = self._held_suffix(text)
        self.pending = text[len(text) - hold :] if hold else ""
        return text[: len(text) - hold]

    def flush(self) -> str:
        """The stream ended without a stop: release what was held back."""
        out, self.pending = ("" if self.stopped else self.pending), ""
        return out
