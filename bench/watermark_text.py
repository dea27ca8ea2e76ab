"""Text watermarks side by side on SmolLM2-135M-Instruct: ours (KGW and Gumbel) against transformers' KGW and SynthID.

One run, same prompts, same sampling (temperature 1, no truncation), on CPU. Prints one
table and writes JSON. Per scheme:

- perplexity of the generated continuations under the unwatermarked model, and its ratio
  to the unwatermarked generations of the same run (target for a distortion-free mark: <= 1.02);
- median scored tokens until p < 1e-3 (exact p-values: binomial for KGW, Gamma for Gumbel,
  binomial over g-values for SynthID's mean score);
- detection rate at p < 1e-3 after replacing 20% of the response tokens by random tokens;
- false positives at p < 1e-3 on human paragraphs and on unwatermarked generations;
- milliseconds per processor call (batch 20, vocabulary 49152), and the ratio to transformers' KGW.

Counts are small because 2 shared CPU cores generate slowly: ``--n-wm`` generations per
watermarked scheme (default 48), ``--n-plain`` unwatermarked (default 120), ``--new-tokens``
(default 128); human paragraphs are the standard library's docstrings (real English,
written by people; ``watermark.tinymodels.corpus``), at most ``--n-human`` (default 150).

    .venv/bin/python bench/watermark_text.py [--quick] [--json watermark_text.json]
"""

from __future__ import annotations

import argparse
import json
import math
import random
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.watermark_eval import smollm2_dir  # noqa: E402
from watermark import gumbel, tinymodels  # noqa: E402
from watermark.keys import WatermarkKey  # noqa: E402
from watermark.stats import binomial_sf  # noqa: E402
from watermark.text import KGWLogitsProcessor, TextWatermarkConfig  # noqa: E402

ALPHA = 1e-3
PROMPTS = [
    "Write a short story about a lighthouse keeper.",
    "Explain how vaccines train the immune system.",
    "Describe the history of the printing press.",
    "Give advice to someone starting to learn the piano.",
    "What are the causes of inflation?",
    "Describe a walk through a forest in autumn.",
    "Explain the rules of chess to a beginner.",
    "Why is the sky blue?",
    "How do bees make honey?",
    "Write a letter to a friend who moved abroad.",
    "What should I pack for a week of hiking?",
    "Explain photosynthesis to a ten-year-old.",
    "Describe the city of Lisbon.",
    "What makes a good team leader?",
    "How does a bicycle stay upright?",
    "Summarise the plot of a detective novel you invent.",
    "Give tips for sleeping better.",
    "Explain what a neural network is.",
    "Describe your ideal breakfast.",
    "Why do leaves change colour?",
    "How do I start a vegetable garden?",
    "Write a poem about the sea.",
    "What was the Industrial Revolution?",
    "Explain how a refrigerator works.",
    "Describe a busy market in the morning.",
    "What are good habits for learning a language?",
    "Explain the water cycle.",
    "Write a product description for a wool scarf.",
    "How do airplanes fly?",
    "Tell me about the Moon landing.",
    "How can a small town attract tourists?",
    "Explain compound interest with an example.",
    "Describe a thunderstorm from the point of view of a cat.",
    "What is the role of the liver?",
    "Give a recipe for a simple tomato soup.",
    "Why do we have seasons?",
    "Write a short speech for a school graduation.",
    "Explain how elections work in a democracy.",
    "What are the benefits of walking every day?",
    "Describe an old library.",
    "How does recycling help the environment?",
    "Explain what DNA is.",
    "Write a diary entry of a sailor.",
    "What is the difference between weather and climate?",
    "How do volcanoes form?",
    "Give advice for a first job interview.",
    "Describe the taste of coffee to someone who never had it.",
    "Explain why the Roman Empire fell.",
]


def chat_batch(tok, prompts: list[str]):
    texts = [
        tok.apply_chat_template([{"role": "user", "content": p}], tokenize=False, add_generation_prompt=True)
        for p in prompts
    ]
    return tok(texts, return_tensors="pt", padding=True, padding_side="left")


@torch.no_grad()
def generate(
    model,
    tok,
    prompts: list[str],
    n_new: int,
    batch: int,
    seed: int,
    processors=None,
    watermarking_config=None,
) -> list[dict[str, Any]]:
    """Generations with their response ids and per-token NLL under the unwatermarked model."""
    from transformers import LogitsProcessorList

    out: list[dict[str, Any]] = []
    for i in range(0, len(prompts), batch):
        chunk = prompts[i : i + batch]
        enc = chat_batch(tok, chunk)
        torch.manual_seed(seed + i)
        procs = LogitsProcessorList(processors()) if processors else None
        g = model.generate(
            **enc,
            do_sample=True,
            top_k=0,
            temperature=1.0,
            max_new_tokens=n_new,
            min_new_tokens=n_new,
            logits_processor=procs,
            watermarking_config=watermarking_config,
            pad_token_id=tok.pad_token_id,
        )
        mask = torch.cat([enc["attention_mask"], torch.ones(g.shape[0], n_new, dtype=torch.long)], dim=1)
        logits = model(input_ids=g, attention_mask=mask).logits[:, -n_new - 1 : -1].float()
        nll = torch.nn.functional.cross_entropy(logits.transpose(1, 2), g[:, -n_new:], reduction="none")
        for row, row_nll in zip(g, nll, strict=True):
            out.append({"ids": row[-n_new:].tolist(), "nll": row_nll.tolist()})
    return out


# ---------------------------------------------------------------- scorers: ids -> cumulative p-values
class KGWScorer:
    def __init__(self, green, gamma: float, h: int) -> None:
        self.green, self.gamma, self.h = green, gamma, h

    def p_values(self, ids: list[int]) -> list[float]:
        seen, k, ps = set(), 0, []
        for t in range(self.h, len(ids)):
            pair = tuple(ids[t - self.h : t + 1])
            if pair in seen:
                continue
            seen.add(pair)
            k += self.green(ids[:t], ids[t])
            ps.append(binomial_sf(k, len(ps) + 1, self.gamma))
        return ps


class GumbelScorer:
    def __init__(self, uniforms: gumbel.KeyedUniforms) -> None:
        self.u = uniforms

    def p_values(self, ids: list[int]) -> list[float]:
        s, ps = 0.0, []
        for i, x in enumerate(gumbel.token_scores(ids, self.u), start=1):
            s += x
            ps.append(gumbel.p_value(s, i))
        return ps


class SynthIDScorer:
    """SynthID-Text's mean score: g-values of non-repeated contexts, Binomial(n * depth, 1/2) under the null."""

    def __init__(self, proc) -> None:
        self.proc = proc

    def p_values(self, ids: list[int]) -> list[float]:
        x = torch.tensor([ids])
        if x.shape[1] < self.proc.ngram_len:
            return []
        g = self.proc.compute_g_values(x)[0]  # (positions, depth)
        keep = self.proc.compute_context_repetition_mask(x)[0].bool()
        depth = g.shape[1]
        k, n, ps = 0, 0, []
        for row, ok in zip(g, keep, strict=True):
            if not ok:
                continue
            k += int(row.sum())
            n += depth
            ps.append(binomial_sf(k, n, 0.5))
        return ps


def tokens_to(ps: list[float], alpha: float = ALPHA) -> int | None:
    return next((i for i, p in enumerate(ps, start=1) if p < alpha), None)


def substitute(ids: list[int], frac: float, vocab: int, rng: random.Random) -> list[int]:
    out = list(ids)
    for i in rng.sample(range(len(out)), int(round(frac * len(out)))):
        out[i] = rng.randrange(vocab)
    return out


def perplexity(gens: list[dict[str, Any]]) -> float:
    nll = [x for g in gens for x in g["nll"]]
    return math.exp(sum(nll) / len(nll))


def ppl_ratio_ci(gens: list[dict[str, Any]], base: list[dict[str, Any]], rng: random.Random, n: int = 1000):
    """Bootstrap 95% interval of the perplexity ratio (resampling generations)."""
    rs = []
    for _ in range(n):
        a = [gens[rng.randrange(len(gens))] for _ in gens]
        b = [base[rng.randrange(len(base))] for _ in base]
        rs.append(perplexity(a) / perplexity(b))
    rs.sort()
    return rs[int(0.025 * n)], rs[int(0.975 * n)]


def per_call_ms(proc_factory, batch: int, vocab: int, calls: int = 30) -> float:
    g = torch.Generator().manual_seed(0)
    scores = torch.randn(batch, vocab, generator=g)
    ids = torch.randint(0, vocab, (batch, 64), generator=g)
    proc = proc_factory()
    for _ in range(3):
        proc(ids, scores.clone())
    times = []
    for _ in range(calls):
        s = scores.clone()
        t0 = time.perf_counter()
        proc(ids, s)
        times.append(time.perf_counter() - t0)
    return 1000 * statistics.median(times)


def human_paragraphs(tok, n: int, max_tokens: int) -> list[list[int]]:
    out = []
    for para in tinymodels.corpus():
        ids = tok.encode(para, add_special_tokens=False)
        if len(ids) >= 48:
            out.append(ids[:max_tokens])
        if len(out) >= n:
            break
    return out


def human_only(schemes: dict[str, dict[str, Any]], tok, args) -> int:
    human = human_paragraphs(tok, args.n_human, args.new_tokens)
    print(
        f"false positives at p < {ALPHA:g} on {len(human)} human paragraphs (stdlib docstrings, "
        f"at most {args.new_tokens} tokens each), SmolLM2 tokenizer"
    )
    print("| detector | false positives | p <= 1e-2 | min p |")
    print("| --- | --- | --- | --- |")
    res = {}
    for name, s in schemes.items():
        ps = [(s["scorer"].p_values(h) or [1.0])[-1] for h in human]
        res[name] = {
            "fp_1e-3": sum(p < ALPHA for p in ps),
            "fp_1e-2": sum(p <= 1e-2 for p in ps),
            "min_p": min(ps),
            "n": len(ps),
        }
        print(
            f"| {name} | {res[name]['fp_1e-3']}/{len(ps)} | {res[name]['fp_1e-2']}/{len(ps)} | {min(ps):.2g} |"
        )
    Path(args.json).write_text(json.dumps(res, indent=2))
    return 0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--json", default="watermark_text.json")
    ap.add_argument("--cache", default="/tmp/wm_eval_cache")
    ap.add_argument("--n-wm", type=int, default=48)
    ap.add_argument("--n-plain", type=int, default=120)
    ap.add_argument("--n-human", type=int, default=150)
    ap.add_argument("--new-tokens", type=int, default=128)
    ap.add_argument("--batch", type=int, default=24)
    ap.add_argument("--quick", action="store_true", help="4 generations per scheme, 48 tokens (smoke run)")
    ap.add_argument(
        "--speed-only", action="store_true", help="no generation: milliseconds per processor call only"
    )
    ap.add_argument(
        "--human-only",
        action="store_true",
        help="no generation: false positives of the four detectors on --n-human paragraphs only",
    )
    args = ap.parse_args()
    if args.quick:
        args.n_wm, args.n_plain, args.n_human, args.new_tokens, args.batch = 4, 8, 20, 48, 4
    torch.set_num_threads(2)
    from transformers import (
        AutoModelForCausalLM,
        AutoTokenizer,
        SynthIDTextWatermarkingConfig,
        SynthIDTextWatermarkLogitsProcessor,
        WatermarkLogitsProcessor,
    )

    t_start = time.perf_counter()
    mdir = smollm2_dir(Path(args.cache))
    tok = AutoTokenizer.from_pretrained(mdir)
    model = (
        None
        if args.human_only or args.speed_only
        else AutoModelForCausalLM.from_pretrained(mdir, dtype=torch.float32).eval()
    )
    vocab = len(tok) if model is None else model.config.vocab_size
    key = WatermarkKey.generate()
    kcfg = TextWatermarkConfig()
    gcfg = gumbel.GumbelConfig()
    synth_keys = [int.from_bytes(key.prf("bench-synthid", i)[:4], "big") % 1000 for i in range(20)]
    synth_cfg = SynthIDTextWatermarkingConfig(keys=synth_keys, ngram_len=5)

    def hf_kgw():
        return WatermarkLogitsProcessor(
            vocab_size=vocab,
            device="cpu",
            greenlist_ratio=kcfg.gamma,
            bias=kcfg.delta,
            seeding_scheme="lefthash",
            context_width=kcfg.context_width,
        )

    def synth_proc():  # the processor generate() builds from synth_cfg (its defaults spelled out)
        return SynthIDTextWatermarkLogitsProcessor(
            ngram_len=5,
            keys=synth_keys,
            sampling_table_size=2**16,
            sampling_table_seed=0,
            context_history_size=1024,
            device="cpu",
        )

    ours_kgw = KGWLogitsProcessor.from_key(key, vocab, kcfg)
    hf_scorer_proc = hf_kgw()
    schemes: dict[str, dict[str, Any]] = {
        "ours: Gumbel (distortion-free)": {
            "procs": lambda: [gumbel.GumbelLogitsProcessor.from_key(key, vocab, gcfg)],
            "scorer": GumbelScorer(gumbel.KeyedUniforms.build(key, vocab, gcfg.context_width)),
        },
        "ours: KGW": {
            "procs": lambda: [ours_kgw],
            "scorer": KGWScorer(
                lambda pre, t: bool(
                    ours_kgw.greenlist.is_green(torch.tensor([pre[-1:]]), torch.tensor([t]))[0]
                ),
                kcfg.gamma,
                1,
            ),
        },
        "transformers: KGW": {
            "procs": lambda: [hf_kgw()],
            "scorer": KGWScorer(
                lambda pre, t: bool((hf_scorer_proc._get_greenlist_ids(torch.tensor(pre)) == t).any()),
                kcfg.gamma,
                1,
            ),
        },
        "transformers: SynthID": {"watermarking_config": synth_cfg, "scorer": SynthIDScorer(synth_proc())},
    }
    rng = random.Random(0)
    if args.human_only:
        return human_only(schemes, tok, args)
    if args.speed_only:
        res: dict[str, Any] = {}
        speed_table(key, vocab, kcfg, gcfg, hf_kgw, synth_proc, res)
        Path(args.json).write_text(json.dumps(res, indent=2))
        return 0
    prompts_wm = [PROMPTS[i % len(PROMPTS)] for i in range(args.n_wm)]
    prompts_plain = [PROMPTS[i % len(PROMPTS)] for i in range(args.n_plain)]
    results: dict[str, Any] = {
        "model": "SmolLM2-135M-Instruct",
        "new_tokens": args.new_tokens,
        "n_wm": args.n_wm,
        "n_plain": args.n_plain,
        "alpha": ALPHA,
        "schemes": {},
    }
    t0 = time.perf_counter()
    plain = generate(model, tok, prompts_plain, args.new_tokens, args.batch, seed=1000)
    results["gen_seconds_plain"] = time.perf_counter() - t0
    base_ppl = perplexity(plain[: args.n_wm])
    human = human_paragraphs(tok, args.n_human, args.new_tokens)
    results["n_human"] = len(human)
    results["perplexity_plain"] = base_ppl
    print(f"unwatermarked: {len(plain)} generations, perplexity {base_ppl:.2f}", flush=True)
    for name, s in schemes.items():
        t0 = time.perf_counter()
        gens = generate(
            model,
            tok,
            prompts_wm,
            args.new_tokens,
            args.batch,
            seed=1000,
            processors=s.get("procs"),
            watermarking_config=s.get("watermarking_config"),
        )
        gen_s = time.perf_counter() - t0
        scorer = s["scorer"]
        needed = [tokens_to(scorer.p_values(g["ids"])) for g in gens]
        final = [(scorer.p_values(g["ids"]) or [1.0])[-1] for g in gens]
        sub = [(scorer.p_values(substitute(g["ids"], 0.2, vocab, rng)) or [1.0])[-1] for g in gens]
        fp_human = sum((scorer.p_values(h) or [1.0])[-1] < ALPHA for h in human)
        fp_plain = sum((scorer.p_values(g["ids"]) or [1.0])[-1] < ALPHA for g in plain)
        hits = [n for n in needed if n is not None]
        ppl = perplexity(gens)
        lo, hi = ppl_ratio_ci(gens, plain[: args.n_wm], rng)
        row = {
            "perplexity": ppl,
            "ppl_ratio": ppl / base_ppl,
            "ppl_ratio_ci95": [lo, hi],
            "detected": f"{sum(p < ALPHA for p in final)}/{len(final)}",
            "median_tokens_to_p1e-3": statistics.median(hits) if hits else None,
            "reached_p1e-3": f"{len(hits)}/{len(needed)}",
            "detected_after_20pct_substitution": sum(p < ALPHA for p in sub) / len(sub),
            "false_positives_human": f"{fp_human}/{len(human)}",
            "false_positives_plain": f"{fp_plain}/{len(plain)}",
            "gen_seconds": gen_s,
        }
        results["schemes"][name] = row
        results.setdefault("generations", {})[name] = [g["ids"] for g in gens]
        print(name, json.dumps(row), flush=True)
        Path(args.json).write_text(json.dumps(results))  # partial results survive an interrupted run
    speed_table(key, vocab, kcfg, gcfg, hf_kgw, synth_proc, results)
    results["total_seconds"] = time.perf_counter() - t_start
    Path(args.json).write_text(json.dumps(results, indent=2))
    print()
    print(
        f"SmolLM2-135M-Instruct, {args.n_wm} generations x {args.new_tokens} tokens per scheme, "
        f"{args.n_plain} unwatermarked, {len(human)} human paragraphs; p < {ALPHA:g}"
    )
    print(
        "| scheme | perplexity ratio (95% CI) | median tokens to p<1e-3 | reached | after 20% substitution "
        "| FP human | FP unwatermarked | ms/call (ratio to tf KGW) |"
    )
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    for name, r in results["schemes"].items():
        lo, hi = r["ppl_ratio_ci95"]
        print(
            f"| {name} | {r['ppl_ratio']:.3f} ({lo:.2f}-{hi:.2f}) | {r['median_tokens_to_p1e-3']} | "
            f"{r['reached_p1e-3']} | {100 * r['detected_after_20pct_substitution']:.0f}% | {r['false_positives_human']} | "
            f"{r['false_positives_plain']} | {r['ms_per_call']:.1f} ({r['speed_ratio_vs_transformers_kgw']:.2f}x) |"
        )
    print(f"\ntotal {results['total_seconds']:.0f} s; JSON in {args.json}")
    return 0


def speed_table(key, vocab, kcfg, gcfg, hf_kgw, synth_proc, results: dict[str, Any]) -> None:
    """Milliseconds per processor call, batch 20, the full vocabulary, one after another in one process (median of 30 calls)."""
    speed = {
        "ours: Gumbel (distortion-free)": per_call_ms(
            lambda: gumbel.GumbelLogitsProcessor.from_key(key, vocab, gcfg), 20, vocab
        ),
        "ours: KGW": per_call_ms(lambda: KGWLogitsProcessor.from_key(key, vocab, kcfg), 20, vocab),
        "transformers: KGW": per_call_ms(hf_kgw, 20, vocab),
        "transformers: SynthID": per_call_ms(synth_proc, 20, vocab),
    }
    base = speed["transformers: KGW"]
    for name, ms in speed.items():
        row = results.setdefault("schemes", {}).setdefault(name, {})
        row["ms_per_call"] = ms
        row["speed_ratio_vs_transformers_kgw"] = ms / base
        print(f"{name}: {ms:.1f} ms per call ({ms / base:.2f}x transformers' KGW)", flush=True)


if __name__ == "__main__":
    raise SystemExit(main())
