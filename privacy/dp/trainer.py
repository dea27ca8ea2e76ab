"""The DP-SGD training loop on Opacus.

One engine object, ``DPTrainer(config)`` (``prepare`` / ``step`` / ``run``), and one front door,
``train(config)``, that returns one ``TrainResult``. The noise multiplier is
chosen once, by ``PrivacyEngine.make_private_with_epsilon`` (PRV accountant, Poisson
sampling), for the whole planned run; a resumed run reuses that noise multiplier and
the accountant's saved history, so no step is ever counted twice or forgotten. Training
stops cleanly at the last step that keeps epsilon within the target.

Pitfalls handled: GPT-2 needs ``position_ids`` with a batch dimension (contiguous, for
the embedding norm sampler of ghost clipping); an empty Poisson batch still takes a
noise-only step (the accountant counts it, as the analysis assumes); gradient
checkpointing works with Opacus only in its re-entrant form (the non-reentrant one
re-runs forward hooks during backward and breaks per-sample gradients).
"""

from __future__ import annotations

import math
import os
import random
import time
from contextlib import nullcontext
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from privacy.dp import accounting
from privacy.dp.config import TrainConfig
from privacy.dp.data import Dataset, encode, load_dataset
from privacy.dp.errors import CheckpointError, DPError
from privacy.dp.model_io import (
    add_lora,
    base_model,
    check_layers,
    context_length,
    hash_model_dir,
    load_model,
    save_model,
    untie_embeddings,
)

CHECKPOINT = "checkpoint.pt"
IGNORE = -100


@dataclass
class TrainResult:
    """What a run did: the numbers every report and the audit need."""

    status: str  # "completed" | "budget_reached" | "stopped"
    out: str
    steps_done: int
    planned_steps: int
    n_records: int
    sample_rate: float
    noise_multiplier: float
    delta: float
    max_grad_norm: float
    grad_sample_mode: str
    accounting: dict[str, Any] | None
    dataset: dict[str, Any]
    base_model_sha256: str
    output_model_sha256: str | None
    mean_loss_last_epoch: float | None
    seconds: float
    truncated_records: int = 0
    untied_embeddings: bool = False
    losses: list[float] = field(default_factory=list)

    @property
    def epsilon(self) -> float | None:
        return None if self.accounting is None else float(self.accounting["epsilon"])

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["epsilon"] = self.epsilon
        return d


def seed_everything(seed: int) -> None:
    import numpy as np
    import torch

    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def lm_logits(model: Any, input_ids: Any, attention_mask: Any) -> Any:
    """Forward with batched, contiguous position_ids (the GPT-2/Opacus pitfall)."""
    import torch

    b, t = input_ids.shape
    position_ids = torch.arange(t, device=input_ids.device).repeat(b, 1)
    return model(input_ids=input_ids, attention_mask=attention_mask, position_ids=position_ids).logits


def shifted(logits: Any, input_ids: Any, attention_mask: Any) -> tuple[Any, Any]:
    labels = input_ids.masked_fill(attention_mask == 0, IGNORE)
    return logits[:, :-1, :].reshape(-1, logits.size(-1)), labels[:, 1:].reshape(-1)


def per_sample_loss(logits: Any, input_ids: Any, attention_mask: Any) -> Any:
    """Mean token loss of each record (shape [B]): the unit DP-SGD clips."""
    import torch.nn.functional as F

    b, t = input_ids.shape
    flat_logits, flat_labels = shifted(logits, input_ids, attention_mask)
    tok = F.cross_entropy(flat_logits, flat_labels, ignore_index=IGNORE, reduction="none").view(b, t - 1)
    valid = (flat_labels.view(b, t - 1) != IGNORE).sum(1).clamp(min=1)
    return tok.sum(1) / valid


def evaluate_losses(model: Any, input_ids: Any, attention_mask: Any, batch: int = 64) -> Any:
    """Per-record loss of a (trained) model, no gradients: for utility and the audit."""
    import torch

    model.eval()
    out = []
    device = next(model.parameters()).device
    with torch.no_grad():
        for i in range(0, input_ids.shape[0], batch):
            ids, mask = input_ids[i : i + batch].to(device), attention_mask[i : i + batch].to(device)
            out.append(per_sample_loss(lm_logits(model, ids, mask), ids, mask))
    return torch.cat(out).cpu() if out else torch.zeros(0)


def _device(name: str, world: int) -> Any:
    """cuda when asked or available (one process); distributed runs stay on CPU/gloo here."""
    import torch

    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() and world == 1 else "cpu")
    return torch.device(name)


def _redact(dataset: Dataset) -> Dataset:
    from privacy.dp.redaction import redact_dataset

    return redact_dataset(dataset)


def _empty_step(optimizer: Any) -> None:
    """A Poisson batch with no records: a noise-only step, counted by the accountant."""
    import torch

    for p in optimizer.params:
        p.grad = torch.zeros_like(p)
        if (
            hasattr(optimizer, "_get_flat_grad_sample")
            and type(optimizer).__name__ != "DPOptimizerFastGradientClipping"
        ):
            p.grad_sample = torch.zeros((0, *p.shape), dtype=p.dtype, device=p.device)
    optimizer.step()


def _resolve_mode(cfg: TrainConfig) -> str:
    if cfg.grad_sample_mode not in ("auto", "hooks", "ghost"):
        raise DPError(f"--grad-sample-mode must be auto, hooks or ghost, not {cfg.grad_sample_mode!r}")
    if cfg.grad_sample_mode != "auto":
        return cfg.grad_sample_mode
    # Ghost clipping never materialises per-sample gradients of nn.Linear/nn.Embedding:
    # less memory for full fine-tuning, and measured faster than hooks for LoRA too
    # (bench/dp_bench.py: 1.22x vs 1.50x the non-private step).
    return "ghost"


def _rank() -> tuple[int, int]:
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


def _save_checkpoint(path: Path, state: dict[str, Any]) -> None:
    import torch

    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    torch.save(state, tmp)
    os.replace(tmp, path)


def _load_checkpoint(path: Path) -> dict[str, Any]:
    import torch

    if not path.is_file():
        raise CheckpointError(f"--resume: no checkpoint at {path}; start without --resume")
    return torch.load(path, map_location="cpu", weights_only=False)


def _rng_state() -> dict[str, Any]:
    import numpy as np
    import torch

    return {"torch": torch.get_rng_state(), "numpy": np.random.get_state(), "python": random.getstate()}


def _set_rng_state(state: dict[str, Any]) -> None:
    import numpy as np
    import torch

    torch.set_rng_state(state["torch"])
    np.random.set_state(state["numpy"])
    random.setstate(state["python"])


def prepare_model(model: Any, cfg: TrainConfig, mode: str) -> tuple[Any, bool]:
    """LoRA or full fine-tuning, untied head for ghost clipping, checkpointing, layer check."""
    untied = False
    if cfg.lora_r:
        model = add_lora(model, cfg.lora_r)
    elif mode == "ghost" and cfg.private:
        untied = untie_embeddings(model)
    if cfg.gradient_checkpointing:
        inner = base_model(model)
        inner.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": True})
        if cfg.lora_r and hasattr(inner, "enable_input_require_grads"):
            inner.enable_input_require_grads()
    if cfg.private:
        check_layers(model)
    return model, untied


# The accountant a run is charged with, by name: Opacus' name -> the registry name in
# privacy.dp.accounting. Add one by registering its function there and naming it here.
RUN_ACCOUNTANTS: dict[str, str] = {"prv": "opacus_prv", "rdp": "opacus_rdp"}


def accountant_name(cfg: TrainConfig) -> str:
    """The accounting registry entry for ``cfg.accountant`` (DPError for an unknown name)."""
    try:
        return RUN_ACCOUNTANTS[cfg.accountant]
    except KeyError:
        raise DPError(
            f"--accountant must be one of {', '.join(sorted(RUN_ACCOUNTANTS))}, not {cfg.accountant!r}"
        ) from None


@dataclass
class Prepared:
    """Everything ``DPTrainer.prepare`` set up: one object, whatever the mode (private or not, ghost or hooks)."""

    model: Any
    optimizer: Any
    loader: Any
    criterion: Any  # Opacus' ghost-clipping loss wrapper, or None (per-record mean loss)
    engine: Any  # opacus.PrivacyEngine, or None when not private
    tokenizer: Any
    dataset: Dataset
    encoded: Any
    device: Any
    mode: str
    untied: bool
    base_hash: str
    noise_multiplier: float
    sample_rate: float
    delta: float
    planned_steps: int
    steps_done: int
    stop_at: int


class DPTrainer:
    """DP-SGD fine-tuning as one engine object (the Opacus habit): ``prepare`` once, then ``step`` or ``run``.

    ``train(cfg)`` is ``DPTrainer(cfg).run()``. The benchmark times ``step`` on the objects
    ``prepare`` returns, so the step it measures is the step training takes.
    """

    def __init__(self, cfg: TrainConfig, *, write_outputs: bool = True) -> None:
        if cfg.epochs < 1 or cfg.batch_size < 1 or cfg.max_grad_norm <= 0:
            raise DPError("--epochs and --batch-size must be >= 1 and --max-grad-norm > 0")
        self.cfg = cfg
        self.accountant = accountant_name(cfg) if cfg.private else None
        self.write_outputs = write_outputs
        self.rank, self.world = _rank()
        self.out = Path(cfg.out)
        self.ckpt_path = self.out / "checkpoint" / CHECKPOINT

    # -- set-up ---------------------------------------------------------------------------
    def prepare(
        self,
        *,
        dataset: Dataset | None = None,
        model: Any = None,
        tokenizer: Any = None,
        noise_multiplier: float | None = None,
    ) -> Prepared:
        """Load data and model, make them private, restore a checkpoint on ``--resume``.

        ``noise_multiplier`` fixes sigma instead of deriving it from the epsilon target
        (benchmarks of the step cost); a resumed run always reuses its checkpoint's sigma.
        """
        import torch
        from torch.utils.data import DataLoader, TensorDataset

        cfg = self.cfg
        seed_everything(cfg.seed + self.rank)
        torch.set_num_threads(max(1, torch.get_num_threads()))
        ds = dataset if dataset is not None else load_dataset(cfg.data)
        if cfg.redact_pii:
            ds = _redact(ds)
        n = len(ds)
        delta = cfg.delta if cfg.delta is not None else accounting.default_delta(n)
        steps_per_epoch = math.ceil(n / cfg.batch_size)
        q = 1.0 / steps_per_epoch  # what Opacus uses: 1 / len(data_loader)
        planned = cfg.epochs * steps_per_epoch
        if cfg.private and noise_multiplier is None:
            accounting.check_delta(delta, n)
            # Refuse early (cheap: one accountant call) if even the noise cap cannot meet the target.
            accounting.noise_reachable(
                cfg.target_epsilon,
                delta,
                q,
                planned,
                max_noise=cfg.max_noise_multiplier,
                accountant=self.accountant,
            )

        if model is None:
            model, tokenizer = load_model(cfg.model)
            base_hash = hash_model_dir(cfg.model)
        else:
            base_hash = "in-memory"
        context = context_length(model)
        if cfg.max_length:
            context = min(context, cfg.max_length)
        enc = encode(ds.records, ds.line_numbers, tokenizer, context, truncate=cfg.truncate, path=ds.path)

        mode = _resolve_mode(cfg)
        model, untied = prepare_model(model, cfg, mode)

        ckpt: dict[str, Any] | None = None
        if cfg.resume:
            ckpt = _load_checkpoint(self.ckpt_path)
            if (
                ckpt["dp_params"] != cfg.dp_params()
                or ckpt["records_sha256"] != ds.records_sha256
                or ckpt["base_model_sha256"] != base_hash
            ):
                raise CheckpointError(
                    f"{self.ckpt_path} belongs to a different run (data, base model or DP parameters changed); "
                    "resuming it would misstate the privacy budget. Start a new --out-dir directory."
                )
            model.load_state_dict(ckpt["model"])

        device = _device(cfg.device, self.world)
        model.to(device)
        model.train()
        params = [p for p in model.parameters() if p.requires_grad]
        optimizer = torch.optim.AdamW(params, lr=cfg.lr, weight_decay=0.0)
        loader = DataLoader(
            TensorDataset(enc.input_ids, enc.attention_mask),
            batch_size=cfg.batch_size,
            shuffle=not cfg.private,
        )

        engine = None
        criterion = None
        sigma = 0.0
        if cfg.private:
            engine, model, optimizer, criterion, loader = self._make_private(
                model,
                optimizer,
                loader,
                mode,
                delta,
                ckpt["noise_multiplier"] if ckpt is not None else noise_multiplier,
            )
            sigma = float(optimizer.noise_multiplier)
            if ckpt is not None:
                engine.accountant.load_state_dict(ckpt["accountant"])
        if ckpt is not None:
            (optimizer.original_optimizer if cfg.private else optimizer).load_state_dict(ckpt["optimizer"])
            _set_rng_state(ckpt["rng"])

        done = int(ckpt["steps_done"]) if ckpt else 0
        prior = [tuple(h) for h in engine.accountant.history] if engine else []
        if engine and accounting.total_steps(prior) != done:
            raise CheckpointError(
                f"checkpoint says {done} steps but its accountant holds "
                f"{accounting.total_steps(prior)}; refusing to resume"
            )
        stop_at = planned
        if cfg.private:
            stop_at = done + accounting.steps_within_budget(
                cfg.target_epsilon, delta, sigma, q, planned - done, prior, accountant=self.accountant
            )
        return Prepared(
            model=model,
            optimizer=optimizer,
            loader=loader,
            criterion=criterion,
            engine=engine,
            tokenizer=tokenizer,
            dataset=ds,
            encoded=enc,
            device=device,
            mode=mode,
            untied=untied,
            base_hash=base_hash,
            noise_multiplier=sigma,
            sample_rate=q,
            delta=delta,
            planned_steps=planned,
            steps_done=done,
            stop_at=stop_at,
        )

    def _make_private(
        self, model: Any, optimizer: Any, loader: Any, mode: str, delta: float, sigma: float | None
    ) -> tuple[Any, Any, Any, Any, Any]:
        import torch
        from opacus import PrivacyEngine

        cfg = self.cfg
        if self.world > 1:
            from opacus.distributed import DifferentiallyPrivateDistributedDataParallel as DPDDP

            model = DPDDP(model)
        engine = PrivacyEngine(accountant=cfg.accountant)
        common = dict(
            module=model,
            optimizer=optimizer,
            data_loader=loader,
            max_grad_norm=cfg.max_grad_norm,
            poisson_sampling=True,
            grad_sample_mode=mode,
            criterion=torch.nn.CrossEntropyLoss(ignore_index=IGNORE),
        )
        try:
            if sigma is None:
                made = engine.make_private_with_epsilon(
                    target_epsilon=cfg.target_epsilon, target_delta=delta, epochs=cfg.epochs, **common
                )
            else:
                made = engine.make_private(noise_multiplier=sigma, **common)
        except NotImplementedError as exc:
            raise DPError(
                f"Opacus cannot handle this model in {mode} mode: {exc}. Try --grad-sample-mode hooks."
            ) from exc
        if mode == "ghost":
            model, optimizer, criterion, loader = made
        else:
            (model, optimizer, loader), criterion = made, None
        return engine, model, optimizer, criterion, loader

    # -- one step ---------------------------------------------------------------------------
    def step(self, p: Prepared, ids: Any, mask: Any) -> float | None:
        """Forward, backward and optimizer step on one physical batch; the batch's mean loss.

        An empty Poisson batch takes a noise-only step (the accountant counts it, as the
        analysis assumes) and returns None. Whether the optimizer really stepped (the last
        physical batch of a logical one) is ``p.optimizer._is_last_step_skipped`` (private runs).
        """
        ids, mask = ids.to(p.device), mask.to(p.device)
        loss_value: float | None = None
        if ids.shape[0] == 0:
            if self.cfg.private:
                _empty_step(p.optimizer)
        else:
            logits = lm_logits(p.model, ids, mask)
            if p.criterion is not None:
                flat_logits, flat_labels = shifted(logits, ids, mask)
                loss = p.criterion(flat_logits, flat_labels, shape=(ids.shape[0], ids.shape[1] - 1))
            else:
                loss = per_sample_loss(logits, ids, mask).mean()
            loss.backward()
            p.optimizer.step()
            loss_value = float(loss.item())
        p.optimizer.zero_grad(set_to_none=True)
        return loss_value

    def checkpoint(self, p: Prepared) -> None:
        if self.rank != 0 or not self.write_outputs:
            return
        cfg = self.cfg
        _save_checkpoint(
            self.ckpt_path,
            {
                "model": base_model(p.model).state_dict(),
                "optimizer": (p.optimizer.original_optimizer if cfg.private else p.optimizer).state_dict(),
                "accountant": p.engine.accountant.state_dict() if p.engine else None,
                "steps_done": p.steps_done,
                "noise_multiplier": p.noise_multiplier,
                "sample_rate": p.sample_rate,
                "delta": p.delta,
                "dp_params": cfg.dp_params(),
                "records_sha256": p.dataset.records_sha256,
                "base_model_sha256": p.base_hash,
                "rng": _rng_state(),
            },
        )

    # -- the whole run ------------------------------------------------------------------------
    def run(self, p: Prepared | None = None, **prepare_kwargs: Any) -> TrainResult:
        """Train until the planned steps, the privacy budget or ``stop_after_steps``; save and report."""
        started = time.monotonic()
        if p is None:
            p = self.prepare(**prepare_kwargs)
        cfg, rank = self.cfg, self.rank
        stop_at = p.stop_at
        session_cap = p.steps_done + cfg.stop_after_steps if cfg.stop_after_steps is not None else None

        def capped() -> bool:
            return session_cap is not None and p.steps_done >= session_cap

        from tqdm.auto import tqdm

        bar = tqdm(
            total=stop_at,
            initial=p.steps_done,
            desc="dp-train" if cfg.private else "train",
            unit="step",
            disable=not cfg.progress or rank != 0,
            dynamic_ncols=True,
        )
        eps_every = max(1, stop_at // 4)  # a PRV evaluation costs ~0.1-1 s
        epoch_losses: list[float] = []
        all_losses: list[float] = []
        status = "completed"
        try:
            while p.steps_done < stop_at:
                if capped():
                    status = "stopped"
                    break
                epoch_losses = []
                batches_ctx = (
                    _memory_manager(p.loader, p.optimizer, cfg) if cfg.private else nullcontext(p.loader)
                )
                with batches_ctx as batches:
                    for ids, mask in batches:
                        loss = self.step(p, ids, mask)
                        if loss is not None:
                            epoch_losses.append(loss)
                        if cfg.private and p.optimizer._is_last_step_skipped:
                            continue
                        p.steps_done += 1
                        bar.update(1)
                        if epoch_losses:
                            all_losses.append(epoch_losses[-1])
                        self._progress(bar, p, epoch_losses, eps_every)
                        if cfg.checkpoint_every and p.steps_done % cfg.checkpoint_every == 0:
                            self.checkpoint(p)
                        if p.steps_done >= stop_at or capped():
                            break
            if status == "completed" and p.steps_done < p.planned_steps:
                status = "budget_reached"
            if capped() and p.steps_done < stop_at:
                status = "stopped"
        except KeyboardInterrupt:
            # The interrupt may land between the accountant recording a step (inside optimizer.step)
            # and our counter catching up: the accountant is the truth, so a resumed run never
            # charges the budget less than what was spent (at worst one step more).
            if p.engine is not None:
                p.steps_done = accounting.total_steps(p.engine.accountant.history)
            self.checkpoint(p)
            bar.close()
            raise
        bar.close()
        self.checkpoint(p)
        return self._result(p, status, epoch_losses, all_losses, started)

    def _progress(self, bar: Any, p: Prepared, epoch_losses: list[float], eps_every: int) -> None:
        if (
            p.engine
            and self.cfg.progress
            and self.rank == 0
            and (p.steps_done % eps_every == 0 or p.steps_done == p.stop_at)
        ):
            bar.set_postfix(
                loss=f"{epoch_losses[-1] if epoch_losses else float('nan'):.3f}",
                eps=f"{p.engine.get_epsilon(p.delta):.3f}",
            )
        elif epoch_losses:
            bar.set_postfix(loss=f"{epoch_losses[-1]:.3f}")

    def _result(
        self, p: Prepared, status: str, epoch_losses: list[float], all_losses: list[float], started: float
    ) -> TrainResult:
        cfg = self.cfg
        report = None
        if p.engine and self.rank == 0:
            report = accounting.account(
                p.engine.accountant.history, p.delta, reported=self.accountant
            ).to_dict()
        out_hash = None
        if self.write_outputs and self.rank == 0 and status != "stopped":
            self.out.mkdir(parents=True, exist_ok=True)
            save_model(p.model, p.tokenizer, self.out)
            out_hash = hash_model_dir(self.out)
        return TrainResult(
            status=status,
            out=str(self.out),
            steps_done=p.steps_done,
            planned_steps=p.planned_steps,
            n_records=len(p.dataset),
            sample_rate=p.sample_rate,
            noise_multiplier=p.noise_multiplier,
            delta=p.delta,
            max_grad_norm=cfg.max_grad_norm,
            grad_sample_mode=p.mode if cfg.private else "none",
            accounting=report,
            dataset=p.dataset.fingerprint(),
            base_model_sha256=p.base_hash,
            output_model_sha256=out_hash,
            mean_loss_last_epoch=(sum(epoch_losses) / len(epoch_losses)) if epoch_losses else None,
            seconds=time.monotonic() - started,
            truncated_records=p.encoded.truncated,
            untied_embeddings=p.untied,
            losses=all_losses,
        )


def train(
    cfg: TrainConfig,
    *,
    dataset: Dataset | None = None,
    model: Any = None,
    tokenizer: Any = None,
    write_outputs: bool = True,
) -> TrainResult:
    """Fine-tune ``cfg.model`` on ``cfg.data`` with DP-SGD (or without, if not ``cfg.private``)."""
    trainer = DPTrainer(cfg, write_outputs=write_outputs)
    return trainer.run(dataset=dataset, model=model, tokenizer=tokenizer)


def _memory_manager(loader: Any, optimizer: Any, cfg: TrainConfig) -> Any:
    from opacus.utils.batch_memory_manager import BatchMemoryManager

    return BatchMemoryManager(
        data_loader=loader, max_physical_batch_size=cfg.physical_batch_size, optimizer=optimizer
    )
