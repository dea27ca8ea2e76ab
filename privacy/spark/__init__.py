"""PII redaction of Spark DataFrames (``mapInPandas``), for corpora that outgrow one machine.

    from privacy.spark import redact_dataframe
    job = redact_dataframe(df, ["body", "subject"], settings, tenant="acme")
    job.redacted.write.parquet(".../clean")     # the rows, redacted, with per-row counts
    job.rejects.write.parquet(".../rejects")    # rows that could not be checked, with the reason
    job.close()

PySpark is the ``spark`` extra; ``privacy.spark.rows`` (the per-worker redactor,
also used by ``privacy.hf``) imports neither Spark nor pandas.
"""

from __future__ import annotations

from typing import Any

__all__ = ["Redaction", "redact_dataframe", "redact_json_lines", "spark_session"]


def __getattr__(name: str) -> Any:  # lazy: importing privacy.spark.rows must not need pyspark
    if name in __all__:
        from privacy.spark import frame

        return getattr(frame, name)
    raise AttributeError(name)
