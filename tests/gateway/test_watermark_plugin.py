"""The gateway scores our text watermark in answers and records it in the audit event."""

from __future__ import annotations

import httpx
import torch

from gateway.auth.devkey import mint
from tests.gateway.conftest import audit_events
from watermark import tinymodels
from watermark.keys import WatermarkKey, save_key
from watermark.text import TextWatermarkConfig, VLLMWatermark


def _watermarked_text(key: WatermarkKey, tokenizer, n: int = 120) -> str:
    """Tokens drawn from random logits pushed to the green list (what a watermarking server emits)."""
    wm = VLLMWatermark.from_key(key, len(tokenizer), TextWatermarkConfig(delta=8.0))
    gen = torch.Generator().manual_seed(0)
    ids: list[int] = [int(torch.randint(len(tokenizer), (1,), generator=gen))]
    for _ in range(n):
        logits = torch.randn(len(tokenizer), generator=gen)
        ids.append(int(torch.argmax(wm(ids, logits))))
    return tokenizer.decode(ids)


def test_watermark_scores_reach_the_audit_event(upstream, gateway_factory, tmp_path):
    up, up_url = upstream
    tok = tinymodels.train_tokenizer(tinymodels.corpus(), vocab_size=512)
    tok_dir = tmp_path / "tok"
    tok.save_pretrained(tok_dir)
    key = WatermarkKey.generate()
    save_key(key, tmp_path / "key.json")
    url, _ = gateway_factory(
        upstreams=[{"name": "u", "url": up_url}],
        plugins=[
            "auth",
            {
                "name": "watermark",
                "settings": {"key_file": str(tmp_path / "key.json"), "tokenizer_dir": str(tok_dir)},
            },
            "audit",
        ],
    )
    h = {"Authorization": "Bearer " + mint("alice", "acme", ["user"])}
    marked = _watermarked_text(key, tok)
    plain = " ".join(tinymodels.corpus())[:600]
    for text in (marked, plain):
        body = {"model": "echo-1", "messages": [{"role": "user", "content": text}]}
        assert httpx.post(f"{url}/v1/chat/completions", json=body, headers=h, timeout=30).status_code == 200
    with httpx.stream(
        "POST",
        f"{url}/v1/chat/completions",
        headers=h,
        timeout=30,
        json={"model": "echo-1", "stream": True, "messages": [{"role": "user", "content": marked}]},
    ) as r:
        assert [ln for ln in r.iter_lines() if ln.startswith("data: ")][-1] == "data: [DONE]"
    events = audit_events(tmp_path / "audit.jsonl", 3)
    wm = [e["payload"]["watermark"] for e in events]
    assert wm[0]["verdict"] is True and wm[0]["p_value"] < 1e-6
    assert wm[1]["verdict"] is False
    assert wm[2]["verdict"] is True  # streamed answers are scored too
