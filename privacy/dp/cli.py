"""``privacy train`` and ``privacy audit``: argument parsing and printing only."""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence

from audit.commands import FAILURE, OK, UsageError


def _train_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="privacy train", description="DP-SGD fine-tuning of a causal LM (Opacus).")
    p.add_argument("--model", required=True, help="Hugging Face causal LM directory")
    p.add_argument("--data", required=True, help=".jsonl with a 'text' field, or .txt (one record a line)")
    p.add_argument("--out", required=True, help="output directory (model, report, checkpoint)")
    p.add_argument("--target-epsilon", type=float, required=True)
    p.add_argument("--delta", type=float, default=None, help="default: min(1e-5, 1/(10 n))")
    p.add_argument("--epochs", type=int, required=True)
    p.add_argument("--batch-size", type=int, required=True, help="expected (logical) batch size")
    p.add_argument("--max-grad-norm", type=float, required=True, help="per-record clipping norm C")
    p.add_argument("--lora-r", type=int, default=0, help="LoRA rank (0: full fine-tuning)")
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--physical-batch-size", type=int, default=16, help="BatchMemoryManager physical batch")
    p.add_argument("--grad-sample-mode", choices=["auto", "hooks", "ghost"], default="auto")
    p.add_argument("--gradient-checkpointing", action="store_true")
    p.add_argument("--max-length", type=int, default=None, help="cap on tokens per record")
    p.add_argument("--truncate", action="store_true", help="truncate records longer than the context")
    p.add_argument("--redact-pii", action="store_true", help="redact the data with privacy.pii first")
    p.add_argument("--resume", action="store_true", help="resume from OUT/checkpoint")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", default="auto", help="auto (cuda if available), cpu, cuda, cuda:N")
    p.add_argument("--max-noise-multiplier", type=float, default=50.0,
                   help="refuse a target that needs more noise than this")
    p.add_argument("--accountant", choices=["prv", "rdp"], default="prv",
                   help="the accountant the run is charged with (prv: near-tight; rdp: a looser upper bound)")
    p.add_argument("--checkpoint-every", type=int, default=50, help="steps between checkpoints")
    p.add_argument("--stop-after-steps", type=int, default=None,
                   help="stop cleanly after this many steps in this session (time-boxed jobs); resume later")
    p.add_argument("--nproc", type=int, default=1, help="processes (Opacus DPDDP, gloo on CPU)")
    p.add_argument("--audit-store", default=None, help="audit log URL (sqlite:///..., postgresql://...)")
    p.add_argument("--signing-key", default=None, help="Ed25519 PEM key for the report")
    p.add_argument("--no-progress", action="store_true")
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    return p


def _config(args: argparse.Namespace) -> object:
    from privacy.dp.config import TrainConfig

    return TrainConfig(
        model=args.model, data=args.data, out=args.out, target_epsilon=args.target_epsilon, delta=args.delta,
        epochs=args.epochs, batch_size=args.batch_size, max_grad_norm=args.max_grad_norm, lora_r=args.lora_r,
        lr=args.lr, physical_batch_size=args.physical_batch_size, grad_sample_mode=args.grad_sample_mode,
        gradient_checkpointing=args.gradient_checkpointing, max_length=args.max_length, truncate=args.truncate,
        redact_pii=args.redact_pii, resume=args.resume, seed=args.seed, device=args.device,
        max_noise_multiplier=args.max_noise_multiplier, checkpoint_every=args.checkpoint_every,
        stop_after_steps=args.stop_after_steps, progress=not args.no_progress, audit_store=args.audit_store,
        signing_key=args.signing_key, accountant=args.accountant)


def train(argv: Sequence[str]) -> int:
    args = _train_parser().parse_args(list(argv))
    import logging

    for name in ("opacus", "absl"):  # dp-accounting RDP per-order convergence chatter (bound stays valid)
        logging.getLogger(name).setLevel(logging.ERROR)
    cfg = _config(args)
    if args.nproc > 1:
        from privacy.dp.ddp import launch

        summary = launch(cfg, args.nproc)  # type: ignore[arg-type]
    else:
        from privacy.dp.runner import run_training

        result, _report = run_training(cfg)  # type: ignore[arg-type]
        summary = result.to_dict()
    summary.pop("losses", None)
    if args.json:
        print(json.dumps(summary, indent=2, default=str))
    else:
        _print_summary(summary)
    return OK


def _print_summary(s: dict) -> None:
    print(f"status: {s['status']}  steps {s['steps_done']}/{s['planned_steps']}  records {s['n_records']}")
    if s["status"] == "stopped":
        print(f"checkpoint saved in {s['out']}/checkpoint; continue with --resume")
        return
    print(f"epsilon {s['epsilon']:.4f} at delta {s['delta']:.3g} (noise {s['noise_multiplier']:.4f}, "
          f"sample rate {s['sample_rate']:.4g}, clip {s['max_grad_norm']})")
    acc = s.get("accounting") or {}
    for name, eps in (acc.get("epsilons") or {}).items():
        print(f"  {name:<20} {eps:.4f}")
    print(f"model and privacy_report.{{json,txt}} in {s['out']}")


def audit(argv: Sequence[str]) -> int:
    p = argparse.ArgumentParser(prog="privacy audit",
                                description="Empirical privacy audit: canaries, MIA AUC, one-run epsilon lower bound.")
    p.add_argument("run_dir", nargs="?", help="a directory written by 'privacy train' (holds run.json)")
    p.add_argument("--config", help="instead of RUN_DIR: a JSON/YAML file of train options (model, data, out, ...)")
    p.add_argument("--canaries", type=int, default=64)
    p.add_argument("--alternatives", type=int, default=63, help="random secrets per canary for exposure")
    p.add_argument("--no-baseline", action="store_true", help="skip the non-private baseline")
    p.add_argument("--seed", type=int, default=1234)
    p.add_argument("--signing-key", default=None)
    p.add_argument("--json", action="store_true")
    args = p.parse_args(list(argv))
    from privacy.dp.audit_run import audit_run_dir, audit_text, run_audit

    if (args.run_dir is None) == (args.config is None):
        raise UsageError("give either RUN_DIR or --config FILE")
    options = dict(canaries=args.canaries, alternatives=args.alternatives, baseline=not args.no_baseline,
                   seed=args.seed)
    if args.config:
        report = run_audit(_load_config(args.config), **options)
    else:
        report = audit_run_dir(args.run_dir, signing_key=args.signing_key, **options)
    print(json.dumps(report, indent=2) if args.json else audit_text(report), end="" if not args.json else "\n")
    return FAILURE if report["bug"] else OK


def _load_config(path: str) -> object:
    """A train config file for ``privacy audit --config``; unknown keys are named."""
    import dataclasses
    from pathlib import Path

    import yaml

    from privacy.dp.config import TrainConfig

    try:
        data = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise UsageError(f"{path}: cannot read config: {exc}") from exc
    if not isinstance(data, dict):
        raise UsageError(f"{path}: config must be a mapping of train options")
    known = {f.name for f in dataclasses.fields(TrainConfig)}
    unknown = sorted(set(data) - known)
    if unknown:
        raise UsageError(f"{path}: unknown option(s) {', '.join(unknown)}")
    missing = [k for k in ("model", "data", "out") if k not in data]
    if missing:
        raise UsageError(f"{path}: missing option(s) {', '.join(missing)}")
    return TrainConfig(**{"progress": False, **data})
