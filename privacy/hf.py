"""PII redaction of Hugging Face ``datasets.Dataset`` columns, for fine-tuning data.

    from privacy.hf import redact_dataset
    out = redact_dataset(ds, fields=["text"], num_proc=4)
    out.redacted   # the rows, named columns redacted, plus pii_findings [{entity_type, count}]
    out.rejects    # rows that could not be checked (not UTF-8, over the limit), with pii_reject_reason

The same per-worker redactor as ``privacy.spark`` (``privacy.spark.rows``): one
engine per process (``num_proc`` workers each build theirs once), the tenant's
derived key handed to the workers with the function (the master secret stays
in this process), rejects instead of guesses, keyed pseudonyms that agree
across workers.

Caching: ``datasets`` names cache files by fingerprint. The map function holds
a key, so it must not be hashed; the new fingerprint is derived explicitly
from the input's fingerprint, the settings, the tenant, the fields, the size
limit and the key *id* (an HMAC of the key, never the key). Same input and
settings: the cached result is reused; another key or setting: recomputed.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

from privacy.pii.settings import PIISettings
from privacy.spark.rows import JobError, JobSpec, prepare, redactor

COUNTS = "pii_findings"
REASON = "pii_reject_reason"
VERSION = "1"  # bump when the output for the same input and settings changes
TEXT_TYPES = ("string", "large_string", "binary", "large_binary")


class Rejected(JobError):
    """Rows could not be checked; the message counts them by reason, never shows them."""


@dataclass
class HFRedaction:
    redacted: Any  # datasets.Dataset
    rejects: Any  # datasets.Dataset
    spec: JobSpec
    fingerprint: str


class _Redact:
    """The batched map function; picklable (dill) for ``num_proc`` workers."""

    def __init__(self, spec: JobSpec, key: bytes | None) -> None:
        self.spec = spec
        self.key = key

    def __repr__(self) -> str:  # never show the key (datasets may print the function on errors)
        return f"privacy.hf.redact(fields={list(self.spec.fields)}, key_id={self.spec.key_id})"

    def __call__(self, batch: dict[str, list[Any]]) -> dict[str, list[Any]]:
        r = redactor(self.spec, self.key)
        new, counts, reasons = r.redact_columns({f: batch[f] for f in self.spec.fields})
        out = dict(batch)
        out.update(new)
        out[COUNTS] = [[{"entity_type": k, "count": v} for k, v in c.items()] for c in counts]
        out[REASON] = reasons
        return out


def _accepted(reasons: list[str | None]) -> list[bool]:
    return [r is None for r in reasons]


def _rejected(reasons: list[str | None]) -> list[bool]:
    return [r is not None for r in reasons]


def fingerprint_for(ds_fingerprint: str, spec: JobSpec, part: str = "map") -> str:
    h = hashlib.sha256(f"privacy.hf/{VERSION}/{part}\x1f{ds_fingerprint}\x1f{spec.digest}".encode())
    return h.hexdigest()[:32]


def redact_dataset(
    ds: Any,
    fields: list[str],
    settings: PIISettings | None = None,
    *,
    tenant: str = "default",
    num_proc: int | None = None,
    max_bytes: int | None = None,
    batch_size: int = 64,
    load_from_cache_file: bool | None = None,
) -> HFRedaction:
    """Redact the named string/binary columns of ``ds`` (a ``datasets.Dataset``)."""
    import datasets

    settings = settings or PIISettings()
    for name in (COUNTS, REASON):
        if name in ds.column_names:
            raise JobError(f"the dataset already has a column named {name!r}")
    spec, key = prepare(settings, tenant, fields, max_bytes)
    for f in spec.fields:
        feat = ds.features.get(f)
        if feat is None:
            raise JobError(f"no column {f!r} in the dataset (columns: {', '.join(ds.column_names)})")
        if not isinstance(feat, datasets.Value) or feat.dtype not in TEXT_TYPES:
            raise JobError(f"column {f!r} is {feat}; only string or binary columns hold text")
    features = ds.features.copy()
    features[COUNTS] = datasets.List(
        {"entity_type": datasets.Value("string"), "count": datasets.Value("int32")}
    )
    features[REASON] = datasets.Value("string")
    fp = fingerprint_for(ds._fingerprint, spec)
    mapped = ds.map(
        _Redact(spec, key),
        batched=True,
        batch_size=batch_size,
        num_proc=num_proc,
        features=features,
        new_fingerprint=fp,
        load_from_cache_file=load_from_cache_file,
        desc="redact PII",
    )
    redacted = mapped.filter(
        _accepted,
        input_columns=[REASON],
        batched=True,
        num_proc=num_proc,
        new_fingerprint=fingerprint_for(fp, spec, "accepted"),
        load_from_cache_file=load_from_cache_file,
    ).remove_columns([REASON])
    rejects = mapped.filter(
        _rejected,
        input_columns=[REASON],
        batched=True,
        num_proc=num_proc,
        new_fingerprint=fingerprint_for(fp, spec, "rejected"),
        load_from_cache_file=load_from_cache_file,
    ).remove_columns([COUNTS])
    return HFRedaction(redacted, rejects, spec, fp)


def redact_records(
    texts: list[str],
    settings: PIISettings | None = None,
    *,
    tenant: str = "default",
    num_proc: int | None = None,
) -> list[str]:
    """Redact a list of texts through ``redact_dataset``; raises ``Rejected`` if any cannot be checked
    (a training run must not go on with records nobody looked at)."""
    import datasets

    ds = datasets.Dataset.from_dict({"text": list(texts)})
    out = redact_dataset(ds, ["text"], settings, tenant=tenant, num_proc=num_proc)
    if len(out.rejects):
        reasons: dict[str, int] = {}
        for r in out.rejects[REASON]:
            reasons[r] = reasons.get(r, 0) + 1
        raise Rejected(
            f"{len(out.rejects)} record(s) could not be checked for PII: "
            + ", ".join(f"{k} ({v})" for k, v in sorted(reasons.items()))
        )
    return list(out.redacted["text"])
