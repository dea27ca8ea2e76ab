"""White-box weight watermark (Uchida et al. 2017), on a permutation-invariant statistic.

Uchida embeds bits b in a weight vector w through a keyed projection X: a regulariser
during fine-tuning pushes sign(X w) towards b. Projecting the raw weights breaks as soon
as a thief permutes the MLP's hidden units (a free, function-preserving edit). Here w
is the *mean over hidden units* of each MLP input matrix: a d_model-vector that any
permutation of hidden units leaves unchanged, and that int8/int4 rounding, noise and
magnitude pruning change only by an average of many small errors.

Null distribution: X has i.i.d. Gaussian rows and b i.i.d. fair bits, both from the key.
For a model independent of the key each extracted bit matches with probability exactly
1/2, independently, so the number of matches is Binomial(n, 1/2): an exact p-value.
Not survived: a permutation of the residual stream (d_model) applied to every layer.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

import torch

from watermark.errors import NotApplicableError
from watermark.keys import WatermarkKey
from watermark.stats import binomial_sf
from watermark.targets import find_targets, layer_label


@dataclass(frozen=True)
class WeightWatermarkConfig:
    bits_per_layer: int = 64
    margin: float = 0.05  # in units of the matrix's weight std: the distance each projection keeps from 0
    lam: float = 50.0
    lr: float = 1e-3
    min_steps: int = 5
    max_steps: int = 200


def statistic(weight: torch.Tensor, hidden_axis: int) -> torch.Tensor:
    """The permutation-invariant vector that carries the bits."""
    return weight.float().mean(dim=hidden_axis)


def _bits_for(key: WatermarkKey, label: str, dim: int, n_bits: int) -> tuple[torch.Tensor, torch.Tensor]:
    n_bits = min(n_bits, max(1, dim // 2))
    g = torch.Generator().manual_seed(key.seed("weight-projection", label, dim))
    proj = torch.randn(n_bits, dim, generator=g)
    proj = proj / proj.norm(dim=1, keepdim=True)
    raw = key.prf("weight-bits", label, n_bits)
    while len(raw) * 8 < n_bits:
        raw += key.prf("weight-bits", label, n_bits, len(raw))
    bits = torch.tensor([(raw[i // 8] >> (i % 8)) & 1 for i in range(n_bits)], dtype=torch.float32)
    return proj, bits


@dataclass
class ExtractionResult:
    n_bits: int
    n_match: int
    p_value: float
    layers: list[str]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def extract(
    get_tensor: Callable[[str], torch.Tensor],
    names: list[str],
    key: WatermarkKey,
    config: WeightWatermarkConfig = WeightWatermarkConfig(),
    channel_perm: torch.Tensor | None = None,
) -> ExtractionResult:
    """Read the bits from a model's tensors (lazily, one matrix at a time) and test them.

    ``channel_perm`` (from align.residual_permutation) maps the suspect's residual channels
    back to ours before projecting.
    """
    targets = find_targets(names)
    if not targets:
        raise NotApplicableError("no MLP matrices of a known architecture family")
    n = m = 0
    for name, axis in targets:
        v = statistic(get_tensor(name), axis)
        if channel_perm is not None and channel_perm.numel() == v.numel():
            v = v[channel_perm]
        proj, bits = _bits_for(key, layer_label(name), v.numel(), config.bits_per_layer)
        got = (proj @ v > 0).float()
        n += bits.numel()
        m += int((got == bits).sum())
    return ExtractionResult(n, m, binomial_sf(m, n, 0.5), [layer_label(t) for t, _ in targets])


def embed(
    model: Any,
    key: WatermarkKey,
    calibration: list[torch.Tensor],
    config: WeightWatermarkConfig = WeightWatermarkConfig(),
    progress: bool = False,
) -> dict[str, Any]:
    """Fine-tune the target matrices with the LM loss plus Uchida's regulariser (hinge form).

    Only the target matrices train, so everything else in the model stays bit-identical;
    the LM loss on calibration text keeps the model's behaviour while the statistic moves.
    Stops once every projection is past its margin (after ``min_steps``).
    """
    from tqdm import tqdm

    params = dict(model.named_parameters())
    targets = find_targets(list(params))
    if not targets:
        raise NotApplicableError("no MLP matrices of a known architecture family")
    for p in model.parameters():
        p.requires_grad_(False)
    specs = []
    for name, axis in targets:
        w = params[name]
        w.requires_grad_(True)
        proj, bits = _bits_for(key, layer_label(name), w.shape[1 - axis], config.bits_per_layer)
        specs.append((w, axis, proj, 2 * bits - 1, config.margin * float(w.detach().std())))
    opt = torch.optim.Adam([s[0] for s in specs], lr=config.lr)
    model.train()
    steps, wm_loss = 0, float("inf")
    bar = tqdm(total=config.max_steps, desc="embed", disable=not progress)
    while steps < config.max_steps and (steps < config.min_steps or wm_loss > 0):
        batch = calibration[steps % len(calibration)]
        lm = model(input_ids=batch, labels=batch).loss
        wm = sum(
            torch.relu(margin - sign * (proj @ statistic(w, axis))).sum() / margin
            for w, axis, proj, sign, margin in specs
        )
        loss = lm + config.lam * wm / sum(s[2].shape[0] for s in specs)
        opt.zero_grad()
        loss.backward()
        opt.step()
        wm_loss = float(wm.detach())
        steps += 1
        bar.update(1)
        bar.set_postfix(lm=f"{float(lm.detach()):.3f}", wm=f"{wm_loss:.3f}")
    bar.close()
    model.eval()
    for p in model.parameters():
        p.requires_grad_(True)
    return {
        "steps": steps,
        "final_lm_loss": float(lm.detach()),
        "final_wm_loss": wm_loss,
        "layers": [layer_label(t) for t, _ in targets],
        "config": asdict(config),
    }
