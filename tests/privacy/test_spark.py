"""privacy.spark on a real PySpark in local mode: one session for the module (local[2], 4 attempts per task).

What must hold: the Spark path gives what ``privacy redact`` gives, row for row;
a row that cannot be checked goes to the rejects with its reason; the engine
loads once per Python worker; the same value gets the same keyed stand-in in
every partition; a Python worker killed mid-task is retried with no row lost or
doubled. The JVM (driver and executor: local mode) is started with its stdout
and stderr in a file and the event log on, at INFO level, so the last test can
search everything Spark logged during the module for the planted values.
"""

from __future__ import annotations

import json
import os
import random
from collections import defaultdict
from pathlib import Path

import pytest

from privacy.cli import main as privacy_main
from privacy.pii.dataset import BatchRedactor
from privacy.pii.keys import TenantKeys
from privacy.pii.operators import normalize
from privacy.pii.settings import PIISettings
from privacy.spark.rows import JobError

REPO = Path(__file__).resolve().parents[2]

# Support tickets, chat turns and call notes, the way customers write them.
TEMPLATES = [
    "Hi, this is {name}. My order never arrived, please call me back on {phone}.",
    "Customer {name} asked to change the billing email to {email}; verified via callback.",
    "请尽快联系我，手机号{cn_mobile}，谢谢。",
    "Refund of 49.90 EUR to IBAN {iban} approved by the team lead.",
    "Login from {ip} flagged; user {email} confirmed it was them.",
    "Transcript: agent: how can I help? caller: I'm {name}, card ending in 4242, address change.",
    "No personal data in this one: the EKS cluster in eu-west-1 restarted at 03:00.",
    "Please delete my account. {name}, {email}, {phone}.",
]
NAMES = ["Maria Gonzalez", "John Smith", "Aisha Khan", "Pierre Dubois", "Emily Clarke", "David Miller"]


def _values(rng: random.Random) -> dict[str, str]:
    first, last = rng.choice(NAMES).split()
    return {
        "name": f"{first} {last}",
        "email": f"{first.lower()}.{last.lower()}{rng.randint(1, 999)}@example.com",
        "phone": f"+1 415 555 {rng.randint(1000, 9999)}",
        "cn_mobile": f"13{rng.randint(100000000, 999999999)}",
        "iban": "DE89 3704 0044 0532 0130 00",
        "ip": f"203.0.113.{rng.randint(1, 254)}",
    }


def tickets(n: int, seed: int = 7) -> list[dict]:
    """n JSON records: id, text (a ticket), meta.note (a short note), lang. Every value planted
    is remembered in PLANTED."""
    rng = random.Random(seed)
    out = []
    for i in range(n):
        v = _values(rng)
        PLANTED.update(v.values())
        out.append(
            {
                "id": i,
                "text": rng.choice(TEMPLATES).format(**v),
                "meta": {"note": f"follow up with {v['email']}", "channel": rng.choice(["mail", "chat"])},
                "lang": "en",
            }
        )
    return out


def part_lines(directory: Path) -> list[str]:
    """The lines of a Spark text output, in part-file order (= input order: no shuffle)."""
    lines: list[str] = []
    for p in sorted(directory.glob("part-*")):
        lines.extend(p.read_text(encoding="utf-8").splitlines())
    return lines


SECRET = "s3cr3t-" + os.urandom(12).hex()
CANARY = "Zanzibar-quokka-7713"
PLANTED: set[str] = {SECRET, CANARY}  # every test adds what it fed to Spark


@pytest.fixture(scope="module")
def spark_logs(tmp_path_factory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("spark-logs")
    return {"jvm": d / "jvm.log", "events": d / "events"}


@pytest.fixture(scope="module")
def spark(spark_logs):
    saved_env = {k: os.environ.get(k) for k in ("PYTHONPATH", "CG_TEST_SPARK_KEY")}
    os.environ["PYTHONPATH"] = os.pathsep.join(x for x in (str(REPO), os.environ.get("PYTHONPATH")) if x)
    os.environ["CG_TEST_SPARK_KEY"] = SECRET
    spark_logs["events"].mkdir()
    from privacy.spark import spark_session

    # The JVM inherits fds 1 and 2 when it starts: point them at a file for that moment, so that
    # everything it (and the Python workers it forks) prints lands there.
    log = open(spark_logs["jvm"], "ab", buffering=0)  # noqa: SIM115
    saved = os.dup(1), os.dup(2)
    os.dup2(log.fileno(), 1)
    os.dup2(log.fileno(), 2)
    try:
        s = spark_session(
            "local[2,4]",
            "test-privacy-spark",
            log_level="INFO",
            conf={
                "spark.sql.execution.arrow.maxRecordsPerBatch": "40",
                "spark.default.parallelism": "4",
                "spark.sql.files.maxPartitionBytes": "16384",
                "spark.eventLog.enabled": "true",
                "spark.eventLog.dir": str(spark_logs["events"]),
            },
        )
    finally:
        os.dup2(saved[0], 1)
        os.dup2(saved[1], 2)
        os.close(saved[0])
        os.close(saved[1])
    yield s
    s.stop()
    log.close()
    for k, v in saved_env.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v


def _probe_loads(spark) -> dict[int, int]:
    """For each live Python worker reached: how many redactors it has built so far."""
    import pandas as pd

    def probe(batches):
        import os as _os

        from privacy.spark import rows

        for _ in batches:
            yield pd.DataFrame({"pid": [_os.getpid()], "loads": [rows.LOADS]})

    got = spark.range(0, 8, numPartitions=8).mapInPandas(probe, "pid long, loads long").collect()
    return {r["pid"]: r["loads"] for r in got}


def test_cli_jsonl_equals_privacy_redact_row_for_row(spark, tmp_path):
    recs = tickets(160)
    lines = [json.dumps(r, ensure_ascii=False).encode() for r in recs]
    # Rows nobody planned for, spread over the file: each must come out as a reject with its reason.
    bad = {
        17: (b'{"id": 17, "text": 12345}', "text: not a string (int)"),
        60: (b'{"id": 60, "text": "Jane Roe jane.roe@example.com \xff\xfe"}', "line: not valid UTF-8"),
        101: (b'{"id": 101, "text": "cut off jane.roe@example.com', "line: not valid JSON"),
        130: (b'["jane.roe@example.com"]', "line: not a JSON object"),
        149: (b'{"id": 149, "meta": {"note": true}, "text": "hi"}', "meta.note: not a string (bool)"),
    }
    PLANTED.update({"Jane Roe", "jane.roe@example.com"})
    for i, (raw, _) in bad.items():
        lines[i] = raw
    src = tmp_path / "tickets.jsonl"
    src.write_bytes(b"\n".join(lines) + b"\n")
    good = tmp_path / "good.jsonl"
    good.write_bytes(b"\n".join(x for i, x in enumerate(lines) if i not in bad) + b"\n")

    local_out = tmp_path / "local.jsonl"
    assert (
        privacy_main(["redact", str(good), str(local_out), "--fields", "text,meta.note", "--no-progress"])
        == 0
    )
    spark_out, rejects = tmp_path / "spark_out", tmp_path / "spark_rejects"
    summary_file = tmp_path / "summary.json"
    rc = privacy_main(
        [
            "redact",
            str(src),
            str(spark_out),
            "--engine",
            "spark",
            "--fields",
            "text,meta.note",
            "--rejects",
            str(rejects),
            "--out",
            str(summary_file),
        ]
    )
    assert rc == 1  # rejects are never silent: the command says so in its exit code

    expected = local_out.read_text(encoding="utf-8").splitlines()
    got = part_lines(spark_out)
    assert len(got) == len(recs) - len(bad)
    assert got == expected  # same rows, same order, byte for byte
    assert "maria.gonzalez" not in "".join(got).lower() and "<EMAIL_ADDRESS_1>" in got[0] + got[1] + got[2]

    rej = [
        json.loads(x)
        for p in sorted(rejects.glob("part-*"))
        for x in p.read_text(errors="replace").splitlines()
    ]
    assert sorted(r["reason"] for r in rej) == sorted(reason for _, reason in bad.values())
    summary = json.loads(summary_file.read_text())
    assert summary["records"] == len(recs) and summary["rejected"] == len(bad)
    assert summary["entities"]["EMAIL_ADDRESS"] >= len(recs) - len(bad)
    assert summary["entities"].get("PERSON", 0) > 0  # names (NER) went through the same engine


def test_parquet_columns_counts_rejects_and_one_engine_per_worker(spark, tmp_path):
    settings = PIISettings.model_validate({"ner": {"enabled": False}})
    recs = tickets(240, seed=11)
    rows = [(r["id"], r["text"], r["meta"]["note"].encode()) for r in recs]
    rows[5] = (5, "x" * 3000 + " maria@example.com", b"ok")  # over the 2000-byte limit
    rows[77] = (77, "call me: 13812345678", b"\xc3\x28 broken")  # not UTF-8
    rows[200] = (200, None, None)  # missing values stay missing
    PLANTED.update({"maria@example.com", "13812345678"})
    df = spark.createDataFrame(rows, "id long, text string, note binary").repartition(8)
    src = tmp_path / "in.parquet"
    df.write.parquet(str(src))

    from privacy.spark import redact_dataframe

    before = _probe_loads(spark)
    job = redact_dataframe(spark.read.parquet(str(src)), ["text", "note"], settings, max_bytes=2000)
    got = {r["id"]: r for r in job.redacted.collect()}
    rejected = {r["id"]: r["pii_reject_reason"] for r in job.rejects.collect()}
    after = _probe_loads(spark)
    job.close()

    assert rejected == {5: "text: over the size limit", 77: "note: not valid UTF-8"}
    assert set(got) | set(rejected) == {r[0] for r in rows} and not set(got) & set(rejected)
    assert got[200]["text"] is None and got[200]["pii_findings"] == {}

    ref = BatchRedactor(settings, "default")
    ids = sorted(got)
    texts = [rows[i][1] for i in ids if rows[i][1] is not None]
    expected = dict(zip([i for i in ids if rows[i][1] is not None], ref.redact_texts(texts), strict=True))
    for i in ids:
        if rows[i][1] is not None:
            assert got[i]["text"] == expected[i], i
            assert got[i]["note"].decode() == ref.redact_texts([rows[i][2].decode()])[0]
            want: dict[str, int] = defaultdict(int)
            for t in (rows[i][1], rows[i][2].decode()):
                for f in ref.engine.analyze(t):
                    want[f.entity_type] += 1
            assert got[i]["pii_findings"] == dict(want), i

    # 8 tasks and ~16 Arrow batches over (at most) a few reused workers: each built its engine once.
    delta = {pid: after[pid] - before.get(pid, 0) for pid in after}
    assert max(delta.values()) == 1, delta
    assert sum(delta.values()) <= len(after)


def test_bad_setups_fail_before_any_work(spark):
    from privacy.spark import redact_dataframe

    df = spark.createDataFrame([(1, "a")], "n long, t string")
    with pytest.raises(JobError, match="column 'n' is bigint"):
        redact_dataframe(df, ["n"], PIISettings(ner={"enabled": False}))
    with pytest.raises(JobError, match="no column 'body'"):
        redact_dataframe(df, ["body"], PIISettings(ner={"enabled": False}))
    no_key = PIISettings(ner={"enabled": False}, default_operator="hash", hash_key_env="CG_TEST_NO_SUCH_KEY")
    with pytest.raises(JobError, match="needs a key"):
        redact_dataframe(df, ["t"], no_key)


@pytest.mark.parametrize("operator", ["pseudonymize", "hash"])
def test_same_value_same_stand_in_on_every_partition(spark, tmp_path, operator):
    key_file = tmp_path / "pii.key"
    key_file.write_bytes(os.urandom(32).hex().encode())
    settings = PIISettings.model_validate(
        {
            "ner": {"enabled": False},
            "default_operator": operator,
            "hash_key_file": str(key_file),
            "hash_key_env": None,
        }
    )
    people = [f"user{k}.{operator}@example.org" for k in range(5)]
    PLANTED.update(people)
    rows = [(i, f"ticket {i}: contact {people[i % 5]} or {people[(i * 3) % 5]}") for i in range(200)]
    df = spark.createDataFrame(rows, "id long, text string").repartition(4, "id")

    from pyspark.sql import functions as F

    from privacy.spark import redact_dataframe

    job = redact_dataframe(df, ["text"], settings, tenant="acme")
    got = job.redacted.withColumn("part", F.spark_partition_id()).collect()
    job.close()
    assert len({r["part"] for r in got}) == 4

    tokens_of: dict[str, set[str]] = defaultdict(set)
    parts_of: dict[str, set[int]] = defaultdict(set)
    for r in got:
        i = r["id"]
        prefix = f"ticket {i}: contact "
        assert r["text"].startswith(prefix)
        a, _, b = r["text"][len(prefix) :].partition(" or ")
        for value, token in ((people[i % 5], a), (people[(i * 3) % 5], b)):
            tokens_of[value].add(token)
            parts_of[value].add(r["part"])
    # One stand-in per value, though each value was redacted on all four partitions...
    assert all(len(t) == 1 for t in tokens_of.values()) and all(len(p) == 4 for p in parts_of.values())
    assert len({next(iter(t)) for t in tokens_of.values()}) == 5
    # ...and it is the keyed derivation, so the key holder can reverse it (and nobody else can).
    keys = TenantKeys(key_file.read_bytes().strip())
    lookup = {
        f"<EMAIL_ADDRESS_{keys.token('acme', 'EMAIL_ADDRESS', normalize('EMAIL_ADDRESS', p))}>": p
        for p in people
    }
    assert {lookup[next(iter(t))] for t in tokens_of.values()} == set(people)
    assert all(lookup[next(iter(t))] == v for v, t in tokens_of.items())
    other = TenantKeys(key_file.read_bytes().strip()).token("globex", "EMAIL_ADDRESS", people[0])
    assert other not in json.dumps([r["text"] for r in got])  # another tenant's tokens do not join


def test_killed_worker_is_retried_and_nothing_of_the_input_reaches_the_logs(
    spark, spark_logs, tmp_path, capsys
):
    """Runs last: it also searches what the tests above made Spark log."""
    recs = tickets(400, seed=23)
    for r in recs[::10]:
        r["text"] += f" ({CANARY})"
    lines = [json.dumps(r, ensure_ascii=False) for r in recs]
    lines[133] = "not json at all: maria.gonzalez@example.com " + CANARY  # reject: not JSON
    lines[244] = json.dumps({"id": 244, "text": "Pierre Dubois " * 400})  # reject: too large
    src = tmp_path / "in.jsonl"
    src.write_text("\n".join(lines) + "\n", encoding="utf-8")
    out, rej, marker = tmp_path / "out", tmp_path / "rej", tmp_path / "killed-once"
    settings = PIISettings.model_validate(
        {
            "ner": {"enabled": False},
            "operators": {"EMAIL_ADDRESS": "hash"},
            "hash_key_env": "CG_TEST_SPARK_KEY",
        }
    )
    from privacy.spark import redact_json_lines
    from privacy.spark.frame import read_lines, summarize

    job = redact_json_lines(
        read_lines(spark, str(src)),
        ["text", "meta.note"],
        settings,
        tenant="acme",
        max_bytes=4000,
        _kill_once=str(marker),
    )
    job.redacted.explain(mode="extended")
    job.redacted.select(job.redacted["value"].cast("string")).write.text(str(out))
    job.rejects.select("pii_reject_reason", job.rejects["value"].cast("string")).write.json(str(rej))
    summary = summarize(job)
    job.close()
    plan = capsys.readouterr().out
    logs = spark_logs["jvm"].read_text(errors="replace")

    # The crash happened (after the worker had already sent output), Spark saw it and retried.
    assert marker.exists()
    assert "Lost task" in logs and ("exited unexpectedly" in logs or "crashed" in logs), logs[-3000:]
    # Every accepted record exactly once, in order; the two bad ones rejected with their reason.
    got = [json.loads(x) for x in part_lines(out)]
    assert [r["id"] for r in got] == [i for i in range(400) if i not in (133, 244)]
    rejected = [json.loads(x) for q in sorted(rej.glob("part-*")) for x in q.read_text().splitlines()]
    assert sorted(r["pii_reject_reason"] for r in rejected) == [
        "line: not valid JSON",
        "line: over the size limit",
    ]
    assert summary["records"] == 400 and summary["rejected"] == 2
    out_text = "\n".join(part_lines(out))
    assert CANARY in out_text and "maria.gonzalez" not in out_text.lower()  # the canary is not PII

    # Nothing of the input (PII, the canary phrase) and no key material in any log, plan or event.
    assert "MapInPandas redact_partition" in plan
    events = "\n".join(q.read_text(errors="replace") for q in spark_logs["events"].rglob("*") if q.is_file())
    assert len(events) > 1000 and len(logs) > 1000
    planted = PLANTED | {TenantKeys(SECRET.encode()).key("acme").hex()}
    assert len(planted) > 100
    for blob, where in ((logs, "driver/executor logs"), (events, "event log"), (plan, "query plan")):
        leaked = sorted(v for v in planted if v in blob)
        assert not leaked, f"{where} hold {len(leaked)} planted values"
