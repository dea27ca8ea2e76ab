"""Corpus redaction on one machine vs on Spark: `privacy redact --workers N` against
`privacy redact --engine spark --master local[N]`, same corpus, same settings, same run.

Corpus: JSON Lines, one ~1 KB record per line (support-ticket style prompts from
privacy/pii/corpus.py joined until >= 1 KB, English and Chinese), generated here
(default 100,000 records; --records for a quick run). Settings: the defaults,
names on (spaCy NER), placeholders.

Each configuration runs in its own process, through the functions the two
commands call (``redact_file`` for ``privacy redact --workers N``, ``redact_files``
for ``--engine spark``): start-up and a 50-record warm-up (JVM, Python workers,
model loads) first, then the corpus, then the 50 records again; the corpus run
minus that last small run is the steady state. Time is wall clock; CPU is user +
system of the process tree (JVM, Python workers, pool processes), which holds up
on a shared machine where wall time does not. Printed, all from this run:
- records/s of local --workers 2 and Spark local[2], and their ratio;
- Spark's overhead per record (ms) and as a share of the engine's own per-record cost;
- scaling 1 -> 2 cores for both;
- a projection of core-hours for 1 TB (10^9 records of 1 KB) and hours on 64..1024 cores.

Usage: python bench/spark_bench.py [--records 100000] [--out bench/results/spark_bench.json]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from privacy.pii.corpus import generate  # noqa: E402

TB_RECORDS = 10**9  # 1 TB of 1 KB records
SMALL = 50


def write_corpus(path: Path, n: int, seed: int = 3) -> int:
    """n JSONL records of >= 1 KB each; returns the bytes written."""
    gen = generate(n * 14, seed, zh_share=0.3)
    size = 0
    with open(path, "w", encoding="utf-8") as fh:
        for i in range(n):
            parts: list[str] = []
            while len(" ".join(parts).encode()) < 1024:
                try:
                    parts.append(next(gen)["text"])
                except StopIteration:
                    gen = generate(n * 14, seed + i + 1, zh_share=0.3)
            line = json.dumps({"id": i, "text": " ".join(parts)}, ensure_ascii=False) + "\n"
            size += len(line.encode())
            fh.write(line)
    return size


def _tree_cpu(pid: int) -> float:
    """CPU seconds (user + system) of a process and all its descendants, live and reaped."""
    import psutil

    total = 0.0
    procs = [psutil.Process(pid)]
    try:
        procs += procs[0].children(recursive=True)
    except psutil.Error:
        pass
    for p in procs:
        try:
            t = p.cpu_times()
            total += t.user + t.system + t.children_user + t.children_system
        except psutil.Error:
            pass
    return total


def child(config: str, big: Path, small: Path, records: int) -> None:
    """One configuration in this process: start-up, a warm-up file, then the timed corpus."""
    from privacy.pii.settings import PIISettings

    settings = PIISettings()  # the defaults: names on (NER), placeholders
    tmp = Path(tempfile.mkdtemp(prefix="spark-bench-child-"))
    kind, cores = config.split("-")
    out: dict[str, float] = {}
    t0 = time.perf_counter()
    if kind == "local":
        from privacy.pii.dataset import redact_file

        redact_file(small, tmp / "warm.jsonl", settings, fields=["text"], workers=int(cores), progress=False)
        out["startup_s"] = time.perf_counter() - t0
        c0, t1 = _tree_cpu(os.getpid()), time.perf_counter()
        # the pool (and its model loads) is part of every run: subtract the warm-up's cost below
        redact_file(big, tmp / "out.jsonl", settings, fields=["text"], workers=int(cores), progress=False)
        out["wall_s"], out["cpu_s"] = time.perf_counter() - t1, _tree_cpu(os.getpid()) - c0
        c0, t1 = _tree_cpu(os.getpid()), time.perf_counter()
        redact_file(small, tmp / "warm2.jsonl", settings, fields=["text"], workers=int(cores), progress=False)
        out["fixed_wall_s"], out["fixed_cpu_s"] = time.perf_counter() - t1, _tree_cpu(os.getpid()) - c0
    else:
        from privacy.spark.frame import redact_files, spark_session

        spark = spark_session(f"local[{cores}]", "spark-bench", conf={"spark.python.worker.reuse": "true"})
        redact_files(spark, str(small), str(tmp / "warm"), str(tmp / "warm.rej"), "jsonl", ["text"], settings)
        out["startup_s"] = time.perf_counter() - t0
        c0, t1 = _tree_cpu(os.getpid()), time.perf_counter()
        redact_files(spark, str(big), str(tmp / "out"), str(tmp / "out.rej"), "jsonl", ["text"], settings)
        out["wall_s"], out["cpu_s"] = time.perf_counter() - t1, _tree_cpu(os.getpid()) - c0
        c0, t1 = _tree_cpu(os.getpid()), time.perf_counter()
        redact_files(
            spark, str(small), str(tmp / "warm2"), str(tmp / "warm2.rej"), "jsonl", ["text"], settings
        )
        out["fixed_wall_s"], out["fixed_cpu_s"] = time.perf_counter() - t1, _tree_cpu(os.getpid()) - c0
        spark.stop()
    shutil.rmtree(tmp, ignore_errors=True)
    print("RESULT " + json.dumps(out), flush=True)


def measure(config: str, big: Path, small: Path, records: int) -> dict[str, float]:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    p = subprocess.run(
        [
            sys.executable,
            __file__,
            "--child",
            config,
            "--big",
            str(big),
            "--small",
            str(small),
            "--records",
            str(records),
        ],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
    )
    line = next((x for x in p.stdout.splitlines() if x.startswith("RESULT ")), None)
    if p.returncode != 0 or line is None:
        raise SystemExit(f"{config} failed ({p.returncode}):\n{p.stderr[-3000:]}")
    r = json.loads(line[7:])
    n = records - SMALL
    # Steady state: the corpus run minus what a 50-record run costs on the same warm setup.
    r["steady_ms_per_record"] = max(r["wall_s"] - r["fixed_wall_s"], 1e-9) / n * 1000
    r["steady_records_per_s"] = 1000 / r["steady_ms_per_record"]
    r["cpu_ms_per_record"] = max(r["cpu_s"] - r["fixed_cpu_s"], 1e-9) / n * 1000
    r["records_per_s"] = records / r["wall_s"]
    return r


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--records", type=int, default=100_000)
    ap.add_argument("--out", type=Path, default=REPO / "bench" / "results" / "spark_bench.json")
    ap.add_argument("--child", help=argparse.SUPPRESS)
    ap.add_argument("--big", type=Path, help=argparse.SUPPRESS)
    ap.add_argument("--small", type=Path, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        child(args.child, args.big, args.small, args.records)
        return
    tmp = Path(tempfile.mkdtemp(prefix="spark-bench-"))
    res: dict[str, dict[str, float]] = {}
    try:
        big, small = tmp / "corpus.jsonl", tmp / "small.jsonl"
        nbytes = write_corpus(big, args.records)
        write_corpus(small, SMALL)
        print(
            f"corpus: {args.records} records, {nbytes / 1e6:.1f} MB; load average {os.getloadavg()[0]:.1f} "
            f"on {os.cpu_count()} cores",
            flush=True,
        )
        for name in ("local-1", "local-2", "spark-1", "spark-2"):
            r = res[name] = measure(name, big, small, args.records)
            print(
                f"{name:8} start-up {r['startup_s']:6.1f} s | corpus {r['wall_s']:7.1f} s wall, "
                f"{r['records_per_s']:7.1f} rec/s | steady {r['steady_ms_per_record']:6.2f} ms/record wall, "
                f"{r['cpu_ms_per_record']:6.2f} ms/record CPU",
                flush=True,
            )
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

    l1, l2, s1, s2 = (res[k] for k in ("local-1", "local-2", "spark-1", "spark-2"))
    over_cpu = s2["cpu_ms_per_record"] - l2["cpu_ms_per_record"]
    over_wall = s2["steady_ms_per_record"] - l2["steady_ms_per_record"]
    core_s = s2["cpu_ms_per_record"] / 1000
    core_hours = TB_RECORDS * core_s / 3600
    summary = {
        "records": args.records,
        "corpus_bytes": nbytes,
        "cpu_count": os.cpu_count(),
        "load_average_at_end": os.getloadavg(),
        "runs": res,
        "ratio_spark2_over_local2_records_per_s": s2["records_per_s"] / l2["records_per_s"],
        "ratio_spark2_over_local2_steady": s2["steady_records_per_s"] / l2["steady_records_per_s"],
        "ratio_spark2_over_local2_cpu_per_record": s2["cpu_ms_per_record"] / l2["cpu_ms_per_record"],
        "spark_overhead_cpu_ms_per_record": over_cpu,
        "spark_overhead_wall_ms_per_record_2_cores": over_wall,
        "spark_overhead_share_of_engine_cpu": over_cpu / l2["cpu_ms_per_record"],
        "scaling_local_1_to_2": l2["steady_records_per_s"] / l1["steady_records_per_s"],
        "scaling_spark_1_to_2": s2["steady_records_per_s"] / s1["steady_records_per_s"],
        "projection_1tb": {
            "records": TB_RECORDS,
            "core_seconds_per_record": core_s,
            "core_hours": core_hours,
            "hours_on": {str(n): core_hours / n for n in (64, 256, 1024)},
        },
    }
    print()
    print(
        f"records/s, Spark local[2] / local --workers 2: {summary['ratio_spark2_over_local2_records_per_s']:.2f}x "
        f"(corpus run), {summary['ratio_spark2_over_local2_steady']:.2f}x (steady state)"
    )
    print(
        f"CPU per record, Spark local[2] / local --workers 2: {summary['ratio_spark2_over_local2_cpu_per_record']:.2f}x; "
        f"Spark adds {over_cpu:+.2f} ms CPU per record ({summary['spark_overhead_share_of_engine_cpu']:+.0%} of the "
        f"engine's {l2['cpu_ms_per_record']:.2f} ms), {over_wall:+.2f} ms wall on 2 cores"
    )
    print(f"start-up: Spark {s2['startup_s']:.1f} s, local {l2['startup_s']:.1f} s")
    print(
        f"scaling 1 -> 2 cores (steady records/s): local {summary['scaling_local_1_to_2']:.2f}x, "
        f"Spark {summary['scaling_spark_1_to_2']:.2f}x"
    )
    print(
        f"1 TB (10^9 x 1 KB records) at Spark's CPU cost: {core_hours:,.0f} core-hours; "
        + ", ".join(f"{h:,.1f} h on {n} cores" for n, h in summary["projection_1tb"]["hours_on"].items())
    )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(summary, indent=2))


if __name__ == "__main__":
    main()
