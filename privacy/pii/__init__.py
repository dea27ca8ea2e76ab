"""The PII engine shared by the gateway plugin and the offline tools.

``PIIEngine`` (engine.py) finds personal data with Presidio pattern recognizers
(Presidio's own plus Chinese ones under ``recognizers/cn``) and a gated spaCy
NER for names; ``RedactionSession`` (operators.py) replaces what was found
with the configured operator per entity type and can restore pseudonyms.
"""

from __future__ import annotations

from privacy.pii.findings import Finding
from privacy.pii.settings import PIISettings

__all__ = ["Finding", "PIISettings", "redact_texts"]


def redact_texts(texts: list[str], settings: PIISettings | None = None, tenant: str = "default") -> list[str]:
    """Redact a batch of texts with the engine (loads it on each call: for one-off batches,
    such as a training set before DP fine-tuning; the gateway keeps one engine instead)."""
    from privacy.pii.dataset import BatchRedactor

    return BatchRedactor(settings or PIISettings(), tenant).redact_texts(list(texts))
