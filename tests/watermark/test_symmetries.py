"""Issue 16, item 1: every function-preserving transform keeps the verdict, without a reference copy.

Each attack first asserts that the logits did not change, then that verify still finds
the mark (evidence, small p); an independent twin of the same architecture gives exit 1.
"""

from __future__ import annotations

import zlib

import pytest
import torch

from watermark import attacks, functional, tinymodels
from watermark.cli import main
from watermark.verify import run_verify

from .conftest import FN_CONFIG

ARCHS = {"llama": None, "qwen2": tinymodels.tiny_qwen2, "gpt2": tinymodels.tiny_gpt2}
CASES = [
    (arch, t) for arch in ARCHS for t in [*attacks.TRANSFORMS["gpt2" if arch == "gpt2" else "llama"], "all"]
]


@pytest.fixture(scope="module")
def marked(marked_model, tokenizer, key, calib):
    """Marked models per architecture: the shipped Llama of conftest, and Qwen2/GPT-2 with the functional mark."""
    models = {"llama": marked_model}
    for arch in ("qwen2", "gpt2"):
        m = ARCHS[arch](len(tokenizer), seed=21)
        with torch.no_grad():  # non-trivial norms, so folding them is a real change
            for p in m.parameters():
                if p.dim() == 1:
                    p.add_(0.2 * torch.randn_like(p))
        assert functional.embed(m, key, calib, FN_CONFIG)["n_match"] == 256
        models[arch] = m
    return models


def _logits(model, x):
    with torch.no_grad():
        return model(input_ids=x).logits


@pytest.mark.parametrize(("arch", "transform"), CASES, ids=[f"{a}-{t}" for a, t in CASES])
def test_function_preserving_transform_keeps_the_evidence(marked, arch, transform, tokenizer, key, tmp_path):
    model = marked[arch]
    thief = attacks.apply(model, transform, seed=zlib.crc32(f"{arch}/{transform}".encode()))
    x = torch.randint(0, len(tokenizer), (2, 16), generator=torch.Generator().manual_seed(1))
    ref = _logits(model, x)
    assert torch.allclose(_logits(thief, x), ref, atol=1e-4, rtol=0), "the transform changed the function"
    changed = [
        n
        for n, p in thief.state_dict().items()
        if n not in model.state_dict() or not torch.equal(p, model.state_dict()[n])
    ]
    assert changed, "the transform changed no weight"
    d = tinymodels.save(thief, tokenizer, tmp_path / "thief")
    rep = run_verify(d, key, tests=["functional_watermark", "weight_watermark"])
    fn = next(t for t in rep["tests"] if t["name"] == "functional_watermark")
    assert fn["p_value"] < 1e-12 and fn["rejected"], fn  # alpha is 1e-3: nine orders of margin
    assert rep["verdict"]["evidence"] and rep["reference"] is None


def test_all_transforms_then_full_cli_verify_and_independent_twins(
    marked, tokenizer, corpus, key_file, tmp_path, capsys
):
    """The whole group at once, through the command line: exit 0; same-architecture twins: exit 1.

    (GPT-2 with every transform at once is the parametrised case gpt2-all above.)"""
    d = tinymodels.save(attacks.apply(marked["llama"], "all", seed=5), tokenizer, tmp_path / "all-llama")
    assert main(["verify", str(d), "--key", str(key_file)]) == 0, capsys.readouterr()
    assert "EVIDENCE" in capsys.readouterr().out
    twins = {  # same layout, other seed, other training
        "llama": tinymodels.train_lm(
            tinymodels.tiny_llama(len(tokenizer), seed=7), tokenizer, corpus, steps=8, seed=8
        ),
        "gpt2": tinymodels.tiny_gpt2(len(tokenizer), seed=22),
    }
    for arch, twin in twins.items():
        d = tinymodels.save(twin, tokenizer, tmp_path / f"twin-{arch}")
        assert main(["verify", str(d), "--key", str(key_file)]) == 1
        out = capsys.readouterr().out
        assert "no evidence" in out and "functional_watermark" in out


def test_functional_null_is_exact_binomial(key, other_key, tokenizer):
    """Unmarked models and other keys: matches over 256 bits behave like Binomial(256, 1/2)."""
    from scipy.stats import binomtest

    matches = []
    for seed in range(12):
        m = tinymodels.tiny_llama(len(tokenizer), seed=100 + seed, layers=1, hidden=32, intermediate=64)
        matches.append(functional.verify(m, key).n_match)
    total = sum(matches)
    assert binomtest(total, 256 * len(matches), 0.5).pvalue > 1e-4
    assert all(
        functional.verify(m, other_key).p_value > 1e-6 for m in [tinymodels.tiny_gpt2(len(tokenizer), seed=3)]
    )
