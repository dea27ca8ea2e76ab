"""The Spark side: a ``mapInPandas`` pipeline around ``privacy.spark.rows.RowRedactor``.

What travels to the executors: the job spec (settings without key locations)
and the tenant's derived HMAC key, each in a broadcast variable. Neither is in
the plan (``explain()`` shows the function name and columns only), in a task
description or in a log line; the master secret never leaves the driver.
Each executor Python worker builds its engine on the first batch and keeps it
(module-level cache keyed by the spec digest); Spark reuses Python workers
between tasks, so that is once per worker, not per task or row.

The result is computed once and persisted: the redacted rows and the rejects
are two filters over it, so writing both does not run the engine twice. The
function is deterministic (same rows, same settings, same key: same output),
which is what makes Spark's task retries safe: a retried task writes exactly
what the lost attempt would have, and the output committer keeps one attempt.
"""

from __future__ import annotations

import os
import signal
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pandas as pd
from pyspark import StorageLevel
from pyspark.broadcast import Broadcast
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.types import BinaryType, IntegerType, MapType, StringType, StructField, StructType

from privacy.pii.settings import PIISettings
from privacy.spark.rows import JobError, JobSpec, prepare, redactor

COUNTS = "pii_findings"
REASON = "pii_reject_reason"


@dataclass
class Redaction:
    """The two outputs of one redaction; ``close()`` drops the cache and the broadcast key."""

    redacted: DataFrame
    rejects: DataFrame
    combined: DataFrame
    spec: JobSpec
    _broadcasts: list[Broadcast] = field(default_factory=list, repr=False)

    def close(self) -> None:
        self.combined.unpersist()
        for b in self._broadcasts:
            b.destroy()
        self._broadcasts.clear()


def spark_session(
    master: str = "local[2]",
    app_name: str = "privacy-redact",
    conf: dict[str, str] | None = None,
    log_level: str = "WARN",
) -> SparkSession:
    """A session whose Python workers run this interpreter (and see this PYTHONPATH)."""
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    b = SparkSession.builder.master(master).appName(app_name)
    settings = {
        "spark.ui.enabled": "false",
        "spark.sql.shuffle.partitions": "4",
        "spark.python.worker.reuse": "true",
        "spark.ui.showConsoleProgress": "false",
    }
    if os.environ.get("PYTHONPATH"):
        settings["spark.executorEnv.PYTHONPATH"] = os.environ["PYTHONPATH"]
    settings.update(conf or {})
    for k, v in settings.items():
        b = b.config(k, v)
    spark = b.getOrCreate()
    spark.sparkContext.setLogLevel(log_level)
    return spark


def _claim(marker: str) -> bool:
    try:
        os.close(os.open(marker, os.O_CREAT | os.O_EXCL | os.O_WRONLY))
        return True
    except FileExistsError:
        return False


def _partition_fn(
    mode: str, columns: list[str], spec_bc: Broadcast, key_bc: Broadcast, kill_once: str | None
) -> Any:
    def redact_partition(batches: Iterator[pd.DataFrame]) -> Iterator[pd.DataFrame]:
        r = redactor(spec_bc.value, key_bc.value)
        for n, pdf in enumerate(batches):
            if kill_once and n == 1 and _claim(kill_once):  # fault injection for the retry test
                os.kill(os.getpid(), signal.SIGKILL)
            if mode == "lines":
                lines, counts, reasons = r.redact_lines(pdf["value"].tolist())
                out = pdf.copy()
                out["value"] = pd.Series(lines, index=pdf.index, dtype=object)
            else:
                new, counts, reasons = r.redact_columns({c: pdf[c].tolist() for c in columns})
                out = pdf.copy()
                for c in columns:
                    out[c] = pd.Series(new[c], index=pdf.index, dtype=object)
            out[COUNTS] = pd.Series(counts, index=pdf.index, dtype=object)
            out[REASON] = pd.Series(reasons, index=pdf.index, dtype=object)
            yield out

    return redact_partition


def _run(
    df: DataFrame,
    mode: str,
    fields: list[str],
    settings: PIISettings | None,
    tenant: str,
    max_bytes: int | None,
    persist: bool,
    kill_once: str | None,
) -> Redaction:
    settings = settings or PIISettings()
    for name in (COUNTS, REASON):
        if name in df.columns:
            raise JobError(f"the input already has a column named {name!r}")
    spec, key = prepare(settings, tenant, fields, max_bytes)
    if mode == "columns":
        types = {f.name: f.dataType for f in df.schema.fields}
        for c in spec.fields:
            if c not in types:
                raise JobError(f"no column {c!r} in the input (columns: {', '.join(df.columns)})")
            if not isinstance(types[c], StringType | BinaryType):
                raise JobError(
                    f"column {c!r} is {types[c].simpleString()}; only string or binary columns hold text"
                )
    sc = df.sparkSession.sparkContext
    spec_bc, key_bc = sc.broadcast(spec), sc.broadcast(key)
    schema = StructType(
        [
            *df.schema.fields,
            StructField(COUNTS, MapType(StringType(), IntegerType()), True),
            StructField(REASON, StringType(), True),
        ]
    )
    fn = _partition_fn(mode, list(spec.fields), spec_bc, key_bc, kill_once)
    combined = df.mapInPandas(fn, schema)
    if persist:
        combined = combined.persist(StorageLevel.MEMORY_AND_DISK)
    redacted = combined.filter(F.col(REASON).isNull()).drop(REASON)
    rejects = combined.filter(F.col(REASON).isNotNull()).drop(COUNTS)
    return Redaction(redacted, rejects, combined, spec, [spec_bc, key_bc])


def redact_dataframe(
    df: DataFrame,
    fields: list[str],
    settings: PIISettings | None = None,
    *,
    tenant: str = "default",
    max_bytes: int | None = None,
    persist: bool = True,
    _kill_once: str | None = None,
) -> Redaction:
    """Redact the named string/binary columns of ``df``.

    ``redacted``: the input columns (named ones redacted) plus ``pii_findings``
    (map entity type -> count for the row). ``rejects``: rows with a value that is not
    valid UTF-8 or over ``max_bytes`` (default ``settings.max_chars``), with
    ``pii_reject_reason``; they keep their original values, so store them like the input.
    """
    return _run(df, "columns", fields, settings, tenant, max_bytes, persist, _kill_once)


def redact_json_lines(
    df: DataFrame,
    fields: list[str],
    settings: PIISettings | None = None,
    *,
    tenant: str = "default",
    max_bytes: int | None = None,
    persist: bool = True,
    _kill_once: str | None = None,
) -> Redaction:
    """Redact JSON Lines held one line per row in a binary (or string) column ``value``.

    Fields are dotted paths into each record, as for ``privacy redact``; the output
    line is the record re-serialised the same way, so both tools agree byte for byte.
    """
    if "value" not in df.columns:
        raise JobError("the JSON Lines frame needs a 'value' column (spark.read.text)")
    return _run(df, "lines", fields, settings, tenant, max_bytes, persist, _kill_once)


# -- files (the CLI) ---------------------------------------------------------------------------
def read_lines(spark: SparkSession, path: str) -> DataFrame:
    """One row per line; ``value`` as the raw bytes, so undecodable lines are seen, not replaced."""
    return spark.read.text(path).select(F.col("value").cast("binary").alias("value"))


def redact_files(
    spark: SparkSession,
    src: str,
    dst: str,
    rejects_dst: str,
    fmt: str,
    fields: list[str],
    settings: PIISettings,
    tenant: str = "default",
    max_bytes: int | None = None,
) -> dict[str, Any]:
    """Read ``src`` (parquet or jsonl) through Spark, write ``dst`` and ``rejects_dst`` (directories of
    part files), return the summary: rows, rejects by reason, entities by type."""
    if fmt == "parquet":
        job = redact_dataframe(spark.read.parquet(src), fields, settings, tenant=tenant, max_bytes=max_bytes)
        job.redacted.write.mode("error").parquet(dst)
        job.rejects.write.mode("error").parquet(rejects_dst)
    elif fmt == "jsonl":
        job = redact_json_lines(read_lines(spark, src), fields, settings, tenant=tenant, max_bytes=max_bytes)
        job.redacted.select(F.col("value").cast("string")).write.mode("error").text(dst)
        job.rejects.select(
            F.col(REASON).alias("reason"), F.col("value").cast("string").alias("line")
        ).write.mode("error").json(rejects_dst)
    else:
        raise JobError(f"the spark engine reads parquet or jsonl, not {fmt}")
    try:
        return summarize(job)
    finally:
        job.close()


def summarize(job: Redaction) -> dict[str, Any]:
    """Rows, rejects by reason, rows with PII and entities by type: two passes over the cached result."""
    c = job.combined
    by_reason = (
        c.groupBy(REASON)
        .agg(
            F.count(F.lit(1)).alias("rows"),
            F.sum(F.when(F.size(F.map_keys(F.col(COUNTS))) > 0, 1).otherwise(0)).alias("with_pii"),
        )
        .collect()
    )
    rows = sum(r["rows"] for r in by_reason)
    reasons = {r[REASON]: r["rows"] for r in by_reason if r[REASON] is not None}
    with_pii = sum(r["with_pii"] or 0 for r in by_reason if r[REASON] is None)
    ent = (
        c.select(F.explode(COUNTS).alias("entity_type", "n"))
        .groupBy("entity_type")
        .agg(F.sum("n").alias("n"))
    )
    entities = {r["entity_type"]: int(r["n"]) for r in ent.collect()}
    return {
        "records": rows,
        "rejected": sum(reasons.values()),
        "reject_reasons": dict(sorted(reasons.items())),
        "records_with_pii": with_pii,
        "entities": dict(sorted(entities.items())),
        "key_id": job.spec.key_id,
    }
