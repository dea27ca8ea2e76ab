import copy

import torch

from watermark import tinymodels
from watermark.targets import find_targets
from watermark.weights import embed, extract


def _sd(model):
    return {n: t.detach().clone() for n, t in model.state_dict().items()}


def _p(sd, key):
    return extract(lambda n: sd[n], list(sd), key).p_value


def test_embed_extract_and_attacks(marked_model, base_model, key, other_key):
    sd = _sd(marked_model)
    assert _p(sd, key) < 1e-12
    assert _p(_sd(base_model), key) > 1e-3
    assert _p(sd, other_key) > 1e-3  # the bits are keyed
    ups = [n for n, _ in find_targets(list(sd))]
    # permutation of hidden units (gate/up rows, down columns): function-preserving, mark survives exactly
    perm_sd = dict(sd)
    g = torch.Generator().manual_seed(0)
    for name in ups:
        prefix = name.rsplit("up_proj", 1)[0]
        perm = torch.randperm(sd[name].shape[0], generator=g)
        perm_sd[name] = sd[name][perm]
        perm_sd[prefix + "gate_proj.weight"] = sd[prefix + "gate_proj.weight"][perm]
        perm_sd[prefix + "down_proj.weight"] = sd[prefix + "down_proj.weight"][:, perm]
    assert _p(perm_sd, key) == _p(sd, key)
    x = torch.randint(0, 500, (1, 12))
    permuted = copy.deepcopy(marked_model)
    permuted.load_state_dict(perm_sd)
    assert torch.allclose(permuted(x).logits, marked_model(x).logits, atol=1e-4)
    # int8 per-row quantisation and small noise
    q = {}
    for n, t in sd.items():
        if t.dim() == 2:
            scale = t.abs().amax(dim=1, keepdim=True) / 127
            q[n] = torch.round(t / scale).clamp(-127, 127) * scale
        else:
            q[n] = t
    assert _p(q, key) < 1e-9
    noisy = {n: t + 0.1 * t.std() * torch.randn_like(t) if t.dim() == 2 else t for n, t in sd.items()}
    assert _p(noisy, key) < 1e-6


def test_gpt2_family_is_marked_too(tokenizer, key, corpus):
    model = tinymodels.tiny_gpt2(len(tokenizer), seed=3)
    ids = [torch.tensor([tokenizer.encode(t)[:32] for t in corpus[:4] if len(tokenizer.encode(t)) >= 32])]
    info = embed(model, key, ids)
    assert info["final_wm_loss"] == 0.0 and all("c_fc" in n for n in info["layers"])
    assert _p(_sd(model), key) < 1e-12


def test_cli_embed_then_verify(base_dir, key_file, tmp_path, capsys):
    from watermark.cli import main

    out = tmp_path / "embedded"
    assert (
        main(
            [
                "embed",
                str(base_dir),
                "--key",
                str(key_file),
                "--out-dir",
                str(out),
                "--calibration-samples",
                "8",
                "--seq-len",
                "32",
                "--out",
                str(tmp_path / "rec.json"),
            ]
        )
        == 0
    )
    assert "embedded" in capsys.readouterr().out
    import json

    rec = json.loads((tmp_path / "rec.json").read_text())
    # Weight + functional mark: 1.04x run alone, 1.10x after the rest of the suite (same seed; global
    # torch state differs). A broken embed costs far more than 1.15x.
    assert rec["extraction"]["p_value"] < 1e-12 and rec["perplexity_after"] < 1.15 * rec["perplexity_before"]
    assert main(["verify", str(out), "--key", str(key_file), "--out", str(tmp_path / "r.json")]) == 0
    rep = json.loads((tmp_path / "r.json").read_text())
    assert next(t for t in rep["tests"] if t["name"] == "weight_watermark")["rejected"]
    assert (
        main(
            [
                "embed",
                str(base_dir),
                "--key",
                str(key_file),
                "--out-dir",
                str(tmp_path / "x"),
                "--passphrase-env",
                "WM_UNSET_VAR",
            ]
        )
        == 2
    )
