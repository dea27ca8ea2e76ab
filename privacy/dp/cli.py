"""``privacy train`` and ``privacy audit``: argument parsing and printing only."""

from __future__ import annotations

import json
from pathlib import Path

import click

from commandline import FAILURE, OK, UsageError, existing_path, json_option, progress_option


@click.command(
    help="DP-SGD fine-tuning of a causal LM (Opacus). Writes the model, a signed privacy report "
    "(privacy_report.json/.txt) and a checkpoint to OUT."
)
@click.option("--model", required=True, type=existing_path(), help="Hugging Face causal LM directory")
@click.option(
    "--data",
    required=True,
    type=existing_path(dir_okay=False),
    help=".jsonl with a 'text' field, or .txt (one record a line)",
)
@click.option(
    "--out-dir",
    "out",
    required=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="output directory (model, report, checkpoint)",
)
@click.option("--target-epsilon", type=float, required=True, help="the privacy budget epsilon to stay within")
@click.option(
    "--delta", type=float, default=None, help="the delta of (epsilon, delta)-DP; default min(1e-5, 1/(10 n))"
)
@click.option(
    "--epochs", type=int, required=True, help="passes over the data (planned; the budget may stop earlier)"
)
@click.option("--batch-size", type=int, required=True, help="expected (logical) batch size")
@click.option("--max-grad-norm", type=float, required=True, help="per-record clipping norm C")
@click.option("--lora-r", type=int, default=0, show_default=True, help="LoRA rank (0: full fine-tuning)")
@click.option("--lr", type=float, default=1e-3, show_default=True, help="AdamW learning rate")
@click.option(
    "--physical-batch-size",
    type=int,
    default=16,
    show_default=True,
    help="records per forward pass (BatchMemoryManager); memory, not privacy",
)
@click.option(
    "--grad-sample-mode",
    type=click.Choice(["auto", "hooks", "ghost"]),
    default="auto",
    show_default=True,
    help="how per-record gradients are clipped (ghost: less memory)",
)
@click.option(
    "--gradient-checkpointing", is_flag=True, help="trade compute for memory (re-entrant checkpointing)"
)
@click.option("--max-length", type=int, default=None, help="cap on tokens per record")
@click.option("--truncate", is_flag=True, help="truncate records longer than the context instead of refusing")
@click.option("--redact-pii", is_flag=True, help="redact the data with the PII engine first")
@click.option(
    "--resume", is_flag=True, help="resume from OUT/checkpoint (same data, model and DP parameters)"
)
@click.option("--seed", type=int, default=0, show_default=True, help="random seed")
@click.option(
    "--device", default="auto", show_default=True, help="auto (cuda if available), cpu, cuda, cuda:N"
)
@click.option(
    "--max-noise-multiplier",
    type=float,
    default=50.0,
    show_default=True,
    help="refuse a target that needs more noise than this",
)
@click.option(
    "--accountant",
    type=click.Choice(["prv", "rdp"]),
    default="prv",
    show_default=True,
    help="the accountant the run is charged with (prv: near-tight; rdp: a looser upper bound)",
)
@click.option("--checkpoint-every", type=int, default=50, show_default=True, help="steps between checkpoints")
@click.option(
    "--stop-after-steps",
    type=int,
    default=None,
    help="stop cleanly after this many steps in this session (time-boxed jobs); resume later",
)
@click.option("--nproc", type=int, default=1, show_default=True, help="processes (Opacus DPDDP, gloo on CPU)")
@click.option(
    "--audit-store",
    default=None,
    metavar="URL",
    help="audit log URL (sqlite:///..., postgresql://...) to record the run in",
)
@click.option(
    "--signing-key",
    default=None,
    type=existing_path(dir_okay=False),
    help="Ed25519 PEM key that signs the report (default: the development key)",
)
@progress_option
@json_option
def train(as_json: bool, progress: bool | None, nproc: int, **opts: object) -> int:
    import logging
    import sys

    from privacy.dp.config import TrainConfig

    for name in ("opacus", "absl"):  # dp-accounting RDP per-order convergence chatter (bound stays valid)
        logging.getLogger(name).setLevel(logging.ERROR)
    opts = {k: (str(v) if isinstance(v, Path) else v) for k, v in opts.items()}
    show = sys.stderr.isatty() if progress is None else progress
    cfg = TrainConfig(**opts, progress=show)  # type: ignore[arg-type]
    if nproc > 1:
        from privacy.dp.ddp import launch

        summary = launch(cfg, nproc)
    else:
        from privacy.dp.runner import run_training

        result, _report = run_training(cfg)
        summary = result.to_dict()
    summary.pop("losses", None)
    if as_json:
        print(json.dumps(summary, indent=2, default=str))
    else:
        _print_summary(summary)
    return OK


def _print_summary(s: dict[str, object]) -> None:
    print(f"status: {s['status']}  steps {s['steps_done']}/{s['planned_steps']}  records {s['n_records']}")
    if s["status"] == "stopped":
        print(f"checkpoint saved in {s['out']}/checkpoint; continue with --resume")
        return
    print(
        f"epsilon {s['epsilon']:.4f} at delta {s['delta']:.3g} (noise {s['noise_multiplier']:.4f}, "
        f"sample rate {s['sample_rate']:.4g}, clip {s['max_grad_norm']})"
    )
    acc = s.get("accounting") or {}
    for name, eps in (acc.get("epsilons") or {}).items():
        print(f"  {name:<20} {eps:.4f}")
    print(f"model and privacy_report.{{json,txt}} in {s['out']}")


@click.command(
    help="Empirical privacy audit: retrain with canaries, membership-inference AUC and a one-run "
    "epsilon lower bound, compared with the accountant. Exit 1 if the bound exceeds the "
    "accounted epsilon (a bug)."
)
@click.argument("run_dir", required=False, type=existing_path(file_okay=False))
@click.option(
    "--config",
    type=existing_path(dir_okay=False),
    help="instead of RUN_DIR: a JSON/YAML file of train options (model, data, out, ...)",
)
@click.option(
    "--canaries", type=int, default=64, show_default=True, help="canary records planted in the data"
)
@click.option(
    "--alternatives", type=int, default=63, show_default=True, help="random secrets per canary for exposure"
)
@click.option("--no-baseline", is_flag=True, help="skip the non-private baseline")
@click.option("--seed", type=int, default=1234, show_default=True, help="random seed of the canaries")
@click.option(
    "--signing-key",
    default=None,
    type=existing_path(dir_okay=False),
    help="Ed25519 PEM key that signs the audit report (default: the development key)",
)
@json_option
def audit(
    run_dir: Path | None,
    config: Path | None,
    canaries: int,
    alternatives: int,
    no_baseline: bool,
    seed: int,
    signing_key: Path | None,
    as_json: bool,
) -> int:
    from privacy.dp.audit_run import audit_run_dir, audit_text, run_audit

    if (run_dir is None) == (config is None):
        raise UsageError("give either RUN_DIR or --config FILE")
    options = dict(canaries=canaries, alternatives=alternatives, baseline=not no_baseline, seed=seed)
    if config:
        report = run_audit(_load_config(str(config)), **options)
    else:
        report = audit_run_dir(str(run_dir), signing_key=str(signing_key) if signing_key else None, **options)
    print(json.dumps(report, indent=2) if as_json else audit_text(report), end="" if not as_json else "\n")
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
