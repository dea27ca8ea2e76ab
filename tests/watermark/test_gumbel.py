"""Issue 16 item 4: the distortion-free text mark (exponential-minimum / Gumbel sampling)."""

from __future__ import annotations

import torch
from scipy.stats import chisquare, kstest

from watermark import greenlist, gumbel


def _mul32_halves(x: torch.Tensor, c: int) -> torch.Tensor:
    return ((((x >> 16) * c) & 0xFFFF) << 16) + (x & 0xFFFF) * c & 0xFFFFFFFF


def test_wrapping_multiplication_is_exact_mod_2_32():
    """Both hashes multiply 32-bit values in int64 and rely on wrap-around keeping the low bits."""
    x = torch.randint(0, 2**32, (4096,), dtype=torch.int64, generator=torch.Generator().manual_seed(0))
    x[:4] = torch.tensor([0, 1, 2**31, 2**32 - 1])
    for c in (0x85EBCA6B, 0xC2B2AE35, 2**32 - 1):
        assert torch.equal(greenlist._mul32(x, c), _mul32_halves(x, c))
        assert torch.equal(greenlist._mul32(x.view(64, 64), c).flatten(), _mul32_halves(x, c))
    assert torch.equal(gumbel.fmix32_fast(x), greenlist.fmix32(x))
    assert int(greenlist.fmix32(torch.tensor([1]))[0]) == 0x514E28B7  # murmur3 fmix32(1), a published vector


def test_sampling_is_distortion_free(key):
    """Over distinct contexts the chosen token follows p exactly (chi-square against p)."""
    n, vocab = 12000, 48
    uni = gumbel.KeyedUniforms.build(key, 50000, 2)
    proc = gumbel.GumbelLogitsProcessor(uni, mask_repeated=False)
    g = torch.Generator().manual_seed(1)
    p = torch.softmax(1.5 * torch.randn(vocab, generator=g, dtype=torch.float64), 0)
    ctx = torch.randint(0, 50000, (n, 2), generator=g)
    out = proc(ctx, torch.log(p).float().expand(n, vocab).clone())
    assert bool((torch.isfinite(out).sum(1) == 1).all())  # one token left
    counts = torch.bincount(out.argmax(1), minlength=vocab).double()
    assert chisquare(counts.numpy(), (p / p.sum() * n).numpy()).pvalue > 1e-4
    assert gumbel.token_scores([5, 6], uni) == []  # no full context yet: nothing scored


def test_null_p_values_are_uniform_and_conservative(key, other_key):
    uni = gumbel.KeyedUniforms.build(key, 1000, 2)
    g = torch.Generator().manual_seed(2)
    ps = [
        gumbel.detect_tokens(torch.randint(0, 1000, (80,), generator=g).tolist(), uni).p_value
        for _ in range(400)
    ]
    assert kstest(ps, "uniform").statistic < 0.08
    assert sum(p <= 0.01 for p in ps) <= 12 and min(ps) > 1e-4


def test_generation_is_detected_and_repeated_contexts_are_not_double_counted(
    base_model, tokenizer, key, other_key
):
    from transformers import LogitsProcessorList

    proc = gumbel.GumbelLogitsProcessor.from_key(key, base_model.config.vocab_size)
    prompt = torch.tensor([tokenizer.encode("The module provides")] * 2)
    torch.manual_seed(0)
    with torch.no_grad():
        marked = base_model.generate(
            prompt,
            attention_mask=torch.ones_like(prompt),
            do_sample=True,
            top_k=0,
            max_new_tokens=48,
            min_new_tokens=48,
            pad_token_id=0,
            logits_processor=LogitsProcessorList([proc]),
        )
        plain = base_model.generate(
            prompt,
            attention_mask=torch.ones_like(prompt),
            do_sample=True,
            top_k=0,
            max_new_tokens=48,
            min_new_tokens=48,
            pad_token_id=0,
        )
    width = prompt.shape[1]
    uni = proc.uniforms
    for row in marked:
        r = gumbel.detect_tokens(row[width:].tolist(), uni)
        assert r.verdict and r.p_value < 1e-6, r
        assert (
            gumbel.detect_tokens(row[width:].tolist(), gumbel.KeyedUniforms.build(other_key, 512, 2)).p_value
            > 1e-3
        )
    for row in plain:
        assert gumbel.detect_tokens(row[width:].tolist(), uni).p_value > 1e-3
    # a text repeating itself: each context is scored once, so repeating adds no evidence
    once = marked[0, width:].tolist()
    r1, r3 = gumbel.detect_tokens(once, uni), gumbel.detect_tokens(once * 3, uni)
    assert r3.n_scored <= r1.n_scored + 2 and r3.p_value >= r1.p_value * 1e-2


def test_cli_detect_gumbel(base_model, tokenizer, key, key_file, base_dir, capsys):
    from transformers import LogitsProcessorList

    from watermark.cli import main

    proc = gumbel.GumbelLogitsProcessor.from_key(key, base_model.config.vocab_size)
    prompt = torch.tensor([tokenizer.encode("The module provides")])
    torch.manual_seed(3)
    with torch.no_grad():
        out = base_model.generate(
            prompt,
            attention_mask=torch.ones_like(prompt),
            do_sample=True,
            top_k=0,
            max_new_tokens=48,
            min_new_tokens=48,
            pad_token_id=0,
            logits_processor=LogitsProcessorList([proc]),
        )
    text = tokenizer.decode(out[0, prompt.shape[1] :])
    assert (
        main(
            [
                "detect",
                "--text",
                text,
                "--key",
                str(key_file),
                "--tokenizer",
                str(base_dir),
                "--scheme",
                "gumbel",
            ]
        )
        == 0
    )
    assert "watermark detected" in capsys.readouterr().out
    assert (
        main(["detect", "--text", text, "--key", str(key_file), "--tokenizer", str(base_dir)]) == 1
    )  # not a KGW text
