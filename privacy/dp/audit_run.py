"""``privacy audit RUN_DIR``: retrain a run with canaries and check its accountant empirically.

The run's configuration (run.json) is reused as is; canaries are inserted with
probability 1/2 each, the model is trained with DP (and, by default, without DP as a
baseline trained the same way), and each model's per-canary losses give exposure,
membership-inference AUC and the one-run epsilon lower bound. A lower bound above the
accounted epsilon is a bug in training or accounting: the command exits non-zero.
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

from privacy.dp import empirical
from privacy.dp.config import TrainConfig
from privacy.dp.data import load_dataset, with_records
from privacy.dp.report import build_report, check_audit_store, write_audit_record, write_report
from privacy.dp.runner import load_run
from privacy.dp.trainer import evaluate_losses, seed_everything, train

AUDIT_JSON = "audit_report.json"
AUDIT_TXT = "audit_report.txt"


def _losses(model_dir: str, texts: list[str]) -> list[float]:
    from privacy.dp.data import encode
    from privacy.dp.model_io import context_length, load_model

    model, tok = load_model(model_dir)
    enc = encode(texts, list(range(1, len(texts) + 1)), tok, context_length(model), truncate=True)
    return [float(x) for x in evaluate_losses(model, enc.input_ids, enc.attention_mask)]


def _measure(
    model_dir: str, canaries: list[empirical.Canary], n_alt: int, seed: int, delta: float
) -> empirical.EmpiricalResult:
    alts = [empirical.alternatives(c, n_alt, seed) for c in canaries]
    flat = _losses(model_dir, [c.text for c in canaries] + [a for group in alts for a in group])
    m = len(canaries)
    canary_losses = flat[:m]
    alt_losses = [flat[m + i * n_alt : m + (i + 1) * n_alt] for i in range(m)]
    return empirical.measure(canaries, canary_losses, alt_losses, delta)


def run_audit(
    cfg: TrainConfig,
    *,
    canaries: int = 64,
    alternatives: int = 63,
    baseline: bool = True,
    seed: int = 1234,
    out_dir: str | Path | None = None,
) -> dict[str, Any]:
    """Train with canaries (DP and, optionally, non-private) and compare with the accountant."""
    seed_everything(seed)
    base = load_dataset(cfg.data)
    cans = empirical.make_canaries(canaries, seed)
    records = base.records + [c.text for c in cans if c.included]
    import random

    random.Random(seed).shuffle(records)
    ds = with_records(base, records, "canaries")
    out = Path(out_dir or Path(cfg.out) / "audit")
    runs: dict[str, Any] = {}
    variants = [("dp", True)] + ([("non_private", False)] if baseline else [])
    for name, private in variants:
        run_cfg = replace(
            cfg,
            out=str(out / name),
            private=private,
            resume=False,
            audit_store=None,
            stop_after_steps=None,
            redact_pii=False,
        )
        result = train(run_cfg, dataset=ds)
        measured = _measure(run_cfg.out, cans, alternatives, seed, result.delta)
        runs[name] = {
            "accounted_epsilon": result.epsilon,
            "delta": result.delta,
            "steps": result.steps_done,
            **measured.to_dict(),
        }
    dp = runs["dp"]
    bug = empirical.is_bug(dp["epsilon_lower_bound"], dp["accounted_epsilon"])
    report = {
        "schema": "compliance-gateway/privacy-audit/v1",
        "method": "canaries (Secret Sharer exposure), loss-based MIA AUC, one-run lower bound "
        "(Steinke, Nasr, Jagielski 2023) at 95% confidence",
        "canaries": canaries,
        "alternatives_per_canary": alternatives,
        "accounted_epsilon": dp["accounted_epsilon"],
        "epsilon_lower_bound": dp["epsilon_lower_bound"],
        "mia_auc": dp["mia_auc"],
        "mean_exposure": dp["mean_exposure"],
        "bug": bug,
        "verdict": (
            "BUG: the empirical lower bound exceeds the accounted epsilon"
            if bug
            else "consistent: the empirical lower bound is below the accounted epsilon"
        ),
        "runs": runs,
    }
    out.mkdir(parents=True, exist_ok=True)
    (out / AUDIT_JSON).write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    (out / AUDIT_TXT).write_text(audit_text(report), encoding="utf-8")
    return report


def audit_text(report: dict[str, Any]) -> str:
    lines = ["Empirical privacy audit", report["method"], ""]
    lines.append(
        f"{'model':<12} {'accounted eps':>13} {'eps lower bound':>15} {'MIA AUC':>8} {'exposure (bits)':>16}"
    )
    for name, r in report["runs"].items():
        acc = "-" if r["accounted_epsilon"] is None else f"{r['accounted_epsilon']:.3f}"
        lines.append(
            f"{name:<12} {acc:>13} {r['epsilon_lower_bound']:>15.3f} {r['mia_auc']:>8.3f} "
            f"{r['mean_exposure']:>9.2f} / {r['exposure_cap_bits']:.1f}"
        )
    lines += ["", report["verdict"]]
    return "\n".join(lines) + "\n"


def audit_run_dir(run_dir: str | Path, *, signing_key: str | None = None, **kwargs: Any) -> dict[str, Any]:
    """Audit a finished ``privacy train`` run and attach the result to its signed report."""
    run = load_run(run_dir)
    cfg = TrainConfig(**run["config"])
    check_audit_store(cfg.audit_store)
    report = run_audit(cfg, out_dir=Path(run_dir) / "audit", **kwargs)
    summary = {
        k: report[k] for k in ("accounted_epsilon", "epsilon_lower_bound", "mia_auc", "mean_exposure", "bug")
    }
    privacy_report = build_report(run["result"], run["config"], summary)
    signature = write_report(run_dir, privacy_report, signing_key=signing_key or cfg.signing_key)
    write_audit_record(
        cfg.audit_store,
        {"run": str(Path(run_dir).name), **summary, "report_signature": signature["signature"]},
        event="privacy.audit",
    )
    return report
