"""Bad datasets: empty, malformed, over-long records; errors name lines, never content."""

from __future__ import annotations

from pathlib import Path

import pytest

from privacy.dp.data import encode, load_dataset
from privacy.dp.errors import DatasetError


def test_empty_dataset_is_refused(tmp_path: Path) -> None:
    p = tmp_path / "empty.jsonl"
    p.write_text("\n\n", encoding="utf-8")
    with pytest.raises(DatasetError, match="empty"):
        load_dataset(p)


def test_malformed_lines_are_named_without_content(tmp_path: Path) -> None:
    p = tmp_path / "bad.jsonl"
    secret = "alice@example.com"
    p.write_text(
        f'{{"text": "ok"}}\n{{"text": "{secret}"\n{{"other": 1}}\n{{"text": "fine"}}\n', encoding="utf-8"
    )
    with pytest.raises(DatasetError) as err:
        load_dataset(p)
    assert "line(s) 2, 3" in str(err.value)
    assert secret not in str(err.value)


def test_txt_lines_and_unknown_format(tmp_path: Path) -> None:
    p = tmp_path / "d.txt"
    p.write_text("one\n\ntwo\n", encoding="utf-8")
    ds = load_dataset(p)
    assert ds.records == ["one", "two"] and ds.line_numbers == [1, 3]
    q = tmp_path / "d.parquet"
    q.write_bytes(b"PAR1")
    with pytest.raises(DatasetError, match="unknown dataset format"):
        load_dataset(q)


def test_records_longer_than_context_error_or_truncate(tmp_path: Path, gpt2_dir: Path) -> None:
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(str(gpt2_dir))
    records = ["short record", "word " * 400, "another short one"]
    with pytest.raises(DatasetError, match=r"longer than the model context of 48 tokens: line\(s\) 2"):
        encode(records, [1, 2, 3], tok, 48, path="d.jsonl")
    enc = encode(records, [1, 2, 3], tok, 48, truncate=True)
    assert enc.truncated == 1 and enc.input_ids.shape == (3, 48)
    assert int(enc.attention_mask[0].sum()) < 48
