"""Streaming: no partial token or PII value is ever emitted; prose is not held."""

from __future__ import annotations

import random

from privacy.pii.operators import RedactionSession
from privacy.pii.settings import PIISettings
from privacy.pii.streaming import StreamRewriter, pii_cut, token_cut


def test_token_cut_holds_only_possible_tokens():
    assert token_cut("Hello <PERS") == 6
    assert token_cut("Hello <PERSON_1> and") == len("Hello <PERSON_1> and")
    assert token_cut("a < b") == len("a < b")
    assert token_cut("x <") == 2


def test_pii_cut_holds_joinable_runs():
    assert "+86 138" in "call +86 138"[pii_cut("call +86 138") :]
    assert "John" in "said John"[pii_cut("said John") :]
    assert pii_cut("nothing to hold here. ") == len("nothing to hold here. ")
    buf = "我的名字是王"
    assert buf[pii_cut(buf) :] == "王"


def _run(rewriter: StreamRewriter, pieces: list[str]) -> list[str]:
    return [rewriter.push(p) for p in pieces] + [rewriter.flush()]


def test_restore_across_every_split(pattern_engine):
    s = PIISettings(default_operator="pseudonymize")
    session = RedactionSession(s)
    text = "mail x@example.com now"
    red = session.apply(text, pattern_engine.analyze(text))
    reply = f"I wrote to {red.split()[1]} as asked."
    for cut in range(1, len(reply)):
        w = StreamRewriter(session, None, restore=True)
        out = _run(w, [reply[:cut], reply[cut:]])
        assert "".join(out) == "I wrote to x@example.com as asked."
        assert all("<EMAIL" not in o or o.endswith(">") or ">" in o for o in out)


def test_redaction_across_random_splits(engine):
    s = PIISettings()
    reply = "Sure. Call +86 138 1234 5678 or write to li.na@example.com, then ask Maria Gonzalez. 我叫王小明，谢谢。"
    rng = random.Random(7)
    for _ in range(25):
        cuts = sorted(rng.sample(range(1, len(reply)), 6))
        pieces = [reply[a:b] for a, b in zip([0, *cuts], [*cuts, len(reply)], strict=True)]
        w = StreamRewriter(RedactionSession(s), engine.analyze, restore=True)
        out = _run(w, pieces)
        joined = "".join(out)
        for secret in ("138", "5678", "li.na", "Maria", "Gonzalez", "王小明"):
            assert secret not in joined, (pieces, out)
        assert joined.startswith("Sure. Call <")


def test_prose_is_not_held(engine):
    w = StreamRewriter(RedactionSession(PIISettings()), engine.analyze, restore=True)
    assert w.push("the answer is simple: ") == "the answer is simple: "
    assert w.push("just restart it") == "just restart "
