import copy
import json
import shutil

import pytest
import torch

from watermark import tinymodels
from watermark.cli import main
from watermark.errors import ModelDirError
from watermark.modeldir import ModelDir
from watermark.report import check_signature
from watermark.verify import run_verify


@pytest.fixture(scope="module")
def marked_report(marked_dir, key, base_dir):
    return run_verify(marked_dir, key, reference_dir=base_dir)


def test_marked_model_gives_evidence_with_signed_report(marked_report, key):
    rep = marked_report
    by = {t["name"]: t for t in rep["tests"]}
    assert by["weight_watermark"]["rejected"] and by["weight_watermark"]["p_value"] < 1e-12
    assert by["trigger_fingerprint"]["rejected"] and by["trigger_fingerprint"]["p_value"] < 1e-12
    assert by["weight_similarity"]["rejected"]
    assert by["text_radioactivity"]["applicable"] and not by["text_radioactivity"]["rejected"]
    assert by["functional_watermark"]["rejected"] and by["functional_watermark"]["p_value"] < 1e-12
    assert rep["verdict"]["evidence"] and rep["verdict"]["n_applicable"] == 5
    assert rep["key"]["commitment"] == key.commitment
    assert "model.safetensors" in rep["suspect"]["file_sha256"]
    assert check_signature(rep, key.public_key_hex())
    forged = json.loads(json.dumps(rep))
    forged["verdict"]["evidence"] = False
    assert not check_signature(forged, key.public_key_hex())


def test_cli_exit_codes_and_json(marked_dir, base_dir, key_file, tmp_path, capsys):
    out = tmp_path / "r.json"
    assert main(["verify", str(base_dir), "--key", str(key_file), "--out", str(out)]) == 1
    text = capsys.readouterr().out
    assert "no evidence" in text and "weight_similarity" in text and "not applicable" in text
    rep = json.loads(out.read_text())
    assert rep["verdict"]["evidence"] is False
    assert all(t["p_value"] is None or t["p_value"] > 1e-3 for t in rep["tests"])


def test_bin_format_and_renamed_prefix_still_verified(marked_model, tokenizer, key, tmp_path):
    """A thief re-saves as pytorch_model.bin: same weights, other format; still evidence."""
    d = tmp_path / "bin"
    marked_model.save_pretrained(d, safe_serialization=False) if _supports_bin() else _save_bin(
        marked_model, d
    )
    tokenizer.save_pretrained(d)
    assert ModelDir.open(d).fmt == "bin"
    rep = run_verify(d, key, tests=["weight_watermark"])
    assert rep["verdict"]["evidence"]


def _supports_bin() -> bool:
    import inspect

    from transformers import PreTrainedModel

    return "safe_serialization" in inspect.signature(PreTrainedModel.save_pretrained).parameters


def _save_bin(model, d):
    d.mkdir()
    model.config.save_pretrained(d)
    torch.save(model.state_dict(), d / "pytorch_model.bin")


def test_not_a_model_dir_and_truncated_safetensors(tmp_path, key_file, marked_dir, capsys):
    (tmp_path / "notes.txt").write_text("hello")
    assert main(["verify", str(tmp_path), "--key", str(key_file)]) == 2
    assert "no config.json" in capsys.readouterr().err
    assert main(["verify", str(tmp_path / "missing"), "--key", str(key_file)]) == 2
    trunc = tmp_path / "trunc"
    shutil.copytree(marked_dir, trunc)
    st = trunc / "model.safetensors"
    st.write_bytes(st.read_bytes()[: st.stat().st_size // 2])
    with pytest.raises(ModelDirError, match="truncated"):
        ModelDir.open(trunc)
    assert main(["verify", str(trunc), "--key", str(key_file)]) == 2
    assert "truncated" in capsys.readouterr().err
    (trunc / "model.safetensors").write_bytes(b"\x05")
    assert main(["verify", str(trunc), "--key", str(key_file)]) == 2


def test_tampered_key_is_refused(tmp_path, key_file, marked_dir, capsys):
    doc = json.loads(key_file.read_text())
    doc["secret"] = ("f" if doc["secret"][0] != "f" else "e") + doc["secret"][1:]
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(doc))
    assert main(["verify", str(marked_dir), "--key", str(bad)]) == 2
    assert "tampered" in capsys.readouterr().err


def test_other_architecture_without_tokenizer(tokenizer, key, tmp_path):
    """A BERT-style encoder: no generation tests apply; the weight test runs and finds nothing."""
    from transformers import BertConfig, BertModel

    torch.manual_seed(5)
    model = BertModel(
        BertConfig(
            vocab_size=300, hidden_size=64, num_hidden_layers=2, num_attention_heads=4, intermediate_size=128
        )
    )
    d = tmp_path / "bert"
    model.save_pretrained(d)
    rep = run_verify(d, key)
    by = {t["name"]: t for t in rep["tests"]}
    assert by["weight_watermark"]["applicable"] and by["weight_watermark"]["p_value"] > 1e-3
    assert not by["trigger_fingerprint"]["applicable"] and not by["text_radioactivity"]["applicable"]
    assert rep["verdict"]["evidence"] is False


def test_verify_report_is_recorded_in_the_audit_log(marked_dir, key_file, tmp_path):
    """With --audit-store the signed report's summary becomes a record in the tamper-evident log."""
    import subprocess
    import sys

    import orjson

    store = f"sqlite:///{tmp_path / 'audit.db'}"
    code = main(["verify", str(marked_dir), "--key", str(key_file), "--audit-store", store])
    assert code == 0  # evidence found
    out = subprocess.run(
        [sys.executable, "-m", "audit", "export", "--store", store, "--format", "jsonl"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    records = [orjson.loads(orjson.loads(x)["body"]) for x in out.splitlines() if '"kind":"record"' in x]
    rec = [r for r in records if r["type"] == "watermark.verify"]
    assert len(rec) == 1 and "evidence" in orjson.dumps(rec[0]["payload"]).decode()
    v = subprocess.run(
        [sys.executable, "-m", "audit", "verify", "--store", store], capture_output=True, text=True
    )
    assert v.returncode == 0, v.stdout + v.stderr


def test_another_tiny_architecture_is_verified(tokenizer, key, tmp_path):
    model = tinymodels.tiny_gpt2(len(tokenizer), seed=11)
    d = tinymodels.save(model, tokenizer, tmp_path / "gpt2")
    rep = run_verify(d, key)
    assert rep["verdict"]["evidence"] is False
    assert {t["name"] for t in rep["tests"] if t["applicable"]} >= {"weight_watermark", "trigger_fingerprint"}


def _permute_residual(model, seed=6):
    m = copy.deepcopy(model)
    perm = torch.randperm(m.config.hidden_size, generator=torch.Generator().manual_seed(seed))
    with torch.no_grad():
        for name, p in m.named_parameters():
            if name.endswith(
                (
                    "embed_tokens.weight",
                    "q_proj.weight",
                    "k_proj.weight",
                    "v_proj.weight",
                    "gate_proj.weight",
                    "up_proj.weight",
                    "lm_head.weight",
                )
            ):
                p.copy_(p[:, perm])
            elif name.endswith("norm.weight"):
                p.copy_(p[perm])
            elif name.endswith(("o_proj.weight", "down_proj.weight")):
                p.copy_(p[perm, :])
    return m


def test_residual_permutation_is_undone_with_reference(marked_model, tokenizer, key, base_dir, tmp_path):
    thief = _permute_residual(marked_model)
    x = torch.randint(0, 500, (1, 10))
    assert torch.allclose(thief(x).logits, marked_model(x).logits, atol=1e-4)  # same function
    d = tinymodels.save(thief, tokenizer, tmp_path / "perm")
    blind = run_verify(d, key, tests=["weight_watermark"])
    aligned = run_verify(d, key, reference_dir=base_dir, tests=["weight_watermark"])
    assert blind["tests"][0]["p_value"] > 1e-6
    assert aligned["tests"][0]["details"]["channels_moved"] > 0
    assert aligned["tests"][0]["p_value"] < 1e-12 and aligned["verdict"]["evidence"]
