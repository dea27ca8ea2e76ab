"""The console script end to end, in a real subprocess where exit codes and output matter."""

import json
import os
import subprocess
import sys
from pathlib import Path

from audit.cli import main as cli
from audit.log import open_log

ROOT = Path(__file__).resolve().parents[2]


def run(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "audit", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        timeout=60,
    )


def test_verify_exit_codes_and_first_bad_record(sqlite_url, key_files, tmp_path) -> None:
    keys = {k: v for k, v in key_files.items() if k != "public_key"}
    with open_log(sqlite_url, **keys) as log:
        for i in range(12):
            log.append("gateway.request", {"i": i})
    ok = run(
        "verify",
        "--public-key",
        key_files["public_key"],
        "--out",
        str(tmp_path / "r.json"),
        env={"CG_AUDIT__STORE": sqlite_url},
    )
    assert ok.returncode == 0 and "OK" in ok.stdout
    assert '"records": 12' in (tmp_path / "r.json").read_text()
    import sqlite3

    with sqlite3.connect(sqlite_url.removeprefix("sqlite:///")) as c:
        c.execute("UPDATE audit_records SET body = replace(body, '\"i\":4', '\"i\":5') WHERE seq = 4")
    bad = run("verify", "--store", sqlite_url, "--public-key", key_files["public_key"])
    assert bad.returncode == 1
    assert "first bad record  4" in bad.stdout and "FAILED" in bad.stdout


def test_help_is_lazy_and_errors_are_one_line(tmp_path) -> None:
    out = run("--help")
    assert out.returncode == 0 and "erase" in out.stdout
    missing = run("verify", "--store", f"sqlite:///{tmp_path}/nope.db")
    assert missing.returncode == 2 and "no audit log" in missing.stderr
    assert not (tmp_path / "nope.db").exists()
    bad_url = run("verify", "--store", "mysql://x/y")
    assert bad_url.returncode == 2 and "unknown audit store" in bad_url.stderr


def test_keygen_checkpoint_and_prune(tmp_path, capsys) -> None:
    kd = tmp_path / "k"
    assert cli(["keygen", "--dir", str(kd)]) == 0
    assert (kd / "signing-key.pem").stat().st_mode & 0o777 == 0o600
    assert (kd / "subject-key").stat().st_mode & 0o777 == 0o600
    assert cli(["keygen", "--dir", str(kd)]) == 2  # never overwrites
    out = capsys.readouterr()
    assert "PRIVATE" not in out.out + out.err
    url = f"sqlite:///{tmp_path}/log.db"
    keys = ["--signing-key-file", str(kd / "signing-key.pem"), "--subject-key-file", str(kd / "subject-key")]
    with open_log(
        url,
        signing_key_file=kd / "signing-key.pem",
        subject_key_file=kd / "subject-key",
        checkpoint_every=10**6,
    ) as log:
        log.append("a.b", {})
        log.append("a.b", {})
    assert cli(["checkpoint", "--store", url, *keys]) == 0
    assert "\n2\n" in capsys.readouterr().out
    assert (
        cli(
            [
                "prune",
                "--store",
                url,
                "--before",
                "2999-01-01",
                "--public-key",
                str(kd / "signing-key.pub.pem"),
                *keys,
            ]
        )
        == 0
    )
    assert "pruned 2 records" in capsys.readouterr().out
    assert cli(["verify", "--store", url, "--public-key", str(kd / "signing-key.pub.pem")]) == 0
    assert cli(["prune", "--store", url, "--before", "not a date", *keys]) == 2


def test_erase_unknown_subject_says_so_and_writes_nothing(tmp_path, capsys) -> None:
    kd = tmp_path / "k"
    assert cli(["keygen", "--dir", str(kd), "--json"]) == 0
    made = json.loads(capsys.readouterr().out)
    assert made["subject_key_file"] == str(kd / "subject-key")
    url = f"sqlite:///{tmp_path}/log.db"
    keys = ["--signing-key-file", str(kd / "signing-key.pem"), "--subject-key-file", str(kd / "subject-key")]
    with open_log(url, signing_key_file=kd / "signing-key.pem", subject_key_file=kd / "subject-key") as log:
        log.append("gateway.request", {"n": 1}, subject="alice", personal={"ip": "192.0.2.7"})
        size = log.appender.store.head().size
    assert cli(["erase", "--store", url, *keys, "--subject", "mallory"]) == 1
    out = capsys.readouterr()
    assert "no such subject" in out.out and "mallory" not in out.out + out.err
    with open_log(url, signing_key_file=kd / "signing-key.pem", subject_key_file=kd / "subject-key") as log:
        assert log.appender.store.head().size == size  # no erasure record for a stranger
    access = tmp_path / "access.jsonl"
    assert (
        cli(
            [
                "export",
                "--store",
                url,
                *keys,
                "--subject",
                "mallory",
                "--report",
                "access",
                "--out",
                str(access),
            ]
        )
        == 1
    )
    assert access.exists() and "no such subject" in capsys.readouterr().err
    assert (
        cli(
            [
                "export",
                "--store",
                url,
                *keys,
                "--subject",
                "alice",
                "--report",
                "access",
                "--out",
                str(access),
            ]
        )
        == 0
    )
    capsys.readouterr()
    # A real subject: --json on stdout, --out to a file, the same data.
    report = tmp_path / "erase.json"
    assert cli(["erase", "--store", url, *keys, "--subject", "alice", "--json", "--out", str(report)]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed == json.loads(report.read_text()) and printed["keys_destroyed"] == 1 and printed["found"]
    # Erasing again: the subject exists (records), no key left; it says so and still succeeds.
    assert cli(["erase", "--store", url, *keys, "--subject", "alice"]) == 0
    assert "already erased" in capsys.readouterr().out


def test_paths_the_user_gives_must_exist(tmp_path, capsys) -> None:
    missing = str(tmp_path / "nope.pem")
    url = f"sqlite:///{tmp_path}/log.db"
    assert cli(["prune", "--store", url, "--before", "2999-01-01", "--public-key", missing]) == 2
    assert cli(["checkpoint", "--store", url, "--signing-key-file", missing]) == 2
    assert cli(["export", "--store", url, "--config", missing]) == 2
    err = capsys.readouterr().err
    assert "does not exist" in err and "nope.pem" in err
    assert cli(["export", "--store", url, "--json"]) == 2  # --json summarises a file: needs --out
    assert cli(["export", "--store", url, "--report", "nosuch", "--no-checkpoint"]) == 2
