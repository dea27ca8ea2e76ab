"""Precision and recall per entity type against labeled spans.

- Recall ("no value left"): a labeled value counts as found when the findings,
  whatever their type, cover every letter and digit of it; a value half
  redacted is a miss. PERSON is reported for English and Chinese records
  separately (``PERSON (en)``, ``PERSON (zh)``).
- Precision per predicted type: a finding is correct when it overlaps a labeled
  value; otherwise it destroyed text that was not personal data.
- Decoys kept: share of decoy spans (order numbers, versions...) no finding touches.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable
from typing import Any

from privacy.pii.findings import Finding


def _covered(text: str, start: int, end: int, findings: list[Finding]) -> bool:
    for i in range(start, end):
        if text[i].isalnum() and not any(f.start <= i < f.end for f in findings):
            return False
    return True


def _label_key(span: dict[str, Any], lang: str) -> str:
    et = span.get("entity_type") or span.get("label") or "UNKNOWN"
    return f"{et} ({lang})" if et == "PERSON" and lang else et


def evaluate(records: Iterable[dict[str, Any]], analyze: Callable[[str], list[Finding]]) -> dict[str, Any]:
    found: defaultdict[str, int] = defaultdict(int)
    total: defaultdict[str, int] = defaultdict(int)
    pred_ok: defaultdict[str, int] = defaultdict(int)
    pred_all: defaultdict[str, int] = defaultdict(int)
    decoy_kept: defaultdict[str, int] = defaultdict(int)
    decoy_all: defaultdict[str, int] = defaultdict(int)
    tag_total: defaultdict[str, int] = defaultdict(int)
    tag_found: defaultdict[str, int] = defaultdict(int)
    n = 0
    for rec in records:
        n += 1
        text = rec["text"]
        lang = rec.get("lang", "")
        findings = analyze(text)
        labels = rec.get("spans", [])
        for sp in labels:
            key = _label_key(sp, lang)
            ok = _covered(text, sp["start"], sp["end"], findings)
            total[key] += 1
            found[key] += ok
            if sp.get("tag"):  # the shape that produced the value: recall per hard case
                tag_key = f"{sp.get('entity_type') or sp.get('label')}/{sp['tag']}"
                tag_total[tag_key] += 1
                tag_found[tag_key] += ok
        for f in findings:
            pred_all[f.entity_type] += 1
            if any(f.start < sp["end"] and sp["start"] < f.end for sp in labels):
                pred_ok[f.entity_type] += 1
        for d in rec.get("decoys", []):
            decoy_all[d["kind"]] += 1
            if not any(f.start < d["end"] and d["start"] < f.end for f in findings):
                decoy_kept[d["kind"]] += 1
    per_type: dict[str, dict[str, Any]] = {}
    for key in sorted(set(total) | set(pred_all)):
        base = key.split(" (")[0]
        recall = found[key] / total[key] if total[key] else None
        precision = pred_ok[key] / pred_all[key] if key in pred_all and pred_all[key] else None
        if base == "PERSON" and precision is None:
            precision = pred_ok["PERSON"] / pred_all["PERSON"] if pred_all["PERSON"] else None
        f1 = 2 * precision * recall / (precision + recall) if precision and recall else None
        per_type[key] = {
            "support": total[key],
            "found": found[key],
            "recall": recall,
            "predicted": pred_all.get(key, 0),
            "precision": precision,
            "f1": f1,
        }
    all_total, all_found = sum(total.values()), sum(found.values())
    d_all, d_kept = sum(decoy_all.values()), sum(decoy_kept.values())
    return {
        "records": n,
        "per_type": per_type,
        "overall": {
            "support": all_total,
            "recall": all_found / all_total if all_total else None,
            "precision": sum(pred_ok.values()) / sum(pred_all.values()) if pred_all else None,
        },
        "per_tag": {
            k: {"support": tag_total[k], "found": tag_found[k], "recall": tag_found[k] / tag_total[k]}
            for k in sorted(tag_total)
        },
        "decoys": {
            "total": d_all,
            "kept": d_kept,
            "kept_rate": d_kept / d_all if d_all else None,
            "per_kind": {k: {"total": decoy_all[k], "kept": decoy_kept[k]} for k in sorted(decoy_all)},
        },
    }


def _fmt(x: float | None) -> str:
    return "   -  " if x is None else f"{x:6.3f}"


def format_report(report: dict[str, Any]) -> str:
    lines = [f"{'entity type':<18} {'support':>7} {'recall':>7} {'precision':>9} {'f1':>6}"]
    for key, r in report["per_type"].items():
        lines.append(
            f"{key:<18} {r['support']:>7} {_fmt(r['recall']):>7} {_fmt(r['precision']):>9} {_fmt(r['f1'])}"
        )
    o, d = report["overall"], report["decoys"]
    lines.append(f"{'overall':<18} {o['support']:>7} {_fmt(o['recall']):>7} {_fmt(o['precision']):>9}")
    if d["total"]:
        lines.append(
            f"decoys kept: {d['kept']}/{d['total']} ({_fmt(d['kept_rate']).strip()})  "
            + ", ".join(f"{k} {v['kept']}/{v['total']}" for k, v in d["per_kind"].items())
        )
    if report.get("per_tag"):
        lines.append("recall by shape:")
        for key, r in report["per_tag"].items():
            lines.append(f"  {key:<30} {r['support']:>6} {_fmt(r['recall'])}")
    lines.append(f"records: {report['records']}")
    return "\n".join(lines)
