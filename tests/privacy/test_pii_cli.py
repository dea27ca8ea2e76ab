"""privacy scan / redact / eval, run in-process (the model is shared) and once as a real process."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from privacy.cli import main
from privacy.pii.corpus import generate

EMAIL, PHONE = "li.na@example.com", "13812345678"


def run(capsys, *argv: str) -> tuple[int, str, str]:
    rc = main(list(argv))
    out = capsys.readouterr()
    return rc, out.out, out.err


def test_scan_hides_values_unless_asked(tmp_path, capsys, ner_nlp):
    f = tmp_path / "notes.txt"
    f.write_text(f"first line\nmail {EMAIL} or call {PHONE}\n", encoding="utf-8")
    rc, out, _ = run(capsys, "scan", str(f))
    assert rc == 0 and "notes.txt:2:6: EMAIL_ADDRESS" in out and "CN_MOBILE" in out
    assert EMAIL not in out and PHONE not in out
    rc, out, _ = run(capsys, "scan", str(f), "--show-values", "--json")
    report = json.loads(out)
    assert report["counts"] == {"CN_MOBILE": 1, "EMAIL_ADDRESS": 1}
    assert {x["value"] for x in report["findings"]} == {EMAIL, PHONE}
    assert run(capsys, "scan", str(f), "--fail-on-find")[0] == 1


def test_scan_refuses_binary_and_missing(tmp_path, capsys):
    f = tmp_path / "blob.bin"
    f.write_bytes(b"\x00\x01\x02" * 100)
    rc, _, err = run(capsys, "scan", str(f), "--pattern-only")
    assert rc == 2 and "binary" in err
    rc, _, err = run(capsys, "scan", str(tmp_path / "nope.txt"))
    assert rc == 2 and "no such file" in err


def test_scan_stdin_as_a_process(tmp_path):
    p = subprocess.run(
        [sys.executable, "-m", "privacy", "scan", "-", "--pattern-only", "--json"],
        input=f"ssn 536-22-1234, 手机{PHONE}".encode(),
        capture_output=True,
        cwd=Path(__file__).parents[2],
        timeout=120,
    )
    assert p.returncode == 0, p.stderr.decode()
    assert json.loads(p.stdout)["counts"] == {"CN_MOBILE": 1, "US_SSN": 1}


def test_redact_jsonl_keeps_and_reports_malformed_lines(tmp_path, capsys, ner_nlp):
    src, dst = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    lines = [
        json.dumps({"id": 1, "text": f"Hi, I'm Maria Gonzalez, {EMAIL}", "meta": {"note": f"call {PHONE}"}}),
        "",
        '{"id": 2, "text": "broken ' + EMAIL,  # malformed JSON
        json.dumps({"id": 3, "other": "no text field"}),
        json.dumps(["not", "an", "object", PHONE]),  # valid JSON, not an object
    ]
    raw = (
        ("\n".join(lines) + "\n").encode()
        + b'{"id": 4, "text": "bad byte \xff here '
        + PHONE.encode()
        + b'"}\n'
    )
    src.write_bytes(raw)
    rc, out, err = run(
        capsys, "redact", str(src), str(dst), "--fields", "text,meta.note", "--json", "--no-progress"
    )
    assert rc == 0, err
    summary = json.loads(out)
    assert summary["records"] == 6 and summary["malformed"] == 2 and summary["malformed_lines"] == [3, 5]
    assert summary["invalid_utf8_lines"] == 1 and summary["missing_field"] == 1
    assert summary["entities"]["EMAIL_ADDRESS"] == 2 and summary["entities"]["CN_MOBILE"] == 3
    data = dst.read_bytes()
    assert EMAIL.encode() not in data and PHONE.encode() not in data and b"Maria" not in data
    out_lines = data.split(b"\n")
    assert len(out_lines) == 7 and out_lines[1] == b""
    assert json.loads(out_lines[0])["meta"]["note"] == "call <CN_MOBILE_1>"
    assert out_lines[2].startswith(b'{"id": 2, "text": "broken <EMAIL_ADDRESS_1>')
    assert b"\xff" in out_lines[5]  # undecodable bytes survive untouched


def test_redact_csv_columns_and_errors(tmp_path, capsys):
    src, dst = tmp_path / "in.csv", tmp_path / "out.csv"
    src.write_text(f'id,email,comment\n1,{EMAIL},"call {PHONE}"\n2,x@y.org\n3,a@b.io,ok\n', encoding="utf-8")
    rc, out, err = run(
        capsys,
        "redact",
        str(src),
        str(dst),
        "--fields",
        "email",
        "--pattern-only",
        "--no-progress",
        "--operator",
        "mask",
    )
    assert rc == 0, err
    rows = dst.read_text(encoding="utf-8").splitlines()
    assert rows[0] == "id,email,comment"
    assert rows[1] == f"1,l****@example.com,call {PHONE}"  # comment column not chosen
    assert rows[2] == "2,x@y.org" or rows[2].startswith("2,x")
    assert "malformed records: 1 (lines 3)" in out
    rc, _, err = run(
        capsys, "redact", str(src), str(dst), "--fields", "nope", "--pattern-only", "--no-progress"
    )
    assert rc == 2 and "no column" in err


def test_redact_txt_with_two_workers_matches_one(tmp_path, capsys):
    src = tmp_path / "in.txt"
    src.write_text(
        "".join(f"line {i}: mail user{i}@example.com, ip 10.0.{i % 250}.1\n" for i in range(300)),
        encoding="utf-8",
    )
    outs = []
    for workers in ("1", "2"):
        dst = tmp_path / f"out{workers}.txt"
        rc, _, err = run(
            capsys, "redact", str(src), str(dst), "--workers", workers, "--pattern-only", "--no-progress"
        )
        assert rc == 0, err
        outs.append(dst.read_text(encoding="utf-8"))
    assert outs[0] == outs[1] and "@example.com" not in outs[0] and outs[0].count("\n") == 300


def test_eval_on_generated_corpus(tmp_path, capsys, ner_nlp):
    f = tmp_path / "corpus.jsonl"
    f.write_text(
        "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in generate(80, seed=3)), encoding="utf-8"
    )
    rc, out, err = run(capsys, "eval", str(f), "--json")
    assert rc == 0, err
    report = json.loads(out)
    assert report["records"] == 80
    assert report["overall"]["recall"] > 0.9 and report["decoys"]["kept_rate"] > 0.9
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"text": "ok", "spans": []}\n{"spans": []}\n', encoding="utf-8")
    rc, _, err = run(capsys, "eval", str(bad), "--pattern-only")
    assert rc == 2 and "bad.jsonl:2" in err


def test_corpus_labels_are_consistent():
    recs = list(generate(200, seed=5))
    assert recs == list(generate(200, seed=5))
    assert {r["lang"] for r in recs} == {"en", "zh"}
    for r in recs:
        for sp in r["spans"]:
            assert r["text"][sp["start"] : sp["end"]].strip()
        for d in r["decoys"]:
            assert not any(d["start"] < s["end"] and s["start"] < d["end"] for s in r["spans"])
