"""The parameters of one training run, as one dataclass (CLI, audit and bench share it)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass
class TrainConfig:
    """Everything that decides what a DP fine-tuning run does.

    ``private=False`` trains the same model the same way without DP (the baseline of
    the audit and of the benchmark); everything else is shared so comparisons are fair.
    """

    model: str
    data: str
    out: str
    target_epsilon: float = 8.0
    delta: float | None = None
    epochs: int = 1
    batch_size: int = 32
    max_grad_norm: float = 1.0
    lora_r: int = 0
    lr: float = 1e-3
    physical_batch_size: int = 16
    grad_sample_mode: str = "auto"  # auto | hooks | ghost
    gradient_checkpointing: bool = False
    max_length: int | None = None
    truncate: bool = False
    redact_pii: bool = False
    resume: bool = False
    private: bool = True
    seed: int = 0
    device: str = "auto"  # auto (cuda if available) | cpu | cuda | cuda:N
    max_noise_multiplier: float = 50.0
    accountant: str = (
        "prv"  # the accountant the run is charged with: prv | rdp (privacy.dp.trainer.RUN_ACCOUNTANTS)
    )
    checkpoint_every: int = 50
    stop_after_steps: int | None = None
    progress: bool = True
    audit_store: str | None = None
    signing_key: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def dp_params(self) -> dict[str, Any]:
        """The parameters that must not change between a run and its resume."""
        keys = (
            "target_epsilon",
            "delta",
            "epochs",
            "batch_size",
            "max_grad_norm",
            "lora_r",
            "grad_sample_mode",
            "max_length",
            "truncate",
            "redact_pii",
            "private",
            "seed",
            "accountant",
        )
        return {k: getattr(self, k) for k in keys}
