"""DP fine-tuning benchmark: cost, utility and accountant agreement, measured in one run.

Sections (each prints a ratio against a baseline measured in the same run):

1. cost: step time and peak memory of DP-SGD vs non-private training of the same
   tiny GPT-2, full fine-tuning (ghost clipping) and LoRA (hooks); one subprocess per
   variant so peak RSS is per variant (on CUDA: torch.cuda.max_memory_allocated).
2. utility: held-out loss after fine-tuning on a synthetic task at epsilon 8 and 3
   vs non-private, same model, data, epochs and batch size.
3. accountants: Opacus PRV/RDP vs dp-accounting PLD/RDP on the standard case and two more.
4. audit (optional, --audit): MIA AUC and the one-run epsilon lower bound for the DP
   model vs a non-private model trained the same way.

Usage: python bench/dp_bench.py [--quick] [--audit] [--json PATH]
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
logging.getLogger("opacus").setLevel(logging.ERROR)


# ---------------------------------------------------------------- 1. cost (one variant per process)
def _cost_worker(variant: str, model_dir: str, steps: int, batch: int) -> dict[str, Any]:
    """Time the training step itself: ``DPTrainer.step`` on what ``DPTrainer.prepare`` set up."""
    import torch

    from privacy.dp.config import TrainConfig
    from privacy.dp.data import Dataset
    from privacy.dp.model_io import load_model
    from privacy.dp.tiny import synthetic_records
    from privacy.dp.trainer import DPTrainer

    torch.manual_seed(0)
    torch.set_num_threads(1)
    rss_base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    private = variant.startswith("dp")
    lora = 8 if "lora" in variant else 0
    model, tok = load_model(model_dir)
    mode = "ghost" if (not lora or variant.endswith("ghost")) else "hooks"
    records = synthetic_records(batch * 4, seed=5)
    ds = Dataset(
        path="bench",
        records=records,
        line_numbers=list(range(1, len(records) + 1)),
        file_sha256="-",
        records_sha256="-",
    )
    cfg = TrainConfig(
        model=model_dir,
        data="",
        out="",
        lora_r=lora,
        private=private,
        grad_sample_mode=mode,
        batch_size=batch,
        physical_batch_size=batch,
        max_length=64,
        truncate=True,
        lr=1e-3,
        progress=False,
    )
    trainer = DPTrainer(cfg, write_outputs=False)
    prepared = trainer.prepare(
        dataset=ds, model=model, tokenizer=tok, noise_multiplier=1.0 if private else None
    )
    enc = prepared.encoded
    batches = [
        (enc.input_ids[i : i + batch], enc.attention_mask[i : i + batch])
        for i in range(0, len(records), batch)
    ]
    model = prepared.model

    def step(i: int) -> None:
        ids, mask = batches[i % len(batches)]
        trainer.step(prepared, ids, mask)

    for i in range(2):  # warm-up
        step(i)
    times = []
    for i in range(steps):
        t = time.perf_counter()
        step(i)
        times.append(time.perf_counter() - t)
    rss_after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    times.sort()
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    return {
        "variant": variant,
        "median_step_s": times[len(times) // 2],
        "peak_rss_mb": rss_after / 1024,
        "train_rss_mb": (rss_after - rss_base) / 1024,
        "grad_sample_mode": mode if private else "none",
        "trainable_params": trainable,
        "batch": batch,
    }


def bench_cost(model_dir: Path, steps: int, batch: int) -> dict[str, Any]:
    rows = {}
    for variant in ("plain_full", "dp_full", "plain_lora", "dp_lora", "dp_lora_ghost"):
        out = subprocess.run(
            [sys.executable, __file__, "--cost-worker", variant, str(model_dir), str(steps), str(batch)],
            capture_output=True,
            text=True,
            cwd=REPO,
            check=True,
        )
        rows[variant] = json.loads(out.stdout.strip().splitlines()[-1])
    ratios = {
        kind: {
            "time_ratio": rows[f"dp_{kind}"]["median_step_s"]
            / rows[f"plain_{kind.split('_')[0]}"]["median_step_s"],
            "train_memory_ratio": rows[f"dp_{kind}"]["train_rss_mb"]
            / rows[f"plain_{kind.split('_')[0]}"]["train_rss_mb"],
        }
        for kind in ("full", "lora", "lora_ghost")
    }
    return {"rows": rows, "ratios": ratios}


# ---------------------------------------------------------------- 2. utility
def bench_utility(work: Path, n: int, epochs: int, batch: int) -> dict[str, Any]:
    from privacy.dp.config import TrainConfig
    from privacy.dp.data import encode
    from privacy.dp.model_io import load_model
    from privacy.dp.tiny import make_tiny_model, synthetic_records, write_jsonl
    from privacy.dp.trainer import evaluate_losses, train

    model_dir = make_tiny_model(work / "utility-model", arch="gpt2", context=64, width=32, layers=2)
    data = write_jsonl(work / "utility.jsonl", synthetic_records(n, seed=11))
    held_out = synthetic_records(200, seed=99)

    def held_out_loss(directory: Path) -> float:
        model, tok = load_model(directory)
        enc = encode(held_out, list(range(1, 201)), tok, 64, truncate=True)
        return float(evaluate_losses(model, enc.input_ids, enc.attention_mask).mean())

    rows = {"pretrained (no fine-tuning)": {"held_out_loss": held_out_loss(model_dir), "epsilon": None}}
    for name, private, eps in (
        ("non-private", False, None),
        ("dp eps=8", True, 8.0),
        ("dp eps=3", True, 3.0),
    ):
        out = work / f"utility-{name.replace(' ', '_').replace('=', '')}"
        t = time.perf_counter()
        r = train(
            TrainConfig(
                model=str(model_dir),
                data=str(data),
                out=str(out),
                target_epsilon=eps or 8.0,
                epochs=epochs,
                batch_size=batch,
                lr=3e-3,
                max_grad_norm=1.0,
                physical_batch_size=batch,
                private=private,
                progress=False,
            )
        )
        rows[name] = {
            "held_out_loss": held_out_loss(out),
            "epsilon": r.epsilon,
            "noise_multiplier": r.noise_multiplier,
            "steps": r.steps_done,
            "seconds": time.perf_counter() - t,
        }
    base = rows["non-private"]["held_out_loss"]
    for row in rows.values():
        row["loss_ratio_vs_non_private"] = row["held_out_loss"] / base
    return {"n": n, "epochs": epochs, "batch": batch, "rows": rows}


# ---------------------------------------------------------------- 3. accountants
def bench_accountants() -> dict[str, Any]:
    from privacy.dp import accounting

    cases = [
        ("standard: n=10000 B=256 sigma=1.1 3 ep", 10_000, 256, 1.1, 3, 1e-5),
        ("n=60000 B=256 sigma=1.0 15 ep", 60_000, 256, 1.0, 15, 1e-5),
        ("n=1000 B=100 sigma=2.0 10 ep", 1_000, 100, 2.0, 10, 1e-4),
    ]
    rows = []
    for name, n, b, sigma, ep, delta in cases:
        t = time.perf_counter()
        rep = accounting.account([(sigma, b / n, math.ceil(ep * n / b))], delta, check=False)
        rows.append(
            {
                "case": name,
                "delta": delta,
                **rep.epsilons,
                "agree": rep.agree,
                "rdp_rel_diff": abs(rep.epsilons["opacus_rdp"] - rep.epsilons["dp_accounting_rdp"])
                / rep.epsilons["dp_accounting_rdp"],
                "prv_pld_rel_diff": abs(rep.epsilons["opacus_prv"] - rep.epsilons["dp_accounting_pld"])
                / rep.epsilons["dp_accounting_pld"],
                "seconds": time.perf_counter() - t,
            }
        )
    return {"rows": rows}


# ---------------------------------------------------------------- 4. audit
def bench_audit(work: Path, n: int, epochs: int, batch: int, canaries: int, lr: float) -> dict[str, Any]:
    from privacy.dp.audit_run import run_audit
    from privacy.dp.config import TrainConfig
    from privacy.dp.tiny import make_tiny_model, synthetic_records, write_jsonl

    model_dir = make_tiny_model(work / "audit-model", arch="gpt2", context=64, width=32, layers=2)
    data = write_jsonl(work / "audit.jsonl", synthetic_records(n, seed=13))
    cfg = TrainConfig(
        model=str(model_dir),
        data=str(data),
        out=str(work / "audit-run"),
        target_epsilon=3.0,
        epochs=epochs,
        batch_size=batch,
        lr=lr,
        physical_batch_size=batch,
        progress=False,
    )
    report = run_audit(cfg, canaries=canaries, alternatives=63)
    return {
        "n": n,
        "epochs": epochs,
        "batch": batch,
        "canaries": canaries,
        "lr": lr,
        **{k: report[k] for k in ("accounted_epsilon", "epsilon_lower_bound", "mia_auc", "bug", "runs")},
    }


# ---------------------------------------------------------------- text
def as_text(res: dict[str, Any]) -> str:
    lines = []
    if "cost" in res:
        lines += [
            "== cost: DP vs non-private, same model and batch (median step; peak RSS growth from model load)",
            f"{'variant':<14} {'mode':>6} {'step ms':>9} {'train MB':>9} {'trainable':>10}",
        ]
        for v, r in res["cost"]["rows"].items():
            lines.append(
                f"{v:<14} {r['grad_sample_mode']:>6} {r['median_step_s'] * 1000:>9.1f} "
                f"{r['train_rss_mb']:>9.0f} {r['trainable_params']:>10}"
            )
        for kind, r in res["cost"]["ratios"].items():
            lines.append(
                f"ratio DP/non-private ({kind}): time {r['time_ratio']:.2f}x, "
                f"training memory {r['train_memory_ratio']:.2f}x"
            )
    if "utility" in res:
        u = res["utility"]
        lines += [
            "",
            f"== utility: held-out loss, n={u['n']}, {u['epochs']} epochs, batch {u['batch']}",
            f"{'model':<28} {'loss':>7} {'vs non-private':>15} {'epsilon':>8}",
        ]
        for name, r in u["rows"].items():
            eps = "-" if r["epsilon"] is None else f"{r['epsilon']:.2f}"
            lines.append(
                f"{name:<28} {r['held_out_loss']:>7.3f} {r['loss_ratio_vs_non_private']:>14.3f}x {eps:>8}"
            )
    if "accountants" in res:
        lines += [
            "",
            "== accountants (epsilon)",
            f"{'case':<42} {'PRV':>7} {'PLD':>7} {'RDP op':>7} {'RDP dpa':>7} {'agree':>6}",
        ]
        for r in res["accountants"]["rows"]:
            lines.append(
                f"{r['case']:<42} {r['opacus_prv']:>7.3f} {r['dp_accounting_pld']:>7.3f} "
                f"{r['opacus_rdp']:>7.3f} {r['dp_accounting_rdp']:>7.3f} {r['agree']!s:>6}"
            )
    if "audit" in res:
        a = res["audit"]
        lines += [
            "",
            f"== empirical audit: {a['canaries']} canaries, n={a['n']}, {a['epochs']} epochs, batch {a['batch']}",
            f"{'model':<12} {'eps acc.':>8} {'eps LB':>7} {'MIA AUC':>8} {'exposure':>9}",
        ]
        for name, r in a["runs"].items():
            acc = "-" if r["accounted_epsilon"] is None else f"{r['accounted_epsilon']:.2f}"
            lines.append(
                f"{name:<12} {acc:>8} {r['epsilon_lower_bound']:>7.3f} {r['mia_auc']:>8.3f} "
                f"{r['mean_exposure']:>5.2f}/{r['exposure_cap_bits']:.0f}"
            )
    return "\n".join(lines)


def main() -> int:
    if len(sys.argv) > 1 and sys.argv[1] == "--cost-worker":
        _, _, variant, model_dir, steps, batch = sys.argv
        print(json.dumps(_cost_worker(variant, model_dir, int(steps), int(batch))))
        return 0
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="smaller sizes (a few minutes on 2 cores)")
    p.add_argument("--audit", action="store_true")
    p.add_argument("--sections", default="cost,utility,accountants")
    p.add_argument("--json", default=str(REPO / "bench" / "results" / "dp_bench.json"))
    args = p.parse_args()
    sections = set(args.sections.split(",")) | ({"audit"} if args.audit else set())
    res: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        if "cost" in sections:
            from privacy.dp.tiny import make_tiny_model

            model_dir = make_tiny_model(work / "cost-model", arch="llama", context=64, width=128, layers=4)
            res["cost"] = bench_cost(model_dir, steps=10 if args.quick else 30, batch=16)
        if "utility" in sections:
            res["utility"] = bench_utility(work, n=400 if args.quick else 1000, epochs=3, batch=64)
        if "accountants" in sections:
            res["accountants"] = bench_accountants()
        if "audit" in sections:
            res["audit"] = bench_audit(
                work, n=100, epochs=10 if args.quick else 40, batch=32, canaries=64, lr=1e-2
            )
    print(as_text(res))
    out = Path(args.json)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(res, indent=2, default=str) + "\n", encoding="utf-8")
    print(f"\nJSON: {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
