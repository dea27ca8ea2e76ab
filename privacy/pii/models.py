"""Load a spaCy model once per process with only what name recognition needs.

Cached by name so the gateway plugin, the CLIs and the tests of one process
share one copy (loading takes seconds; analysis must not).
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

KEEP = frozenset({"ner", "tok2vec", "transformer"})
# Components of the standard pipelines that names do not need (excluded at load: faster than removing).
SKIP = (
    "tagger",
    "parser",
    "attribute_ruler",
    "lemmatizer",
    "senter",
    "morphologizer",
    "trainable_lemmatizer",
)


@lru_cache(maxsize=4)
def load_ner_pipeline(model: str) -> Any:
    """spaCy pipeline with tagger, parser, lemmatizer... excluded; never downloads anything."""
    import spacy

    if not (spacy.util.is_package(model) or spacy.util.ensure_path(model).exists()):
        raise OSError(
            f"spaCy model {model!r} is not installed (pip install it; nothing is downloaded at run time)"
        )
    nlp = spacy.load(model, exclude=list(SKIP))
    drop = [p for p in nlp.pipe_names if p not in KEEP]
    for name in drop:
        nlp.remove_pipe(name)
    # en_core_web_sm's ner has its own tok2vec: drop the shared one when nothing listens to it.
    if "tok2vec" in nlp.pipe_names and not getattr(nlp.get_pipe("tok2vec"), "listening_components", []):
        nlp.remove_pipe("tok2vec")
    if "ner" not in nlp.pipe_names:
        raise OSError(f"spaCy model {model!r} has no 'ner' component")
    return nlp
