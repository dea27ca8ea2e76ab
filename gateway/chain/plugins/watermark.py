"""Detect our text watermark in model answers and record the score in the audit event.

Useful when the gateway fronts a model suspected of being distilled from
watermarked outputs, or to confirm that a deployment's own watermark is on.
The detector is built once at start-up (key, tokenizer, keyed green list);
scoring happens in ``on_complete``, after the client has its answer, so it
adds no latency. Nothing but the statistic reaches the audit record.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from gateway.chain.context import RequestContext
from gateway.chain.plugins import Plugin

log = logging.getLogger("gateway.watermark")


class WatermarkDetectSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    key_file: Path
    # Name of an environment variable holding the key's passphrase (never the passphrase).
    passphrase_env: str | None = None
    # A Hugging Face tokenizer directory: the tokenizer the watermark was embedded with.
    tokenizer_dir: Path
    gamma: float = Field(0.25, gt=0, lt=1)
    context_width: int = Field(1, ge=1)
    self_hash: bool = False
    min_tokens: int = Field(24, ge=1)
    alpha: float = Field(1e-3, gt=0, lt=1)


class WatermarkDetectPlugin(Plugin):
    name = "watermark"
    Settings = WatermarkDetectSettings

    def __init__(self, settings: WatermarkDetectSettings, config: Any) -> None:
        super().__init__(settings, config)
        self.detector: Any = None

    async def startup(self) -> None:
        from transformers import AutoTokenizer

        from watermark.keys import load_key, passphrase_from_env
        from watermark.text import TextDetector, TextWatermarkConfig

        s = self.settings
        key = load_key(s.key_file, passphrase_from_env(s.passphrase_env))
        tokenizer = AutoTokenizer.from_pretrained(str(s.tokenizer_dir))
        cfg = TextWatermarkConfig(
            gamma=s.gamma,
            context_width=s.context_width,
            self_hash=s.self_hash,
            min_tokens=s.min_tokens,
            alpha=s.alpha,
        )
        self.detector = TextDetector.build(key, tokenizer, cfg)

    def on_chunk(self, ctx: RequestContext, chunk: dict[str, Any]) -> list[dict[str, Any]]:
        parts: list[str] = ctx.state.setdefault("watermark_text", [])
        for choice in chunk.get("choices") or ():
            delta = choice.get("delta") if isinstance(choice, dict) else None
            text = delta.get("content") if isinstance(delta, dict) else choice.get("text")
            if isinstance(text, str):
                parts.append(text)
        return [chunk]

    @staticmethod
    def _response_text(ctx: RequestContext) -> str:
        if "watermark_text" in ctx.state:
            return "".join(ctx.state["watermark_text"])
        texts = []
        for choice in (ctx.response or {}).get("choices") or ():
            msg = choice.get("message") if isinstance(choice, dict) else None
            text = msg.get("content") if isinstance(msg, dict) else choice.get("text")
            if isinstance(text, str):
                texts.append(text)
        return "\n".join(texts)

    async def on_complete(self, ctx: RequestContext) -> None:
        if ctx.status != 200 or ctx.route == "embeddings":
            return
        text = self._response_text(ctx)
        if not text:
            return
        result = self.detector(text)
        ctx.audit["watermark"] = {
            "z": result.z,
            "p_value": result.p_value,
            "n_scored": result.n_scored,
            "verdict": result.verdict,
        }
