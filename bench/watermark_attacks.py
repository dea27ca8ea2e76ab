"""The attack table: functional and weight watermark p-values under each function-preserving
transform (Llama, Qwen2, GPT-2) and under lossy edits (int8, noise, pruning, fine-tuning).

Tiny models from configs (watermark/tinymodels.py), one key, functional mark embedded with the
default configuration; the Llama also carries the weight mark. Prints a Markdown table.

    .venv/bin/python bench/watermark_attacks.py [--json watermark_attacks.json]
"""

from __future__ import annotations

import argparse
import copy
import json
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from watermark import attacks, calibration, functional, tinymodels, weights  # noqa: E402
from watermark.keys import WatermarkKey  # noqa: E402


def weight_p(model, key) -> float | None:
    sd = {n: t.detach() for n, t in model.state_dict().items()}
    try:
        return weights.extract(lambda n: sd[n], list(sd), key).p_value
    except Exception:
        return None


def lossy(model, kind: str, tok, corpus):
    m = copy.deepcopy(model)
    with torch.no_grad():
        for p in m.parameters():
            if p.dim() != 2:
                continue
            if kind == "int8 per-row":
                scale = p.abs().amax(dim=1, keepdim=True).clamp_min(1e-12) / 127
                p.copy_(torch.round(p / scale).clamp(-127, 127) * scale)
            elif kind.startswith("noise"):
                p.add_(float(kind.split()[1]) * p.std() * torch.randn_like(p))
            elif kind.startswith("prune"):
                frac = float(kind.split()[1].rstrip("%")) / 100
                thr = p.abs().flatten().kthvalue(max(1, int(frac * p.numel()))).values
                p.mul_((p.abs() > thr).float())
    if kind.startswith("fine-tune"):
        steps = int(kind.split()[1])
        tinymodels.train_lm(m, tok, corpus, steps=steps, seed=99, lr=1e-3)
    return m.eval()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--json", default="watermark_attacks.json")
    args = ap.parse_args()
    torch.set_num_threads(2)
    t0 = time.perf_counter()
    corpus = tinymodels.corpus()
    tok = tinymodels.train_tokenizer(corpus, 512)
    key = WatermarkKey.generate()
    rows = []
    x = torch.randint(0, len(tok), (2, 16))
    for arch, build in (
        ("llama", tinymodels.tiny_llama),
        ("qwen2", tinymodels.tiny_qwen2),
        ("gpt2", tinymodels.tiny_gpt2),
    ):
        m = tinymodels.train_lm(build(len(tok), seed=1), tok, corpus, steps=25, seed=2)
        cal = calibration.self_samples(m, tok, 8, 32, seed=3)
        held = calibration.self_samples(m, tok, 8, 32, seed=4)
        ppl0 = calibration.perplexity(m, held)
        if arch == "llama":
            weights.embed(m, key, cal)
        info = functional.embed(m, key, cal)
        ppl1 = calibration.perplexity(m, held)
        rows.append(
            {
                "arch": arch,
                "attack": "none",
                "max_logit_change": 0.0,
                "functional_p": functional.verify(m, key).p_value,
                "weight_p": weight_p(m, key),
                "perplexity_before_mark": ppl0,
                "perplexity": ppl1,
                "embed_steps": info["steps"],
            }
        )
        with torch.no_grad():
            ref = m(input_ids=x).logits
        for t in [*attacks.TRANSFORMS[attacks.family(m)], "all"]:
            a = attacks.apply(m, t, seed=7)
            with torch.no_grad():
                diff = float((a(input_ids=x).logits - ref).abs().max())
            r = functional.verify(a, key)
            rows.append(
                {
                    "arch": arch,
                    "attack": t,
                    "max_logit_change": diff,
                    "functional_p": r.p_value,
                    "functional_bits": f"{r.n_match}/{r.n_bits}",
                    "weight_p": weight_p(a, key),
                }
            )
        if arch == "llama":
            for kind in (
                "int8 per-row",
                "noise 0.1",
                "noise 0.5",
                "prune 30%",
                "prune 50%",
                "fine-tune 25",
                "fine-tune 100",
            ):
                a = lossy(m, kind, tok, corpus)
                r = functional.verify(a, key)
                rows.append(
                    {
                        "arch": arch,
                        "attack": kind,
                        "functional_p": r.p_value,
                        "functional_bits": f"{r.n_match}/{r.n_bits}",
                        "weight_p": weight_p(a, key),
                        "perplexity": calibration.perplexity(a, held),
                    }
                )
        print(json.dumps(rows[-1]), flush=True)
    Path(args.json).write_text(json.dumps(rows, indent=2))
    print("| arch | attack | max logit change | functional p (bits) | weight p |")
    print("| --- | --- | --- | --- | --- |")
    for r in rows:
        ch = "-" if "max_logit_change" not in r else f"{r['max_logit_change']:.1e}"
        wp = "-" if r["weight_p"] is None else f"{r['weight_p']:.2g}"
        print(
            f"| {r['arch']} | {r['attack']} | {ch} | {r['functional_p']:.2g} ({r.get('functional_bits', '256/256')}) | {wp} |"
        )
    print(
        "\nperplexity (self-samples): "
        + "; ".join(
            f"{r['arch']} {r['perplexity_before_mark']:.1f} -> {r['perplexity']:.1f}"
            for r in rows
            if r["attack"] == "none"
        )
    )
    print(f"total {time.perf_counter() - t0:.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
