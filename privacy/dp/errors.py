"""Errors of the DP fine-tuning tools.

All derive from ``commandline.UsageError`` so the command table prints them as one
line with exit code ERROR. Messages name files, line numbers, layers and parameters,
never the content of a record (it may hold personal data).

    UsageError
    └── DPError
        ├── DatasetError          empty, malformed or over-long records
        ├── BudgetError           the (epsilon, delta) target cannot be met
        ├── UnsupportedLayerError a layer Opacus cannot compute per-sample gradients for
        ├── AccountantDisagreement accountants disagree beyond their tolerance
        └── CheckpointError       a resume that does not match the run
"""

from __future__ import annotations

from commandline import UsageError


class DPError(UsageError):
    """Base class of every error of privacy.dp."""


class DatasetError(DPError):
    """The training data cannot be used as given."""


class BudgetError(DPError):
    """The privacy target cannot be met (or is invalid)."""


class UnsupportedLayerError(DPError):
    """The model holds a trainable layer that DP-SGD cannot handle."""

    def __init__(self, layers: list[tuple[str, str]]) -> None:
        self.layers = layers
        named = "; ".join(f"{name} ({kind})" for name, kind in layers)
        super().__init__(
            f"Opacus cannot train these layers with DP-SGD: {named}. "
            "Replace them (e.g. BatchNorm -> GroupNorm/LayerNorm, nn.LSTM -> opacus.layers.DPLSTM) "
            "or freeze them (LoRA with --lora-r)."
        )


class AccountantDisagreement(DPError):
    """Two accountants for the same mechanism disagree beyond the documented tolerance."""


class CheckpointError(DPError):
    """A checkpoint cannot be resumed into this run."""
