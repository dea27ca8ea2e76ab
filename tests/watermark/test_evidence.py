"""Issue 16 items 2-3 and issue 13 item 6: failure isolation, signatures bound to the published key,
and the evidence commands (verify writes its report, check-report, reveal, check-reveal)."""

from __future__ import annotations

import copy
import json
import shutil

import pytest
import torch

from watermark import tinymodels
from watermark.cli import main
from watermark.errors import ReportError
from watermark.keys import WatermarkKey
from watermark.report import check_signature, sign, verify_report
from watermark.verify import run_verify


@pytest.fixture(scope="module")
def public_file(key, workdir):
    path = workdir / "key.public.json"
    path.write_text(json.dumps(key.public_record()))
    return path


@pytest.fixture(scope="module")
def nan_dir(marked_model, tokenizer, workdir):
    """The shipped model with a NaN row in the pad-token embedding and an inf in the final norm."""
    m = copy.deepcopy(marked_model)
    with torch.no_grad():
        m.model.embed_tokens.weight[tokenizer.pad_token_id] = float("nan")
        m.model.norm.weight[3] = float("inf")
    return tinymodels.save(m, tokenizer, workdir / "nan")


def test_nan_and_inf_weights_are_reported_not_fatal(nan_dir, key, key_file, public_file, capsys):
    rep = run_verify(nan_dir, key)
    bad = {b["name"]: b["nonfinite"] for b in rep["weights_health"]["nonfinite_tensors"]}
    assert bad["model.embed_tokens.weight"] == 64 and bad["model.norm.weight"] == 1
    by = {t["name"]: t for t in rep["tests"]}
    assert by["weight_watermark"]["rejected"] and by["weight_watermark"]["p_value"] < 1e-12
    for t in rep["tests"]:  # every test either ran or entered with p = 1 and its reason
        assert t["applicable"] is False or t.get("error") or t["statistic"]
        if t.get("error"):
            assert t["p_value"] == 1.0 and not t["rejected"] and t["error"]
    assert rep["verdict"]["evidence"] and check_signature(rep, key.public_record())
    # through the command line: exit 0, the text names the damaged tensors, the report is signed
    assert main(["verify", str(nan_dir), "--key", str(key_file)]) == 0
    out = capsys.readouterr().out
    assert "NaN or inf" in out and "model.embed_tokens.weight" in out
    paragraph = out.strip().split("\n\n")[-1]  # the text ends with the plain-language paragraph
    assert paragraph.lstrip().startswith("In plain words") and "does not prove" in paragraph
    report_path = nan_dir.parent / "nan.watermark-report.json"  # the default: beside the suspect
    assert main(["check-report", str(report_path), "--public", str(public_file)]) == 0


def test_a_test_that_cannot_run_enters_with_p_one(marked_dir, key, tmp_path):
    """Weights transformers cannot load (a matrix of the wrong shape): black-box tests fail, the report stands."""
    from safetensors.torch import load_file, save_file

    d = tmp_path / "broken"
    shutil.copytree(marked_dir, d)
    sd = load_file(d / "model.safetensors")
    name = "model.layers.0.self_attn.q_proj.weight"
    sd[name] = sd[name][:, :10].contiguous()
    save_file(sd, d / "model.safetensors", metadata={"format": "pt"})
    rep = run_verify(d, key)
    by = {t["name"]: t for t in rep["tests"]}
    for name in ("functional_watermark", "trigger_fingerprint", "text_radioactivity"):
        assert (
            by[name]["applicable"]
            and by[name]["p_value"] == 1.0
            and "loading the model failed" in by[name]["error"]
        )
    assert by["weight_watermark"]["rejected"]
    assert rep["verdict"]["n_applicable"] == 4 and rep["verdict"]["evidence"]
    assert check_signature(rep, key.public_record())


def test_signature_needs_the_published_key(marked_dir, key, other_key):
    rep = run_verify(marked_dir, key, tests=["weight_watermark"])
    verify_report(rep, key.public_record())
    # a thief edits the verdict and re-signs with a key of their own: self-consistent, but not ours
    forged = copy.deepcopy(rep)
    forged["verdict"]["evidence"] = False
    forged = sign({k: v for k, v in forged.items() if k != "signature"}, other_key)
    assert check_signature(forged, forged["signature"]["public_key"])  # valid under its own key...
    with pytest.raises(ReportError, match="SIGNED BY ANOTHER KEY"):
        verify_report(forged, key.public_record())  # ...and refused under the published one
    assert not check_signature(forged, key.public_record())
    edited = copy.deepcopy(rep)
    edited["verdict"]["combined_p"] = 0.5
    with pytest.raises(ReportError, match="SIGNATURE INVALID"):
        verify_report(edited, key.public_record())
    with pytest.raises(ReportError, match="key id"):
        verify_report(rep, other_key.public_record())
    bad_record = dict(key.public_record(), key_id="0" * 16)
    with pytest.raises(ReportError, match="inconsistent"):
        verify_report(rep, bad_record)
    with pytest.raises(TypeError):
        check_signature(rep)  # type: ignore[call-arg]  # no default: the embedded key is never trusted


def test_cli_report_written_checked_and_tampering_caught(
    marked_dir, key, other_key, key_file, public_file, tmp_path, capsys
):
    suspect = tmp_path / "suspect"
    shutil.copytree(marked_dir, suspect)
    html, report = tmp_path / "r.html", tmp_path / "elsewhere.json"
    assert (
        main(
            [
                "verify",
                str(suspect),
                "--key",
                str(key_file),
                "--html",
                str(html),
                "--out",
                str(report),
                "--json",
            ]
        )
        == 0
    )
    assert json.loads(capsys.readouterr().out) == json.loads(
        report.read_text()
    )  # --json prints what --out holds
    page = html.read_text()
    assert (
        "In plain words" in page
        and "<script" not in page
        and json.loads(report.read_text())["key"]["key_id"] in page
    )
    assert main(["check-report", str(report), "--public", str(public_file)]) == 0
    assert "signature OK" in capsys.readouterr().out
    rec = key.public_record()
    assert (
        main(
            [
                "check-report",
                str(report),
                "--key-id",
                rec["key_id"],
                "--commitment",
                rec["commitment"],
                "--public-key",
                rec["signing_public_key"],
            ]
        )
        == 0
    )
    assert main(["check-report", str(report)]) == 2  # no published key: refuse, never trust the embedded one
    assert "published" in capsys.readouterr().err
    # the suspect's files change after the report: caught
    (suspect / "config.json").write_text((suspect / "config.json").read_text() + " ")
    assert main(["check-report", str(report), "--public", str(public_file)]) == 1
    assert "changed: config.json" in capsys.readouterr().err
    assert main(["check-report", str(report), "--public", str(public_file), "--no-files"]) == 0
    # an edited report, and one re-signed by another key
    doc = json.loads(report.read_text())
    doc["verdict"]["evidence"] = False
    (tmp_path / "edited.json").write_text(json.dumps(doc))
    assert (
        main(["check-report", str(tmp_path / "edited.json"), "--public", str(public_file), "--no-files"]) == 1
    )
    assert "SIGNATURE INVALID" in capsys.readouterr().err
    (tmp_path / "resigned.json").write_text(
        json.dumps(sign({k: v for k, v in doc.items() if k != "signature"}, other_key))
    )
    assert (
        main(["check-report", str(tmp_path / "resigned.json"), "--public", str(public_file), "--no-files"])
        == 1
    )
    assert "SIGNED BY ANOTHER KEY" in capsys.readouterr().err


def test_cli_reveal_and_check_reveal(key, key_file, public_file, tmp_path, capsys):
    opening = tmp_path / "reveal.json"
    assert main(["reveal", "--key", str(key_file), "--out", str(opening)]) == 0
    assert "secret" in capsys.readouterr().err
    assert json.loads(opening.read_text())["secret"] == key.secret.hex()
    assert main(["check-reveal", str(public_file), str(opening)]) == 0
    assert "fixed" in capsys.readouterr().out
    # another key's opening does not open our commitment
    other = WatermarkKey.generate()
    (tmp_path / "other.json").write_text(json.dumps(other.reveal()))
    assert main(["check-reveal", str(public_file), str(tmp_path / "other.json")]) == 1
    assert "COMMITMENT NOT OPENED" in capsys.readouterr().err
    # a record whose signing key is not derived from the secret (someone swapped it in)
    swapped = dict(key.public_record(), signing_public_key=other.public_key_hex())
    (tmp_path / "swapped.json").write_text(json.dumps(swapped))
    assert main(["check-reveal", str(tmp_path / "swapped.json"), str(opening)]) == 1
    assert "does not derive" in capsys.readouterr().err
    (tmp_path / "junk.json").write_text("{")
    assert main(["check-reveal", str(public_file), str(tmp_path / "junk.json")]) == 2


def test_keygen_writes_the_public_record(tmp_path, capsys):
    assert main(["keygen", "--out", str(tmp_path / "k.json")]) == 0
    rec = json.loads((tmp_path / "k.public.json").read_text())
    assert set(rec) == {"key_id", "commitment", "signing_public_key"}
    assert (
        main(["keygen", "--out", str(tmp_path / "k2.json"), "--public-out", str(tmp_path / "k.public.json")])
        == 2
    )
    assert not (tmp_path / "k2.json").exists()


def test_default_report_name_never_overwrites_earlier_evidence(tmp_path):
    from watermark.commands.verify import default_report_path

    (tmp_path / "suspect").mkdir()
    first = default_report_path(tmp_path / "suspect")
    assert first == tmp_path / "suspect.watermark-report.json"
    first.write_text("{}")
    assert default_report_path(tmp_path / "suspect") == tmp_path / "suspect.watermark-report-2.json"


def test_pdf_report_carries_the_signed_report_and_check_report_reads_it(
    marked_dir, key_file, public_file, tmp_path, capsys
):
    """Issue 13: the watermark report as PDF, checkable like the JSON (edits to the attachment caught)."""
    from audit.pdf import attach, attachment, html_to_pdf

    pdf = tmp_path / "evidence.pdf"
    args = ["verify", str(marked_dir), "--key", str(key_file), "--out", str(tmp_path / "r.json")]
    assert main([*args, "--pdf", str(pdf)]) == 0
    raw = pdf.read_bytes()
    assert raw.startswith(b"%PDF")
    data, text = attachment(raw, "watermark-report.json")
    assert json.loads(data) == json.loads((tmp_path / "r.json").read_text())
    assert "plain words" in text.lower()  # the pages show the report, not only the attachment
    capsys.readouterr()
    assert main(["check-report", str(pdf), "--public", str(public_file)]) == 0
    assert "signature OK" in capsys.readouterr().out
    doc = json.loads(data)
    doc["verdict"]["evidence"] = not doc["verdict"]["evidence"]
    forged = tmp_path / "forged.pdf"
    forged_pdf = attach(
        html_to_pdf("<p>a report</p>"),
        {"watermark-report.json": json.dumps(doc).encode()},
        title="x",
        subject="y",
    )
    forged.write_bytes(forged_pdf)
    assert main(["check-report", str(forged), "--public", str(public_file), "--no-files"]) == 1
    assert "SIGNATURE INVALID" in capsys.readouterr().err
