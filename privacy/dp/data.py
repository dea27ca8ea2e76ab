"""Training data: load, validate, fingerprint, tokenize.

A record is one person's unit of privacy: DP-SGD protects whole records, so a record
is never split into several training examples (that would multiply its influence).
Records longer than the context are an error by default; ``truncate=True`` keeps the
first tokens and counts how many were cut. Errors name line numbers, never content.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from privacy.dp.errors import DatasetError

_MAX_LINES_NAMED = 10


@dataclass(frozen=True)
class Dataset:
    """The validated records of one training file, with their provenance."""

    path: str
    records: list[str]
    line_numbers: list[int]
    file_sha256: str
    records_sha256: str

    def __len__(self) -> int:
        return len(self.records)

    def fingerprint(self) -> dict[str, Any]:
        """What the audit record and the privacy report say about the data (hashes only)."""
        return {
            "path": Path(self.path).name,
            "records": len(self.records),
            "file_sha256": self.file_sha256,
            "records_sha256": self.records_sha256,
        }


def _named(lines: list[int]) -> str:
    shown = ", ".join(str(n) for n in lines[:_MAX_LINES_NAMED])
    more = f" and {len(lines) - _MAX_LINES_NAMED} more" if len(lines) > _MAX_LINES_NAMED else ""
    return shown + more


def _parse_jsonl(text: str, path: str, field: str) -> tuple[list[str], list[int]]:
    records: list[str] = []
    numbers: list[int] = []
    bad: list[int] = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError:
            bad.append(number)
            continue
        value = obj.get(field) if isinstance(obj, dict) else None
        if not isinstance(value, str) or not value.strip():
            bad.append(number)
            continue
        records.append(value)
        numbers.append(number)
    if bad:
        raise DatasetError(
            f"{path}: {len(bad)} malformed line(s) (not a JSON object with a non-empty string "
            f"{field!r} field): line(s) {_named(bad)}. Fix or remove them; nothing was trained."
        )
    return records, numbers


def _parse_txt(text: str) -> tuple[list[str], list[int]]:
    pairs = [(line, n) for n, line in enumerate(text.splitlines(), start=1) if line.strip()]
    return [p[0] for p in pairs], [p[1] for p in pairs]


def records_digest(records: list[str]) -> str:
    """Order-sensitive digest of the records (length-prefixed, so boundaries count)."""
    h = hashlib.sha256()
    for record in records:
        raw = record.encode("utf-8")
        h.update(len(raw).to_bytes(8, "big"))
        h.update(raw)
    return h.hexdigest()


def load_dataset(path: str | Path, *, field: str = "text") -> Dataset:
    """Read a ``.jsonl`` (one object with a ``text`` field per line) or ``.txt`` (one record a line)."""
    p = Path(path)
    if not p.is_file():
        raise DatasetError(f"{p}: no such file")
    raw = p.read_bytes()
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise DatasetError(f"{p}: not UTF-8 text (byte offset {exc.start})") from exc
    if p.suffix.lower() in (".jsonl", ".json", ".ndjson"):
        records, numbers = _parse_jsonl(text, str(p), field)
    elif p.suffix.lower() in (".txt", ".text", ""):
        records, numbers = _parse_txt(text)
    else:
        raise DatasetError(
            f"{p}: unknown dataset format {p.suffix!r}; use .jsonl (a {field!r} field) or .txt"
        )
    if not records:
        raise DatasetError(f"{p}: the dataset is empty (no records); nothing to train on")
    return Dataset(str(p), records, numbers, hashlib.sha256(raw).hexdigest(), records_digest(records))


def with_records(dataset: Dataset, records: list[str], label: str) -> Dataset:
    """A derived dataset (redacted, or with canaries) that keeps the provenance honest."""
    return Dataset(
        f"{dataset.path}#{label}",
        records,
        list(range(1, len(records) + 1)),
        dataset.file_sha256,
        records_digest(records),
    )


@dataclass(frozen=True)
class Encoded:
    """Padded token ids and attention mask of all records (torch tensors)."""

    input_ids: Any
    attention_mask: Any
    truncated: int
    max_length: int


def encode(
    records: list[str],
    line_numbers: list[int],
    tokenizer: Any,
    context: int,
    *,
    truncate: bool = False,
    path: str = "dataset",
) -> Encoded:
    """Tokenize records (EOS appended), check them against the model context, pad."""
    import torch

    eos = tokenizer.eos_token_id
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else (eos or 0)
    ids = [
        tokenizer(r, add_special_tokens=False)["input_ids"] + ([eos] if eos is not None else [])
        for r in records
    ]
    too_long = [n for seq, n in zip(ids, line_numbers, strict=True) if len(seq) > context]
    if too_long and not truncate:
        raise DatasetError(
            f"{path}: {len(too_long)} record(s) longer than the model context of {context} tokens: "
            f"line(s) {_named(too_long)}. Shorten them, or pass --truncate to keep the first "
            f"{context} tokens (records are never split: that would weaken the per-record guarantee)."
        )
    ids = [seq[:context] for seq in ids]
    length = max(2, max(len(seq) for seq in ids))
    input_ids = torch.full((len(ids), length), pad, dtype=torch.long)
    mask = torch.zeros((len(ids), length), dtype=torch.long)
    for i, seq in enumerate(ids):
        input_ids[i, : len(seq)] = torch.tensor(seq, dtype=torch.long)
        mask[i, : len(seq)] = 1
    return Encoded(input_ids, mask, len(too_long), length)
