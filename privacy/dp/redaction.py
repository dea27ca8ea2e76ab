"""Optional PII redaction of the training data before DP training (``--redact-pii``).

DP bounds what the model reveals about any one record; redaction removes the most
sensitive values before they ever reach the gradients. The records go through
``privacy.hf.redact_records`` (a ``datasets.Dataset`` redacted by the ``privacy.pii``
engine); this adapter is the one place that knows its interface, and it fails closed:
if the engine is missing, errors, or cannot check a record (not UTF-8, over the size
limit), training does not start.
"""

from __future__ import annotations

from typing import Any

from privacy.dp.data import Dataset, with_records
from privacy.dp.errors import DPError


def _engine() -> Any:
    try:
        from privacy.hf import redact_records
    except ImportError as exc:
        raise DPError(
            "--redact-pii needs the PII engine and Hugging Face datasets (the ml extra), which are not "
            "installed in this build; redact the file first with 'privacy redact', or train without "
            "--redact-pii"
        ) from exc
    return redact_records


def redact_dataset(dataset: Dataset) -> Dataset:
    """Redact every record with the PII engine; the fingerprint records that it was done."""
    redact_texts = _engine()
    try:
        records = list(redact_texts(dataset.records))
    except Exception as exc:  # fail closed: never train on data the engine could not check
        from privacy.hf import Rejected

        if isinstance(exc, Rejected):  # counts by reason, no content
            raise DPError(f"PII redaction: {exc}; nothing was trained") from exc
        raise DPError(f"PII redaction failed ({type(exc).__name__}); nothing was trained") from exc
    if len(records) != len(dataset.records):
        raise DPError("PII redaction returned a different number of records; nothing was trained")
    return with_records(dataset, records, "redacted")
