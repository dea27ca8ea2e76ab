"""LiteLLM with PII guardrails: stock Presidio vs `privacy serve` vs our Generic Guardrail API.

All in one run, in front of one instant upstream (nginx ``return 200``), through ONE LiteLLM
proxy (litellm 1.108 from .venv-litellm, 1 worker) whose guardrails each request picks by name
(``"guardrails": [...]`` in the body), driven by ``wrk`` with a ~1 KB held-out prompt that
carries personal data (a fresh ticket number per request, so no result cache answers):

    litellm                 LiteLLM alone
    litellm+presidio-stock  LiteLLM's ``presidio`` guardrail -> stock presidio-analyzer and
                            presidio-anonymizer servers (Flask under gunicorn, 1 worker each,
                            bench/litellm_stack/presidio_stock.py)
    litellm+presidio-ours   the same guardrail -> `privacy serve` (one process)
    litellm+cg              LiteLLM's ``generic_guardrail_api`` (pre_call + post_call) ->
                            `gateway serve` with the full chain (ratelimit, pii, policy, audit)

It prints p50 at c=1 and req/s at c=64 with ratios to LiteLLM alone and ours to stock, the
recall of both analyzers on the held-out corpus over HTTP (the numbers ``privacy eval``
computes, on the entity types both know), and the cost of the HTTP hop of the guardrail API
(the same pre_call over HTTP vs the chain called in-process), which decides whether an
in-process LiteLLM CustomGuardrail is worth shipping.

Needs .venv-litellm (scripts/setup-litellm), nginx and wrk. Usage:
    python bench/litellm_bench.py [--duration 8] [--concurrency 1,64] [--texts 30]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import secrets
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import orjson
import yaml

REPO = Path(__file__).resolve().parent.parent
BENCH = REPO / "bench"
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(BENCH))

import gateway_bench as gb  # noqa: E402  (the nginx instant upstream, process handling)
from pii_bench import kb_texts, recall_on  # noqa: E402

from privacy.pii.findings import Finding  # noqa: E402
from tests.litellm.proc import MASTER_KEY, litellm_proxy, model_entry  # noqa: E402

LUA = BENCH / "litellm_stack" / "post.lua"
RESULTS = BENCH / "results"
COMMON = {"EMAIL_ADDRESS", "PHONE_NUMBER", "CREDIT_CARD", "IBAN_CODE", "US_SSN", "IP_ADDRESS", "PERSON_en"}
GUARDRAILS = {
    "litellm": None,
    "litellm+presidio-stock": "presidio-stock",
    "litellm+presidio-ours": "presidio-ours",
    "litellm+cg": "cg",
}


@dataclass
class Run:
    target: str
    concurrency: int
    requests: int
    rps: float
    p50_ms: float
    p90_ms: float
    p99_ms: float
    errors: dict[str, int] = field(default_factory=dict)


def run_wrk(name: str, url: str, body: str, headers: dict[str, str], concurrency: int, seconds: float) -> Run:
    threads = 1 if concurrency == 1 else 2
    cmd = [
        gb._need("wrk"),
        f"-t{threads}",
        f"-c{concurrency}",
        f"-d{max(1, round(seconds))}s",
        "--timeout=30s",
        "--latency",
        "-s",
        str(LUA),
        url,
    ]
    env = {
        **os.environ,
        "BENCH_BODY": body,
        "BENCH_HEADERS": "\n".join(f"{k}: {v}" for k, v in headers.items()),
    }
    out = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=seconds + 90)
    line = next((ln for ln in out.stdout.splitlines() if ln.startswith("BENCH_JSON ")), None)
    if line is None:
        raise gb.BenchError(f"wrk gave no summary for {name}: {out.stderr[-500:] or out.stdout[-500:]}")
    s = json.loads(line[len("BENCH_JSON ") :])
    secs = s["duration_us"] / 1e6
    errors = {
        k: s[k]
        for k in ("status_errors", "connect_errors", "read_errors", "write_errors", "timeouts")
        if s[k]
    }
    return Run(
        name,
        concurrency,
        s["requests"],
        round(s["requests"] / secs, 1),
        s["p50_us"] / 1000,
        s["p90_us"] / 1000,
        s["p99_us"] / 1000,
        errors,
    )


def start_services(stack: gb.Stack, key: str) -> dict[str, str]:
    env = {"PYTHONPATH": str(REPO)}
    gunicorn = str(Path(sys.executable).parent / "gunicorn")
    urls: dict[str, str] = {}
    for name, factory in (("stock-analyzer", "analyzer_app"), ("stock-anonymizer", "anonymizer_app")):
        port = gb.free_port()
        proc, log = stack.spawn(
            name,
            [
                gunicorn,
                "-w",
                "1",
                "-b",
                f"127.0.0.1:{port}",
                "--timeout",
                "120",
                "--chdir",
                str(BENCH / "litellm_stack"),
                f"presidio_stock:{factory}()",
            ],
            env,
        )
        urls[name] = f"http://127.0.0.1:{port}"
        gb.wait_http(urls[name] + "/health", 120, proc, log)
    port = gb.free_port()
    proc, log = stack.spawn(
        "privacy-serve",
        [sys.executable, "-m", "privacy", "serve", "--host", "127.0.0.1", "--port", str(port)],
        env,
    )
    urls["ours"] = f"http://127.0.0.1:{port}"
    gb.wait_http(urls["ours"] + "/health", 120, proc, log)
    port = gb.free_port()
    cfg = stack.dir / "gateway.yaml"
    cfg.write_text(yaml.safe_dump(gateway_config(stack), sort_keys=False))
    proc, log = stack.spawn(
        "gateway",
        [
            sys.executable,
            "-m",
            "gateway",
            "serve",
            "--config",
            str(cfg),
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--log-level",
            "warning",
        ],
        {**env, "CG_GUARDRAIL_API_KEY": key},
    )
    urls["gateway"] = f"http://127.0.0.1:{port}"
    gb.wait_http(urls["gateway"] + "/healthz", 120, proc, log)
    return urls


def gateway_config(stack: gb.Stack) -> dict[str, Any]:
    from gateway.policy.bundle import default_bundle_dir

    return {
        "upstreams": [{"name": "nginx", "url": f"http://127.0.0.1:{stack.upstream_port}"}],
        "plugins": ["auth", "ratelimit", "pii", "policy", "audit"],
        "rate_limit": {
            "tenant": {"requests_per_minute": 10_000_000, "tokens_per_minute": 10_000_000_000},
            "subject": {"requests_per_minute": 10_000_000, "tokens_per_minute": 10_000_000_000},
        },
        "pii": {"default_operator": "pseudonymize"},
        "policy": {"bundle_dir": str(default_bundle_dir())},
        "audit": {"store": f"sqlite:///{stack.dir / 'audit.db'}"},
    }


def litellm_config(stack: gb.Stack, urls: dict[str, str]) -> dict[str, Any]:
    def presidio(name: str, analyzer: str, anonymizer: str) -> dict[str, Any]:
        return {
            "guardrail_name": name,
            "litellm_params": {
                "guardrail": "presidio",
                "mode": "pre_call",
                "default_on": False,
                "presidio_analyzer_api_base": analyzer + "/",
                "presidio_anonymizer_api_base": anonymizer + "/",
            },
        }

    return {
        "model_list": [model_entry("bench", f"http://127.0.0.1:{stack.upstream_port}")],
        "guardrails": [
            presidio("presidio-stock", urls["stock-analyzer"], urls["stock-anonymizer"]),
            presidio("presidio-ours", urls["ours"], urls["ours"]),
            {
                "guardrail_name": "cg",
                "litellm_params": {
                    "guardrail": "generic_guardrail_api",
                    "mode": ["pre_call", "post_call"],
                    "default_on": False,
                    "api_base": urls["gateway"],
                    "api_key": "os.environ/CG_GUARDRAIL_API_KEY",
                },
            },
        ],
        "general_settings": {"master_key": MASTER_KEY, "disable_spend_logs": True},
        "litellm_settings": {"drop_params": True, "telemetry": False, "num_retries": 0},
    }


def recall(texts: list[dict[str, Any]], url: str) -> dict[str, Any]:
    client = httpx.Client(timeout=60)

    def analyze(text: str) -> list[Finding]:
        r = client.post(url + "/analyze", json={"text": text, "language": "en"})
        r.raise_for_status()
        return [Finding(x["entity_type"], x["start"], x["end"], x["score"]) for x in r.json()]

    return recall_on(texts, analyze, COMMON)


def hop_cost(urls: dict[str, str], key: str, text: str, n: int, config: dict[str, Any]) -> dict[str, float]:
    """The same pre_call over HTTP to `gateway serve` and through the same ASGI app in-process,
    interleaved (machine noise hits both alike); plus a bare loopback round trip (GET /healthz)."""
    from gateway.config import load_config
    from gateway.hosts.proxy.app import GatewayApp

    def body(i: int) -> bytes:
        return orjson.dumps(
            {
                "input_type": "request",
                "texts": [text.replace("{n}", str(i))],
                "model": "bench",
                "litellm_call_id": f"hop-{i}",
                "request_data": {"user_api_key_team_id": "bench"},
            }
        )

    tmp = Path(os.environ.get("TMPDIR", "/tmp")) / f"cg-hop-{secrets.token_hex(4)}.db"
    os.environ["CG_GUARDRAIL_API_KEY"] = key
    app = GatewayApp(
        load_config(None, overrides={**config, "audit": {"store": f"sqlite:///{tmp}"}}, environ={})
    )
    scope = {
        "type": "http",
        "method": "POST",
        "path": "/beta/litellm_basic_guardrail_api",
        "headers": [(b"x-api-key", key.encode()), (b"content-type", b"application/json")],
        "client": ("127.0.0.1", 1),
    }

    async def inproc(raw: bytes) -> float:
        sent: list[dict[str, Any]] = []

        async def receive() -> dict[str, Any]:
            return {"type": "http.request", "body": raw, "more_body": False}

        async def send(msg: dict[str, Any]) -> None:
            sent.append(msg)

        t0 = time.perf_counter()
        await app(scope, receive, send)
        ms = (time.perf_counter() - t0) * 1000
        if sent[0]["status"] != 200:
            raise gb.BenchError(f"in-process guardrail call answered {sent[0]['status']}")
        return ms

    http_ms, in_ms, bare_ms = [], [], []
    loop = asyncio.new_event_loop()
    loop.run_until_complete(app.chain.startup())
    try:
        with httpx.Client(timeout=30) as client:
            for i in range(n + 5):
                t0 = time.perf_counter()
                r = client.post(
                    urls["gateway"] + "/beta/litellm_basic_guardrail_api",
                    content=body(i),
                    headers={"x-api-key": key, "content-type": "application/json"},
                )
                t1 = time.perf_counter()
                r.raise_for_status()
                client.get(urls["gateway"] + "/healthz")
                t2 = time.perf_counter()
                ms = loop.run_until_complete(inproc(body(100_000 + i)))
                if i >= 5:
                    http_ms.append((t1 - t0) * 1000)
                    bare_ms.append((t2 - t1) * 1000)
                    in_ms.append(ms)
    finally:
        loop.run_until_complete(app.chain.shutdown())
        loop.close()
        tmp.unlink(missing_ok=True)
    p_http, p_in = statistics.median(http_ms), statistics.median(in_ms)
    return {
        "http_p50_ms": p_http,
        "inprocess_p50_ms": p_in,
        "hop_p50_ms": p_http - p_in,
        "bare_roundtrip_p50_ms": statistics.median(bare_ms),
    }


def _ratio(a: float, b: float) -> float:
    return a / b if b else float("inf")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--duration", type=float, default=8, help="seconds per target and concurrency")
    ap.add_argument(
        "--duration-high",
        type=float,
        default=40,
        help="seconds at the highest concurrency (slow targets need time to finish 64 requests)",
    )
    ap.add_argument("--warmup", type=float, default=2)
    ap.add_argument("--concurrency", default="1,64")
    ap.add_argument("--texts", type=int, default=30, help="held-out ~1 KB texts for the recall check")
    ap.add_argument("--hop-n", type=int, default=200, help="pre_calls for the HTTP hop measurement")
    ap.add_argument(
        "--hop-only", action="store_true", help="only the HTTP-hop measurement (no LiteLLM, no wrk)"
    )
    ap.add_argument("--keep", action="store_true", help="keep the scratch folder (configs, logs)")
    ap.add_argument("--out", type=Path, default=RESULTS / "litellm_bench.json")
    args = ap.parse_args(argv)
    levels = [int(c) for c in args.concurrency.split(",")]
    key = "cg-bench-" + secrets.token_urlsafe(24)
    texts = kb_texts(args.texts, 23, english_only=True, templates="heldout")
    prompt = "Ticket {n}: " + texts[0]["text"]
    runs: list[Run] = []
    applied: dict[str, str] = {}
    stack = gb.Stack(args.keep)
    try:
        stack.start_upstream()
        urls = start_services(stack, key)
        if args.hop_only:
            hop = hop_cost(urls, key, prompt, args.hop_n, gateway_config(stack))
            print(json.dumps(hop, indent=2))
            return 0
        print("recall over HTTP on held-out texts ...", file=sys.stderr)
        rec = {"stock": recall(texts, urls["stock-analyzer"]), "ours": recall(texts, urls["ours"])}
        with litellm_proxy(litellm_config(stack, urls), env={"CG_GUARDRAIL_API_KEY": key}) as lurl:
            chat = lurl + "/v1/chat/completions"
            headers = {"Authorization": f"Bearer {MASTER_KEY}"}
            bodies: dict[str, str] = {}
            for name, guardrail in GUARDRAILS.items():
                body = {"model": "bench", "max_tokens": 16, "messages": [{"role": "user", "content": prompt}]}
                if guardrail:
                    body["guardrails"] = [guardrail]
                raw = bodies[name] = json.dumps(body, ensure_ascii=False)
                r = httpx.post(chat, content=raw.replace("{n}", "0").encode(), headers=headers, timeout=60)
                if r.status_code != 200 or not r.json().get("choices"):
                    raise gb.BenchError(f"{name}: LiteLLM answered {r.status_code}: {r.text[:300]}")
                applied[name] = r.headers.get("x-litellm-applied-guardrails", "")
            # Every target at the lowest concurrency first, then the highest: wrk stops with requests
            # still queued behind a slow guardrail, and they must not load the next measurement, so
            # after a high-concurrency run we wait about as long as its slowest requests took.
            for c in levels:
                for name in GUARDRAILS:
                    print(f"{name} c={c} ...", file=sys.stderr)
                    if args.warmup and c == 1:
                        run_wrk(name, chat, bodies[name], headers, c, args.warmup)
                    secs = args.duration_high if c > 1 and c == max(levels) else args.duration
                    run = run_wrk(name, chat, bodies[name], headers, c, secs)
                    runs.append(run)
                    if c > 1:
                        time.sleep(min(120.0, (run.p99_ms / 1000 if run.requests else secs) + 2))
        print("HTTP hop of the guardrail API ...", file=sys.stderr)
        hop = hop_cost(urls, key, prompt, args.hop_n, gateway_config(stack))
    finally:
        stack.close()

    by = {(r.target, r.concurrency): r for r in runs}
    lo, hi = min(levels), max(levels)
    head = f"{'target':<24}{'p50 ms c=' + str(lo):>14}{'x litellm':>11}{'req/s c=' + str(hi):>14}{'x litellm':>11}  errors"
    print(head)
    print("-" * len(head))
    base_lo, base_hi = by.get(("litellm", lo)), by.get(("litellm", hi))
    for name in GUARDRAILS:
        a, b = by.get((name, lo)), by.get((name, hi))
        if a is None or b is None:
            continue
        err = ",".join(f"{k}={v}" for k, v in {**a.errors, **b.errors}.items())
        print(
            f"{name:<24}{a.p50_ms:>14.2f}{_ratio(a.p50_ms, base_lo.p50_ms):>11.2f}{b.rps:>14.1f}"
            f"{_ratio(b.rps, base_hi.rps):>11.3f}  {err}"
        )
    s_lo, o_lo = by[("litellm+presidio-stock", lo)], by[("litellm+presidio-ours", lo)]
    s_hi, o_hi = by[("litellm+presidio-stock", hi)], by[("litellm+presidio-ours", hi)]
    added = {n: by[(n, lo)].p50_ms - base_lo.p50_ms for n in GUARDRAILS if n != "litellm"}
    print(
        f"\nours vs stock Presidio behind LiteLLM: p50 at c={lo} {s_lo.p50_ms / o_lo.p50_ms:.2f}x lower, "
        f"added p50 {added['litellm+presidio-stock']:.2f} -> {added['litellm+presidio-ours']:.2f} ms "
        f"({added['litellm+presidio-stock'] / max(added['litellm+presidio-ours'], 1e-9):.1f}x less); "
        f"req/s at c={hi} {_ratio(o_hi.rps, s_hi.rps):.2f}x"
    )
    print(
        f"recall on common types ({rec['ours']['support']} spans, held-out): stock {rec['stock']['recall']:.3f}, "
        f"ours {rec['ours']['recall']:.3f}"
    )
    for k in sorted(rec["ours"]["per_type"]):
        print(
            f"   {k:<16} stock {rec['stock']['per_type'].get(k) or 0:.3f}  ours {rec['ours']['per_type'][k]:.3f}"
        )
    print(
        f"guardrail API hop (pre_call, 1 KB): HTTP p50 {hop['http_p50_ms']:.2f} ms, in-process p50 "
        f"{hop['inprocess_p50_ms']:.2f} ms, hop {hop['hop_p50_ms']:.2f} ms (bare loopback round trip "
        f"{hop['bare_roundtrip_p50_ms']:.2f} ms); LiteLLM makes 2 calls per request, "
        f"and the generic guardrail adds {added['litellm+cg']:.2f} ms p50 in all"
    )
    for name, g in applied.items():
        if GUARDRAILS[name]:
            print(f"  {name}: LiteLLM x-litellm-applied-guardrails = {g or '(header absent)'}")
    result = {
        "benchmark": "litellm_bench",
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
        "settings": {
            "duration_s": args.duration,
            "concurrency": levels,
            "prompt_bytes": len(prompt.encode()),
        },
        "runs": [r.__dict__ for r in runs],
        "added_p50_ms": added,
        "recall": rec,
        "hop": hop,
        "applied_guardrails": applied,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2))
    print(f"JSON: {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
