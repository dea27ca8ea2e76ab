"""The KGW text watermark: a transformers LogitsProcessor, a vLLM-shaped adapter, a detector.

Generation adds ``delta`` to the logits of the keyed green list (see greenlist.py).
Detection re-tokenises the text, scores each (context, token) pair once (repeated
n-grams would otherwise count the same evidence many times and inflate z), and
returns the exact binomial tail P[X >= green | n, gamma]. Below ``min_tokens`` scored
tokens it returns no verdict at all: "too little evidence" is an answer, not a "no".
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import torch

from watermark.greenlist import GreenList
from watermark.keys import WatermarkKey
from watermark.stats import binomial_sf, z_score


@dataclass(frozen=True)
class TextWatermarkConfig:
    """Public parameters of the text watermark; the defaults are the KGW paper's."""

    gamma: float = 0.25
    delta: float = 2.0
    context_width: int = 1
    self_hash: bool = False
    min_tokens: int = 24
    alpha: float = 1e-3


@dataclass(frozen=True)
class DetectionResult:
    """One detection. ``verdict`` is None (and z, p_value too) when there was too little evidence."""

    z: float | None
    p_value: float | None
    n_scored: int
    n_green: int
    verdict: bool | None
    reason: str
    config: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _import_logits_processor() -> type:
    from transformers import LogitsProcessor

    return LogitsProcessor


class _GreenBias:
    """What both generation-side shapes share: a keyed green list and the bias added to it."""

    def __init__(self, greenlist: GreenList, delta: float) -> None:
        self.greenlist = greenlist
        self.delta = float(delta)

    @classmethod
    def from_key(
        cls, key: WatermarkKey, vocab_size: int, config: TextWatermarkConfig = TextWatermarkConfig()
    ):
        gl = GreenList.build(key, vocab_size, config.gamma, config.context_width, config.self_hash)
        return cls(gl, config.delta)


class KGWLogitsProcessor(_GreenBias, _import_logits_processor()):  # type: ignore[misc]
    """transformers ``LogitsProcessor``: pass it in ``logits_processor=LogitsProcessorList([...])``."""

    def __call__(self, input_ids: torch.LongTensor, scores: torch.FloatTensor) -> torch.FloatTensor:
        h = self.greenlist.context_width
        if input_ids.shape[-1] < h:
            return scores
        gl = self.greenlist
        if gl.ctx_table.device != scores.device:
            self.greenlist = gl = gl.to(scores.device)
        vocab = scores.shape[-1]
        if vocab > gl.vocab_size:
            raise ValueError(f"logits have {vocab} entries but the green list was built for {gl.vocab_size}")
        cands = torch.arange(vocab, device=scores.device)
        green = gl.is_green(input_ids[:, -h:].unsqueeze(1), cands)
        return scores + self.delta * green.to(scores.dtype)


class VLLMWatermark(_GreenBias):
    """The vLLM logits-processor shape: ``(output_token_ids: list[int], logits: Tensor[V]) -> Tensor[V]``.

    vLLM passes only the tokens generated so far; until there are ``context_width`` of
    them the logits pass unchanged, which matches the detector (it scores only tokens
    with a full context inside the response text).
    """

    def __call__(self, token_ids: list[int], logits: torch.Tensor) -> torch.Tensor:
        h = self.greenlist.context_width
        if len(token_ids) < h:
            return logits
        if self.greenlist.ctx_table.device != logits.device:
            self.greenlist = self.greenlist.to(logits.device)
        ctx = torch.tensor(token_ids[-h:], device=logits.device).view(1, h)
        green = self.greenlist.is_green(ctx, torch.arange(logits.shape[-1], device=logits.device))
        return logits + self.delta * green.to(logits.dtype)


def score_tokens(token_ids: list[int], greenlist: GreenList, config: TextWatermarkConfig) -> DetectionResult:
    """Score a token sequence: unique (context, token) pairs only, exact binomial tail."""
    h = greenlist.context_width
    seen: set[tuple[int, ...]] = set()
    rows: list[int] = []
    for t in range(h, len(token_ids)):
        pair = tuple(token_ids[t - h : t + 1])
        if pair not in seen and min(pair) >= 0 and max(pair) < greenlist.vocab_size:
            seen.add(pair)
            rows.append(t)
    n = len(rows)
    cfg = asdict(config)
    if n < config.min_tokens:
        return DetectionResult(
            None,
            None,
            n,
            0,
            None,
            f"too little evidence: {n} scored tokens, at least {config.min_tokens} needed; no verdict",
            cfg,
        )
    ids = torch.tensor(token_ids)
    pos = torch.tensor(rows)
    ctx = torch.stack([ids[pos - h + j] for j in range(h)], dim=-1)
    green = int(greenlist.is_green(ctx, ids[pos]).sum())
    p = binomial_sf(green, n, config.gamma)
    verdict = p <= config.alpha
    reason = "watermark detected" if verdict else "no watermark evidence"
    return DetectionResult(
        z_score(green, n, config.gamma), p, n, green, verdict, f"{reason} at alpha={config.alpha:g}", cfg
    )


class TextDetector:
    """A detector bound to one key and tokenizer; build it once at start-up, call it per response."""

    def __init__(self, greenlist: GreenList, tokenizer: Any, config: TextWatermarkConfig) -> None:
        self.greenlist, self.tokenizer, self.config = greenlist, tokenizer, config

    @classmethod
    def build(cls, key: WatermarkKey, tokenizer: Any, config: TextWatermarkConfig = TextWatermarkConfig()):
        vocab = max(len(tokenizer), getattr(tokenizer, "vocab_size", 0) or 0)
        return cls(
            GreenList.build(key, vocab, config.gamma, config.context_width, config.self_hash),
            tokenizer,
            config,
        )

    def __call__(self, text: str) -> DetectionResult:
        ids = self.tokenizer.encode(text, add_special_tokens=False)
        return score_tokens(list(ids), self.greenlist, self.config)


def detect(
    text: str, key: WatermarkKey, tokenizer: Any, config: TextWatermarkConfig = TextWatermarkConfig()
) -> DetectionResult:
    """One-shot detection of our watermark in ``text`` (the gateway calls this on a response).

    For many calls build a ``TextDetector`` once instead; this builds the keyed tables each time.
    """
    return TextDetector.build(key, tokenizer, config)(text)
