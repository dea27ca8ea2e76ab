"""A distortion-free text watermark with exact p-values: exponential-minimum (Gumbel) sampling.

Aaronson's scheme, as analysed by Fernandez et al. ("Three bricks", 2023): at each step a
keyed hash of the last ``context_width`` tokens gives every vocabulary entry a uniform
``u_v``, and the next token is ``argmax_v log p_v + G_v`` with ``G_v = -log(-log u_v)``,
a Gumbel-max draw (computed as ``argmin_v -log(u_v) / p_v``). Over the key, the chosen token is distributed exactly as ``p``: no
perplexity cost, no bias towards a green list. Given the key it favours tokens whose
``u`` is large, which the detector measures.

The processor goes last in the logits chain (after temperature/top-k/top-p, which
transformers applies before user processors) and leaves only the chosen token finite,
so greedy and sampling decoding both return it.

Repeated contexts: the same context would reuse the same ``u`` and push generation into
loops, so a position whose context already occurred earlier in the sequence is sampled
normally (``mask_repeated``), and the detector scores only the first occurrence of each
context in the text. Under the null (text written without the key) the scored positions
have distinct contexts, so their ``u`` are independent uniforms and the score
``S = sum -log(1 - u)`` is Gamma(n, 1): the p-value is the exact upper tail. The detector
reads ``u`` as ``value / 2**32`` (never rounded up), which makes each score stochastically
smaller than Exp(1): the p-value can only err on the conservative side.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import torch

from watermark.greenlist import _shake_table
from watermark.keys import WatermarkKey

MASK32 = 0xFFFFFFFF
_M1, _M2 = 0x85EBCA6B, 0xC2B2AE35


def fmix32_fast(x: torch.Tensor) -> torch.Tensor:
    """murmur3's fmix32 on int64 tensors holding 32-bit values.

    A 32 x 32-bit product overflows int64 only in its high bits; two's-complement
    wrap-around keeps the low 32 bits exact, which is all we keep (a test checks it
    against multiplication in 16-bit halves).
    """
    x = x ^ (x >> 16)
    x = (x * _M1) & MASK32
    x = x ^ (x >> 13)
    x = (x * _M2) & MASK32
    return x ^ (x >> 16)


@dataclass(frozen=True)
class GumbelConfig:
    context_width: int = 2
    mask_repeated: bool = True
    min_tokens: int = 16
    alpha: float = 1e-3


@dataclass(frozen=True)
class KeyedUniforms:
    """Keyed 32-bit values for (context, candidate); one table per role, from SHAKE-256 under a subkey."""

    ctx_table: torch.Tensor
    cand_table: torch.Tensor
    k0: int
    context_width: int

    @classmethod
    def build(cls, key: WatermarkKey, vocab_size: int, context_width: int) -> KeyedUniforms:
        if context_width < 1:
            raise ValueError(f"context width must be >= 1, got {context_width}")
        sub = key.derive("text-gumbel-tables")
        return cls(
            _shake_table(sub, b"ctx\x00", vocab_size),
            _shake_table(sub, b"cand\x00", vocab_size),
            int.from_bytes(key.prf("text-gumbel-constants")[:4], "big"),
            context_width,
        )

    @property
    def vocab_size(self) -> int:
        return int(self.cand_table.shape[0])

    def to(self, device: torch.device | str) -> KeyedUniforms:
        return KeyedUniforms(
            self.ctx_table.to(device), self.cand_table.to(device), self.k0, self.context_width
        )

    def values(self, context: torch.Tensor, candidates: torch.Tensor, outer: bool = False) -> torch.Tensor:
        """32-bit keyed values (int64) for contexts (..., h) and candidates.

        ``outer``: contexts (B, h) against every candidate of (V,) -> (B, V) (generation);
        otherwise position by position, (n, h) with (n,) -> (n,) (detection).
        """
        seed = torch.full_like(context[..., 0], self.k0)
        for j in range(context.shape[-1]):
            seed = fmix32_fast(seed ^ self.ctx_table[context[..., j]])
        seed = fmix32_fast(seed ^ 0x9E3779B9)
        if outer:
            seed = seed.unsqueeze(-1)
        return fmix32_fast(seed ^ self.cand_table[candidates])


def _repeated_context(input_ids: torch.Tensor, h: int) -> torch.Tensor:
    """(B,) True where the last h tokens already occurred as a window earlier in the row."""
    b, length = input_ids.shape
    if length <= h:
        return torch.zeros(b, dtype=torch.bool, device=input_ids.device)
    n = length - h  # windows starting at 0 .. n-1 end before the last token
    hit = torch.ones(b, n, dtype=torch.bool, device=input_ids.device)
    for j in range(h):
        hit &= input_ids[:, j : j + n] == input_ids[:, length - h + j : length - h + j + 1]
    return hit.any(dim=1)


def _import_logits_processor() -> type:
    from transformers import LogitsProcessor

    return LogitsProcessor


class GumbelLogitsProcessor(_import_logits_processor()):  # type: ignore[misc]
    """transformers ``LogitsProcessor``: pass it last in ``logits_processor=LogitsProcessorList([...])``."""

    def __init__(self, uniforms: KeyedUniforms, mask_repeated: bool = True) -> None:
        self.uniforms = uniforms
        self.mask_repeated = mask_repeated

    @classmethod
    def from_key(
        cls, key: WatermarkKey, vocab_size: int, config: GumbelConfig = GumbelConfig()
    ) -> GumbelLogitsProcessor:
        return cls(KeyedUniforms.build(key, vocab_size, config.context_width), config.mask_repeated)

    def __call__(self, input_ids: torch.LongTensor, scores: torch.FloatTensor) -> torch.FloatTensor:
        h = self.uniforms.context_width
        if input_ids.shape[-1] < h:
            return scores
        u = self.uniforms
        if u.cand_table.device != scores.device:
            self.uniforms = u = u.to(scores.device)
        vocab = scores.shape[-1]
        if vocab > u.vocab_size:
            raise ValueError(f"logits have {vocab} entries but the tables were built for {u.vocab_size}")
        values = u.values(input_ids[:, -h:], torch.arange(vocab, device=scores.device), outer=True)
        # argmax_v log p_v - log(-log u_v)  ==  argmin_v E_v / p_v  with E_v = -log u_v ~ Exp(1).
        # E is computed as -log1p(-w), w = 1 - u = (2^32 - value - 0.5) / 2^32, in float64: the small
        # E that decide the argmin keep full precision (float32 would round u near 1 to exactly 1).
        w = (4294967295.5 - values.to(torch.float64)) * (1.0 / 4294967296.0)
        expo = -torch.log1p(-w)
        probs = torch.softmax(scores.to(torch.float64), dim=-1)
        choice = (expo / probs).argmin(dim=-1)  # p = 0 (filtered) gives inf: never chosen
        out = torch.full_like(scores, float("-inf"))
        out.scatter_(1, choice.unsqueeze(1), 0.0)
        if self.mask_repeated:
            keep = _repeated_context(input_ids, h)
            if bool(keep.any()):
                out[keep] = scores[keep]
        return out


@dataclass(frozen=True)
class GumbelDetection:
    score: float | None
    p_value: float | None
    n_scored: int
    verdict: bool | None
    reason: str
    config: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def token_scores(token_ids: list[int], uniforms: KeyedUniforms) -> list[float]:
    """-log(1 - u) at each position whose context occurs for the first time (in order)."""
    h = uniforms.context_width
    seen: set[tuple[int, ...]] = set()
    rows: list[int] = []
    for t in range(h, len(token_ids)):
        ctx = tuple(token_ids[t - h : t])
        if (
            ctx in seen
            or min(ctx) < 0
            or max(ctx) >= uniforms.vocab_size
            or not 0 <= token_ids[t] < uniforms.vocab_size
        ):
            continue
        seen.add(ctx)
        rows.append(t)
    if not rows:
        return []
    ids = torch.tensor(token_ids)
    pos = torch.tensor(rows)
    ctx_t = torch.stack([ids[pos - h + j] for j in range(h)], dim=-1)
    values = uniforms.values(ctx_t, ids[pos]).to(torch.float64)
    return (-torch.log1p(-values / 4294967296.0)).tolist()


def p_value(total: float, n: int) -> float:
    """P[Gamma(n, 1) >= total]: the exact tail of a sum of n independent Exp(1) scores."""
    from scipy.special import gammaincc

    return 1.0 if n <= 0 else float(gammaincc(n, total))


def detect_tokens(
    token_ids: list[int], uniforms: KeyedUniforms, config: GumbelConfig = GumbelConfig()
) -> GumbelDetection:
    scores = token_scores(token_ids, uniforms)
    n, cfg = len(scores), asdict(config)
    if n < config.min_tokens:
        return GumbelDetection(
            None,
            None,
            n,
            None,
            f"too little evidence: {n} scored tokens, at least {config.min_tokens} needed; no verdict",
            cfg,
        )
    total = float(sum(scores))
    p = p_value(total, n)
    verdict = p <= config.alpha
    reason = "watermark detected" if verdict else "no watermark evidence"
    return GumbelDetection(total, p, n, verdict, f"{reason} at alpha={config.alpha:g}", cfg)


class GumbelDetector:
    """Bound to one key and tokenizer; build once, call per text."""

    def __init__(self, uniforms: KeyedUniforms, tokenizer: Any, config: GumbelConfig) -> None:
        self.uniforms, self.tokenizer, self.config = uniforms, tokenizer, config

    @classmethod
    def build(
        cls, key: WatermarkKey, tokenizer: Any, config: GumbelConfig = GumbelConfig()
    ) -> GumbelDetector:
        vocab = max(len(tokenizer), getattr(tokenizer, "vocab_size", 0) or 0)
        return cls(KeyedUniforms.build(key, vocab, config.context_width), tokenizer, config)

    def __call__(self, text: str) -> GumbelDetection:
        return detect_tokens(
            list(self.tokenizer.encode(text, add_special_tokens=False)), self.uniforms, self.config
        )
