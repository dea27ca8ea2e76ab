"""Calibration at scale: empirical false-positive rates of every verify test and of the text detectors.

Models: ``--n-random`` random initialisations (Llama, Qwen2 and GPT-2 layouts, d_model 32-96,
1-3 layers, two tokenizers) and ``--n-trained`` briefly trained tiny models (same
layouts), plus SmolLM2-135M-Instruct when bench/watermark_text.py has converted it. None
was derived from any key, so every p-value is a draw from the null. Each model is
verified with a fresh key of its own (so p-values of different models are independent
draws; with one fixed key, random inits that behave alike give alike p-values).

Text: ``--n-human`` paragraphs of human-written English (the standard library's
docstrings, ``watermark.tinymodels.corpus``) scored by our KGW and Gumbel detectors under
one key.

Prints, per test and for the combined (Holm) verdict: n, the share of p <= 1e-2 and
<= 1e-3, the KS statistic against U(0,1), and whether the test's p-values are discrete
(a binomial tail takes few values: the KS statistic then measures the atoms, and the
property that matters is P(p <= alpha) <= alpha).

    .venv/bin/python bench/watermark_calibration.py [--n-random 80 --n-trained 30 --n-human 200]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from watermark import gumbel, tinymodels  # noqa: E402
from watermark.keys import WatermarkKey  # noqa: E402
from watermark.text import TextDetector, TextWatermarkConfig  # noqa: E402
from watermark.verify import run_verify  # noqa: E402

SHAPES = [(32, 1, 64), (48, 2, 96), (64, 2, 128), (96, 3, 192), (64, 3, 256), (32, 2, 128)]
ARCHS = ("llama", "qwen2", "gpt2")


def build(arch: str, vocab: int, seed: int, shape: tuple[int, int, int]) -> Any:
    h, layers, inter = shape
    if arch == "gpt2":
        return tinymodels.tiny_gpt2(vocab, seed=seed, hidden=h, layers=layers)
    fn = tinymodels.tiny_llama if arch == "llama" else tinymodels.tiny_qwen2
    return fn(vocab, seed=seed, hidden=h, layers=layers, intermediate=inter)


# Null distributions with atoms, by construction (the KS statistic then measures the atoms).
DISCRETE = {
    "weight_watermark": "Binomial(n_bits, 1/2), 16-192 bits on these models",
    "functional_watermark": "Binomial(256, 1/2)",
    "trigger_fingerprint": "Binomial(16, 1/64): p = 1 whenever no answer matches",
    "text_radioactivity": "Binomial(n, 1/4)",
    "combined (Holm)": "Holm-adjusted: capped at 1",
    "text_kgw (human paragraphs)": "Binomial(n, 1/4)",
    "text_gumbel (human paragraphs)": "",
}


def summarise(values: list[float]) -> dict[str, Any]:
    from scipy.stats import kstest

    n = len(values)
    distinct = len(set(values))
    return {
        "n": n,
        "fpr_1e-2": sum(p <= 1e-2 for p in values) / n,
        "fpr_1e-3": sum(p <= 1e-3 for p in values) / n,
        "min_p": min(values),
        "ks": float(kstest(values, "uniform").statistic),
        "distinct_values": distinct,
        "share_p_eq_1": sum(p >= 1.0 for p in values) / n,
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n-random", type=int, default=80)
    ap.add_argument("--n-trained", type=int, default=30)
    ap.add_argument("--n-human", type=int, default=200)
    ap.add_argument("--train-steps", type=int, default=20)
    ap.add_argument("--cache", default="/tmp/wm_calib_cache")
    ap.add_argument(
        "--smollm2", default="/tmp/wm_eval_cache/smollm2-135m", help="include it if this directory exists"
    )
    ap.add_argument("--min-chars", type=int, default=200, help="shortest human paragraph scored")
    ap.add_argument("--text-only", action="store_true", help="skip the models: human paragraphs only")
    ap.add_argument("--json", default="watermark_calibration.json")
    args = ap.parse_args()
    torch.set_num_threads(2)
    t_start = time.perf_counter()
    cache = Path(args.cache)
    cache.mkdir(parents=True, exist_ok=True)
    corpus = tinymodels.corpus()
    toks = {512: tinymodels.train_tokenizer(corpus, 512), 1024: tinymodels.train_tokenizer(corpus, 1024)}
    models: list[tuple[str, Path]] = []
    for i in range(0 if args.text_only else args.n_random + args.n_trained):
        trained = i >= args.n_random
        arch, shape = ARCHS[i % 3], SHAPES[(i // 3) % len(SHAPES)]
        vocab = 512 if i % 2 == 0 else 1024
        name = f"{'trained' if trained else 'random'}-{arch}-{i}"
        d = cache / name
        if not (d / "config.json").is_file():
            m = build(arch, vocab, seed=10_000 + i, shape=shape)
            if trained:
                tinymodels.train_lm(m, toks[vocab], corpus, steps=args.train_steps, seed=20_000 + i)
            tinymodels.save(m, toks[vocab], d)
        models.append((name, d))
    if Path(args.smollm2, "config.json").is_file() and not args.text_only:
        models.append(("SmolLM2-135M-Instruct", Path(args.smollm2)))
    print(f"{len(models)} models built in {time.perf_counter() - t_start:.0f} s", flush=True)
    per_test: dict[str, list[float]] = {}
    combined: list[float] = []
    rows = []
    for name, d in models:
        rep = run_verify(d, WatermarkKey.generate())
        ps = {t["name"]: t["p_value"] for t in rep["tests"] if t["applicable"]}
        for t, p in ps.items():
            per_test.setdefault(t, []).append(p)
        combined.append(rep["verdict"]["combined_p"])
        rows.append(
            {
                "model": name,
                "tests": ps,
                "combined_p": rep["verdict"]["combined_p"],
                "errors": [t["name"] for t in rep["tests"] if t.get("error")],
                "seconds": rep["elapsed_s"],
            }
        )
        print(name, json.dumps(rows[-1]), flush=True)
    # text detectors on human paragraphs, one key
    key = WatermarkKey.generate()
    paragraphs = list(dict.fromkeys(p for p in corpus if len(p) >= args.min_chars))[
        : args.n_human
    ]  # distinct texts only
    tok = toks[1024]
    kgw = TextDetector.build(key, tok, TextWatermarkConfig(min_tokens=1))
    gdet = gumbel.GumbelDetector.build(key, tok, gumbel.GumbelConfig(min_tokens=1))
    text_ps = {"text_kgw (human paragraphs)": [], "text_gumbel (human paragraphs)": []}
    for para in paragraphs:
        text_ps["text_kgw (human paragraphs)"].append(kgw(para).p_value)
        text_ps["text_gumbel (human paragraphs)"].append(gdet(para).p_value)
    summary = {t: summarise(v) for t, v in per_test.items()}
    if combined:
        summary["combined (Holm)"] = summarise(combined)
    summary.update({t: summarise([p for p in v if p is not None]) for t, v in text_ps.items()})
    out = {
        "n_models": len(models),
        "n_human": len(paragraphs),
        "summary": summary,
        "rows": rows,
        "total_seconds": time.perf_counter() - t_start,
    }
    Path(args.json).write_text(json.dumps(out, indent=2))
    print(
        f"\n{len(models)} unrelated models ({args.n_random} random inits, {args.n_trained} trained, "
        f"{'+ SmolLM2' if len(models) > args.n_random + args.n_trained else 'no SmolLM2'}), fresh key per model; "
        f"{len(paragraphs)} human paragraphs"
    )
    print(
        "| test | n | FPR at 1e-2 | FPR at 1e-3 | min p | KS vs U(0,1) | discrete null | distinct values | share p = 1 |"
    )
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for t, s in summary.items():
        disc = (
            f"yes: {DISCRETE[t]} | {s['distinct_values']} | {s['share_p_eq_1']:.2f}"
            if DISCRETE.get(t)
            else f"no (continuous) | {s['distinct_values']} | {s['share_p_eq_1']:.2f}"
        )
        print(
            f"| {t} | {s['n']} | {s['fpr_1e-2']:.3f} | {s['fpr_1e-3']:.3f} | {s['min_p']:.2g} | {s['ks']:.3f} | {disc} |"
        )
    print(f"\ntotal {out['total_seconds']:.0f} s; JSON in {args.json}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
