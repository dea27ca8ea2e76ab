import json

import pytest
import torch
from transformers import LogitsProcessorList

from watermark.greenlist import GreenList
from watermark.text import (
    KGWLogitsProcessor,
    TextDetector,
    TextWatermarkConfig,
    VLLMWatermark,
    detect,
    score_tokens,
)


def _generate(model, tokenizer, processor=None, n=160, seed=0):
    torch.manual_seed(seed)
    ids = torch.tensor([[tokenizer.eos_token_id]])
    procs = LogitsProcessorList([processor]) if processor is not None else None
    out = model.generate(
        ids,
        attention_mask=torch.ones_like(ids),
        do_sample=True,
        top_k=0,
        max_new_tokens=n,
        min_new_tokens=n,
        logits_processor=procs,
        pad_token_id=tokenizer.eos_token_id,
    )
    return out[0, 1:].tolist()


@pytest.mark.parametrize("self_hash", [False, True])
def test_watermarked_generation_is_detected_and_plain_is_not(
    base_model, tokenizer, key, other_key, self_hash
):
    cfg = TextWatermarkConfig(self_hash=self_hash, context_width=2 if self_hash else 1)
    proc = KGWLogitsProcessor.from_key(key, len(tokenizer), cfg)
    marked = tokenizer.decode(_generate(base_model, tokenizer, proc))
    plain = tokenizer.decode(_generate(base_model, tokenizer, None, seed=1))
    hit = detect(marked, key, tokenizer, cfg)
    assert hit.verdict is True and hit.p_value < 1e-6 and hit.z > 4
    miss = detect(plain, key, tokenizer, cfg)
    assert miss.verdict is False and miss.p_value > 1e-3
    # another key sees nothing in our text
    assert detect(marked, other_key, tokenizer, cfg).verdict is False


def test_vllm_adapter_matches_transformers_processor(key):
    cfg = TextWatermarkConfig(context_width=2)
    hf = KGWLogitsProcessor.from_key(key, 300, cfg)
    vl = VLLMWatermark.from_key(key, 300, cfg)
    logits = torch.randn(300)
    history = [5, 17, 42]
    expected = hf(torch.tensor([history]), logits.unsqueeze(0))[0]
    assert torch.equal(vl(history, logits), expected)
    assert torch.equal(vl([5], logits), logits)  # not enough context: unchanged
    assert int(((expected - logits) > 0).sum()) in range(40, 110)  # about gamma * V boosted


def test_green_fraction_of_unrelated_tokens_is_gamma_and_p_values_are_uniform(key):
    """The null: for token sequences independent of the key, p-values are (super-)uniform."""
    cfg = TextWatermarkConfig(min_tokens=24)
    gl = GreenList.build(key, 1000, cfg.gamma, cfg.context_width, cfg.self_hash)
    g = torch.Generator().manual_seed(7)
    ps = [
        score_tokens(torch.randint(0, 1000, (120,), generator=g).tolist(), gl, cfg).p_value
        for _ in range(300)
    ]
    small = sum(p <= 0.05 for p in ps) / len(ps)
    assert 0.01 <= small <= 0.10  # binomial spread around 0.05 for 300 draws
    assert min(ps) > 1e-4
    every = torch.arange(1000)
    frac = float(gl.is_green(torch.zeros(1000, 1, dtype=torch.long), every).float().mean())
    assert abs(frac - 0.25) < 0.05


def test_repeated_pairs_are_scored_once_and_short_text_gets_no_verdict(key, base_model, tokenizer):
    proc = KGWLogitsProcessor.from_key(key, len(tokenizer))
    marked = _generate(base_model, tokenizer, proc, n=60)
    gl = proc.greenlist
    once = score_tokens(marked, gl, TextWatermarkConfig(min_tokens=1))
    repeated = score_tokens(marked * 5, gl, TextWatermarkConfig(min_tokens=1))
    # the repeats add at most the few new pairs at the seams
    assert repeated.n_scored <= once.n_scored + 1
    assert repeated.p_value >= once.p_value * 0.1
    short = detect("Too short.", key, tokenizer)
    assert short.verdict is None and short.p_value is None and "too little evidence" in short.reason


def test_cli_detect(tmp_path, key_file, tokenizer, base_model, key, capsys):
    from watermark.cli import main

    tokenizer.save_pretrained(tmp_path / "tok")
    proc = KGWLogitsProcessor.from_key(key, len(tokenizer))
    (tmp_path / "t.txt").write_text(tokenizer.decode(_generate(base_model, tokenizer, proc)))
    assert (
        main(
            [
                "detect",
                str(tmp_path / "t.txt"),
                "--key",
                str(key_file),
                "--tokenizer",
                str(tmp_path / "tok"),
                "--json",
            ]
        )
        == 0
    )
    result = json.loads(capsys.readouterr().out)
    assert result["verdict"] is True and result["p_value"] < 1e-6
    assert (
        main(
            ["detect", "--text", "hello there", "--key", str(key_file), "--tokenizer", str(tmp_path / "tok")]
        )
        == 1
    )
    assert "no verdict" in capsys.readouterr().out
    # A FILE that does not exist is an error (exit 2), never scored as text; nor is FILE together with --text.
    assert (
        main(
            [
                "detect",
                str(tmp_path / "nofile.txt"),
                "--key",
                str(key_file),
                "--tokenizer",
                str(tmp_path / "tok"),
            ]
        )
        == 2
    )
    assert "does not exist" in capsys.readouterr().err
    assert (
        main(
            [
                "detect",
                str(tmp_path / "t.txt"),
                "--text",
                "hi",
                "--key",
                str(key_file),
                "--tokenizer",
                str(tmp_path / "tok"),
            ]
        )
        == 2
    )
    assert main(["detect", "--key", str(key_file), "--tokenizer", str(tmp_path / "tok")]) == 2


def test_detector_reuses_tables(key, tokenizer):
    det = TextDetector.build(key, tokenizer)
    assert det("word " * 3).verdict is None
    assert det.greenlist.vocab_size >= len(tokenizer)
