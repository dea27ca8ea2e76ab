"""privacy.hf on real ``datasets`` (Arrow cache files on disk, num_proc worker processes)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import datasets
import pytest

from privacy.cli import main as privacy_main
from privacy.dp.data import Dataset as DPDataset
from privacy.dp.errors import DPError
from privacy.hf import redact_dataset, redact_records
from privacy.pii.keys import TenantKeys
from privacy.pii.operators import normalize
from privacy.pii.settings import PIISettings
from privacy.spark.rows import JobError
from tests.privacy.test_spark import tickets

PATTERNS = {"ner": {"enabled": False}}


def _load(path: Path, cache: Path) -> datasets.Dataset:
    return datasets.load_dataset("json", data_files=str(path), split="train", cache_dir=str(cache))


def test_num_proc_result_equals_privacy_redact_and_rejects_have_reasons(tmp_path):
    recs = tickets(300, seed=5)
    src = tmp_path / "t.jsonl"
    src.write_text(
        "".join(json.dumps({"id": r["id"], "text": r["text"]}, ensure_ascii=False) + "\n" for r in recs)
    )
    local = tmp_path / "local.jsonl"
    assert (
        privacy_main(["redact", str(src), str(local), "--fields", "text", "--pattern-only", "--no-progress"])
        == 0
    )
    expected = [json.loads(x)["text"] for x in local.read_text().splitlines()]

    ds = _load(src, tmp_path / "cache")
    out = redact_dataset(ds, ["text"], PIISettings.model_validate(PATTERNS), num_proc=2)
    assert out.redacted["text"] == expected  # row for row, in order, across two worker processes
    assert out.redacted["id"] == [r["id"] for r in recs] and len(out.rejects) == 0
    counts = out.redacted["pii_findings"]
    assert all(
        any(c["entity_type"] == "EMAIL_ADDRESS" for c in row)
        for row, r in zip(counts, recs, strict=True)
        if "@" in r["text"]
    )
    assert all(row == [] for row, r in zip(counts, recs, strict=True) if "EKS cluster" in r["text"])

    # Columns with values nobody planned for: bytes that are not UTF-8, a row over the limit, missing values.
    raw = datasets.Dataset.from_dict(
        {
            "id": [0, 1, 2, 3],
            "body": ["mail jane.roe@example.com", "x" * 5000, None, "call 13812345678"],
            "blob": [b"ok", b"fine", b"\xff\xfe jane.roe@example.com", b"Jane Roe"],
        }
    )
    out = redact_dataset(raw, ["body", "blob"], PIISettings.model_validate(PATTERNS), max_bytes=4096)
    assert out.redacted["id"] == [0, 3]
    assert out.redacted["body"] == ["mail <EMAIL_ADDRESS_1>", "call <CN_MOBILE_1>"]
    assert dict(zip(out.rejects["id"], out.rejects["pii_reject_reason"], strict=True)) == {
        1: "body: over the size limit",
        2: "blob: not valid UTF-8",
    }
    with pytest.raises(JobError, match="column 'id' is"):
        redact_dataset(raw, ["id"], PIISettings.model_validate(PATTERNS))


def test_fingerprint_reuses_the_cache_and_never_holds_the_key(tmp_path, monkeypatch):
    src = tmp_path / "t.jsonl"
    src.write_text("".join(json.dumps({"text": r["text"]}) + "\n" for r in tickets(120, seed=9)))
    cache = tmp_path / "cache"
    ds = _load(src, cache)
    secrets = ["k1-" + os.urandom(16).hex(), "k2-" + os.urandom(16).hex()]
    settings = PIISettings.model_validate(
        {**PATTERNS, "default_operator": "hash", "hash_key_env": "CG_TEST_HF_KEY"}
    )

    monkeypatch.setenv("CG_TEST_HF_KEY", secrets[0])
    first = redact_dataset(ds, ["text"], settings, num_proc=2)
    files = sorted(f["filename"] for f in first.redacted.cache_files)
    stamps = {f: os.stat(f).st_mtime_ns for f in Path(cache).rglob("cache-*.arrow")}
    again = redact_dataset(_load(src, cache), ["text"], settings, num_proc=2)
    assert again.fingerprint == first.fingerprint
    assert sorted(f["filename"] for f in again.redacted.cache_files) == files  # served from the cache...
    assert {
        f: os.stat(f).st_mtime_ns for f in Path(cache).rglob("cache-*.arrow")
    } == stamps  # ...not rewritten
    assert again.redacted["text"] == first.redacted["text"]

    monkeypatch.setenv("CG_TEST_HF_KEY", secrets[1])
    other = redact_dataset(ds, ["text"], settings, num_proc=2)
    assert other.fingerprint != first.fingerprint  # another key: recomputed, never a stale cache
    assert other.redacted["text"] != first.redacted["text"]
    other_ops = redact_dataset(ds, ["text"], settings.model_copy(update={"default_operator": "mask"}))
    assert other_ops.fingerprint not in (first.fingerprint, other.fingerprint)

    key_material = [s.encode() for s in secrets] + [TenantKeys(s.encode()).key("default") for s in secrets]
    key_material += [k.hex().encode() for k in key_material[2:]]
    for f in Path(cache).rglob("*"):
        if f.is_file():
            blob = f.read_bytes()
            assert not any(k in blob for k in key_material), f.name
    assert not any(k.decode("latin-1") in first.fingerprint for k in key_material)


def test_pseudonyms_agree_across_worker_processes(tmp_path, monkeypatch):
    monkeypatch.setenv("CG_TEST_HF_KEY", "hf-" + "ab" * 16)
    settings = PIISettings.model_validate(
        {**PATTERNS, "default_operator": "pseudonymize", "hash_key_env": "CG_TEST_HF_KEY"}
    )
    people = [f"p{k}@example.net" for k in range(3)]
    ds = datasets.Dataset.from_dict({"text": [f"row {i} from {people[i % 3]}" for i in range(90)]})
    out = redact_dataset(ds, ["text"], settings, tenant="acme", num_proc=3, batch_size=10)
    keys = TenantKeys(("hf-" + "ab" * 16).encode())
    for i, text in enumerate(out.redacted["text"]):
        p = people[i % 3]
        assert (
            text
            == f"row {i} from <EMAIL_ADDRESS_{keys.token('acme', 'EMAIL_ADDRESS', normalize('EMAIL_ADDRESS', p))}>"
        )


def test_train_redact_pii_goes_through_datasets_and_fails_closed():
    import privacy.dp.redaction as redaction

    assert redaction._engine() is redact_records
    ds = DPDataset("d.jsonl", ["write to jane.roe@example.com", "nothing here"], [1, 2], "f", "r")
    out = redaction.redact_dataset(ds)
    assert out.records == ["write to <EMAIL_ADDRESS_1>", "nothing here"] and out.path.endswith("#redacted")
    huge = DPDataset("d.jsonl", ["ok", "y" * (PIISettings().max_chars + 1)], [1, 2], "f", "r")
    with pytest.raises(DPError, match="1 record\\(s\\) could not be checked.*over the size limit"):
        redaction.redact_dataset(huge)
