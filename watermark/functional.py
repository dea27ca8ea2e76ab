"""Functional watermark: keyed bits in the model's outputs on keyed probe inputs.

Why: every weight statistic is a function of the weights, and the architecture's symmetry
group (hidden-unit permutation, sign flips and rescaling of gated units, norm folding,
residual-stream permutation and rotation, head permutation, per-head q/k and v/o
rescaling) changes the weights while keeping the function. The only quantities invariant
under the whole group, with no reference copy, are functions of the function: the
logits on given inputs. So the mark lives there.

The key derives ``n_probes`` probe sequences of uniformly random token ids (inputs no
user sends) and, for each probe, ``pairs_per_probe`` disjoint token pairs (a, b) and a
fair bit. Embedding fine-tunes the model so that at the probe's last position
``logit[a] - logit[b]`` has the sign of the bit, by a margin in logit units, while a KL
term to the original model on its own samples keeps normal behaviour.

Null distribution (exact): the bits come from the key through their own HMAC label,
independently of the probes and pairs. For a model that does not depend on the key,
the sign of each logit difference is fixed once the probes are fixed, and each bit
equals it with probability exactly 1/2, independently: matches ~ Binomial(n, 1/2).
A tie or a NaN counts as a mismatch, which can only make the p-value conservative.
Detection needs only the token ids and the logits (no tokenizer): it runs on the weights
with transformers, or on any API that returns the two logits.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import torch

from watermark.keys import WatermarkKey
from watermark.stats import binomial_sf


@dataclass(frozen=True)
class FunctionalConfig:
    n_probes: int = 32
    probe_len: int = 12
    pairs_per_probe: int = 8
    margin: float = 1.0  # logit units, at embedding time
    lr: float = 1e-3
    keep_weight: float = 5.0  # weight of KL(original || marked) on calibration text
    min_steps: int = 5
    max_steps: int = 300


@dataclass(frozen=True)
class Probes:
    ids: torch.Tensor  # (n_probes, probe_len) token ids
    a: torch.Tensor  # (n_probes, pairs) token ids
    b: torch.Tensor  # (n_probes, pairs)
    bits: torch.Tensor  # (n_probes, pairs) in {0, 1}


def derive(key: WatermarkKey, vocab_size: int, config: FunctionalConfig = FunctionalConfig()) -> Probes:
    """The keyed probes, pairs and bits for a vocabulary of ``vocab_size`` ids."""
    if vocab_size < 2 * config.pairs_per_probe + 1:
        raise ValueError(f"vocabulary of {vocab_size} ids is too small for {config.pairs_per_probe} pairs")
    g = torch.Generator().manual_seed(
        key.seed("functional-probes", vocab_size, config.n_probes, config.probe_len)
    )
    ids = torch.randint(0, vocab_size, (config.n_probes, config.probe_len), generator=g)
    gp = torch.Generator().manual_seed(
        key.seed("functional-pairs", vocab_size, config.n_probes, config.pairs_per_probe)
    )
    k = config.pairs_per_probe
    toks = torch.stack([torch.randperm(vocab_size, generator=gp)[: 2 * k] for _ in range(config.n_probes)])
    n_bits = config.n_probes * k
    raw = b""
    while len(raw) * 8 < n_bits:
        raw += key.prf("functional-bits", vocab_size, n_bits, len(raw))
    bits = torch.tensor([(raw[i // 8] >> (i % 8)) & 1 for i in range(n_bits)], dtype=torch.long)
    return Probes(ids, toks[:, :k], toks[:, k:], bits.view(config.n_probes, k))


def _vocab_size(model: Any) -> int:
    return int(model.get_output_embeddings().weight.shape[0])


def _differences(model: Any, probes: Probes) -> torch.Tensor:
    """logit[a] - logit[b] at each probe's last position, (n_probes, pairs)."""
    logits = model(input_ids=probes.ids.to(model.device)).logits[:, -1, :].float().cpu()
    return logits.gather(1, probes.a) - logits.gather(1, probes.b)


@dataclass
class FunctionalResult:
    n_bits: int
    n_match: int
    p_value: float
    min_margin: float
    vocab_size: int

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@torch.no_grad()
def verify(model: Any, key: WatermarkKey, config: FunctionalConfig = FunctionalConfig()) -> FunctionalResult:
    probes = derive(key, _vocab_size(model), config)
    d = _differences(model, probes)
    sign = 2 * probes.bits - 1
    match = (sign * d) > 0  # a tie or NaN is a mismatch
    n, m = match.numel(), int(match.sum())
    agree = (sign * d)[torch.isfinite(d)]
    return FunctionalResult(
        n,
        m,
        binomial_sf(m, n, 0.5),
        float(agree.min()) if agree.numel() else float("nan"),
        _vocab_size(model),
    )


def embed(
    model: Any,
    key: WatermarkKey,
    calibration: list[torch.Tensor],
    config: FunctionalConfig = FunctionalConfig(),
    progress: bool = False,
) -> dict[str, Any]:
    """Fine-tune until every keyed logit difference has its bit's sign by ``margin``."""
    from tqdm import tqdm

    probes = derive(key, _vocab_size(model), config)
    sign = (2 * probes.bits - 1).float()
    with torch.no_grad():
        teacher = [torch.log_softmax(model(input_ids=c).logits.float(), dim=-1) for c in calibration]
    opt = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=config.lr)
    bar = tqdm(total=config.max_steps, desc="functional mark", disable=not progress)
    steps, worst = 0, float("-inf")
    model.eval()  # no dropout: the margins are those the verifier will see
    while steps < config.max_steps:
        d = _differences(model, probes)
        hinge = torch.relu(config.margin - sign * d)
        worst = float((sign * d).min().detach())
        if steps >= config.min_steps and float(hinge.max().detach()) == 0.0:
            break
        i = steps % len(calibration)
        student = torch.log_softmax(model(input_ids=calibration[i]).logits.float(), dim=-1)
        kl = torch.nn.functional.kl_div(student, teacher[i], log_target=True, reduction="batchmean")
        loss = hinge.mean() + config.keep_weight * kl / calibration[i].shape[1]
        opt.zero_grad()
        loss.backward()
        opt.step()
        steps += 1
        bar.update(1)
        bar.set_postfix(worst=f"{worst:.2f}")
    bar.close()
    model.eval()
    check = verify(model, key, config)
    return {
        "steps": steps,
        "worst_margin": worst,
        "n_bits": check.n_bits,
        "n_match": check.n_match,
        "p_value": check.p_value,
        "config": asdict(config),
    }
