import json
from pathlib import Path

import pytest

from audit.cli import main as cli
from audit.export import read_export
from audit.keys import load_public_key
from audit.log import open_log
from audit.verify import verify_export

from .helpers import gateway_event

CONFIG = """
upstreams:
  - name: gpu-eu
    url: http://10.0.0.5:8000
    labels: {region: eu-west-1}
  - name: gpu-us
    url: https://us.example.com
    labels: {region: us-east-1}
"""


@pytest.fixture
def filled(sqlite_url, key_files):  # noqa: ANN201
    keys = {k: v for k, v in key_files.items() if k != "public_key"}
    with open_log(sqlite_url, checkpoint_every=8, **keys) as log:
        for i in range(30):
            log.append(
                "gateway.request",
                gateway_event(i),
                tenant="acme" if i % 3 else "globex",
                subject="alice" if i % 2 else "bob",
                personal={"client_ip": f"198.51.100.{i}"},
            )
    args = [
        "--store",
        sqlite_url,
        "--signing-key-file",
        keys["signing_key_file"],
        "--subject-key-file",
        keys["subject_key_file"],
    ]
    return args, load_public_key(key_files["public_key"])


@pytest.mark.parametrize("fmt", ["jsonl", "csv", "html"])
def test_exports_verify_on_their_own_and_tampering_is_located(filled, tmp_path: Path, fmt: str) -> None:
    args, pub = filled
    out = tmp_path / f"export.{fmt}"
    assert cli(["export", *args, "--tenant", "acme", "--format", fmt, "--out", str(out)]) == 0
    header, note, records = read_export(out)
    assert [r["seq"] for r in records] == [i for i in range(30) if i % 3]
    rep = verify_export(out, pub)
    assert rep.ok and rep.records == 20, rep.problems
    # Change one record's bytes inside the export: that record, and only it, fails.
    text = out.read_text()
    assert text.count("req-7") >= 1
    out.write_text(
        text.replace("req-7\\", "req-9\\", 1) if fmt != "csv" else text.replace("req-7", "req-9", 1)
    )
    rep = verify_export(out, pub)
    assert not rep.ok and rep.first_bad == 7 and rep.records == 19
    if fmt == "csv":  # the readable column was changed, not the signed bytes: caught all the same
        assert "readable 'payload' differs" in rep.problems[0]
    # Change every copy (readable and signed): the inclusion proof fails.
    out.write_text(text.replace("req-7", "req-9"))
    rep = verify_export(out, pub)
    assert not rep.ok and rep.first_bad == 7


def test_access_export_decrypts_one_subject_and_shows_erasure(filled, tmp_path: Path) -> None:
    args, pub = filled
    out = tmp_path / "alice.jsonl"
    assert cli(["export", *args, "--subject", "alice", "--report", "access", "--out", str(out)]) == 0
    lines = [json.loads(x) for x in out.read_text().splitlines()]
    report = next(x for x in lines if x["kind"] == "report")["report"]
    recs = [x for x in lines if x["kind"] == "record"]
    assert [r["seq"] for r in recs] == list(range(1, 30, 2))
    assert recs[0]["personal"] == {"client_ip": "198.51.100.1"}
    assert report["facts"]["erased"] is False and report["facts"]["recipients"] == ["gpu-eu"]
    # The raw subject id is in the reply (it is addressed to that person), never in the signed records.
    assert all("alice" not in r["body"] for r in recs)
    assert verify_export(out, pub).ok
    assert cli(["erase", *args, "--subject", "alice"]) == 0
    assert cli(["export", *args, "--subject", "alice", "--report", "access", "--out", str(out)]) == 0
    lines = [json.loads(x) for x in out.read_text().splitlines()]
    recs = [x for x in lines if x["kind"] == "record"]
    assert {r.get("personal") for r in recs if r["view"]["type"] == "gateway.request"} == {"(erased)"}
    assert recs[-1]["view"]["type"] == "audit.erasure"
    assert next(x for x in lines if x["kind"] == "report")["report"]["facts"]["erased"] is True
    assert verify_export(out, pub).ok


def test_art30_and_activity_reports(filled, tmp_path: Path) -> None:
    args, pub = filled
    cfg = tmp_path / "gateway.yaml"
    cfg.write_text(CONFIG)
    out = tmp_path / "art30.jsonl"
    assert cli(["export", *args, "--report", "art30", "--config", str(cfg), "--out", str(out)]) == 0
    rep = next(json.loads(x) for x in out.read_text().splitlines() if '"kind":"report"' in x)["report"]
    recipients = rep["facts"]["recipients"]
    assert [r["upstream"] for r in recipients] == ["gpu-eu", "gpu-us"]
    assert recipients[0]["forwarded"] == 24  # the 6 policy denials never left the gateway
    assert [(r["location"], r["transfer"]) for r in recipients] == [
        ("EEA", None),
        ("US", None),
    ]  # no controller
    assert rep["facts"]["distinct_subjects"] == 2 and rep["facts"]["pii"] == {"EMAIL_ADDRESS": 30}
    html = tmp_path / "activity.html"
    assert cli(["export", *args, "--report", "activity", "--format", "html", "--out", str(html)]) == 0
    page = html.read_text()
    assert "Activity report" in page and "pii.ssn" in page
    act = tmp_path / "activity.jsonl"
    assert cli(["export", *args, "--report", "activity", "--out", str(act)]) == 0
    rep = next(json.loads(x) for x in act.read_text().splitlines() if '"kind":"report"' in x)["report"]
    tot = rep["facts"]["totals"]
    assert (tot["requests"], tot["answered"], tot["policy"], tot["pii_items"]) == (30, 24, 6, 30)
    assert rep["facts"]["deny_reasons"] == {"acme: pii.ssn": 4, "globex: pii.ssn": 2}
    assert rep["facts"]["per_tenant"]["globex"]["requests"] == 10
    assert verify_export(html, pub).ok


def test_time_filters(filled, tmp_path: Path) -> None:
    args, _ = filled
    out = tmp_path / "none.jsonl"
    assert cli(["export", *args, "--since", "2999-01-01", "--out", str(out)]) == 0
    assert read_export(out)[2] == []
    assert cli(["export", *args, "--until", "2999-01-01", "--out", str(out)]) == 0
    assert len(read_export(out)[2]) == 30
    assert cli(["export", *args, "--since", "yesterday"]) == 2


def test_export_carries_a_consistency_proof_from_an_older_checkpoint(filled, tmp_path: Path) -> None:
    args, pub = filled
    out = tmp_path / "since.jsonl"
    assert cli(["export", *args, "--since", "2999-01-01", "--prove-from", "16", "--out", str(out)]) == 0
    rep = verify_export(out, pub)
    assert rep.ok and rep.checkpoints == 2, rep.problems
    lines = out.read_text().splitlines()
    header = json.loads(lines[0])
    header["consistency"]["proof"][0] = "00" * 32
    out.write_text("\n".join([json.dumps(header), *lines[1:]]) + "\n")
    rep = verify_export(out, pub)
    assert not rep.ok and "consistency" in rep.problems[0]
    assert cli(["export", *args, "--prove-from", "17", "--out", str(out)]) == 2  # no checkpoint at 17
