"""``gateway policy test`` and ``gateway policy eval``: output, exit codes, bad input."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from commandline import ERROR, FAILURE, OK
from gateway.cli import main as gateway_main
from tests.policies.conftest import SHIPPED, allowed_input, write_bundle
from tests.policies.opa_server import ThreadedOpaServer

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = SHIPPED / "examples"


def test_policy_test_prints_pass_per_test(capsys):
    assert gateway_main(["policy", "test"]) == OK
    out = capsys.readouterr().out
    lines = [ln for ln in out.splitlines() if ln.startswith(("PASS", "FAIL", "ERROR"))]
    assert len(lines) >= 40 and all(ln.startswith("PASS") for ln in lines)
    assert "gateway/models_test.rego:" in out and "test_deny_list_glob" in out
    assert out.strip().splitlines()[-1].startswith("ok: ")


def test_policy_test_reports_failures_and_exit_code(tmp_path, capsys):
    root = write_bundle(
        tmp_path / "b",
        {
            "gateway/authz.rego": 'package gateway.authz\n\nallow if input.x == 1\n\ndecision := {"allow": allow}\n',
            "gateway/authz_test.rego": "package gateway.authz_test\n\n"
            'test_one if data.gateway.authz.allow with input as {"x": 1}\n\n'
            'test_two if data.gateway.authz.allow with input as {"x": 2}\n\n'
            "test_boom if 1 / 0 == 1\n",
        },
    )
    assert gateway_main(["policy", "test", "--bundle", str(root), "--json"]) == FAILURE
    report = json.loads(capsys.readouterr().out)
    assert {r["name"]: r["status"] for r in report["results"]} == {
        "test_one": "pass",
        "test_two": "fail",
        "test_boom": "error",
    }
    assert report["passed"] == 1 and report["failed"] == 2


def test_policy_test_on_a_broken_bundle_is_a_usage_error(tmp_path, capsys):
    root = write_bundle(tmp_path / "b", {"gateway/authz.rego": "package gateway.authz\n\nallow if {\n"})
    assert gateway_main(["policy", "test", "--bundle", str(root)]) == ERROR
    err = capsys.readouterr().err
    assert "cannot be used" in err and "gateway/authz.rego:" in err


def test_policy_eval_allowed_and_denied(capsys):
    assert (
        gateway_main(["policy", "eval", "--input", str(EXAMPLES / "chat-us-card-redact.json"), "--json"])
        == OK
    )
    d = json.loads(capsys.readouterr().out)
    assert d["allow"] is True and d["obligations"]["pii_operators"] == {"CREDIT_CARD": "remove"}
    assert d["revision"].startswith("2026.") and d["latency_ms"] >= 0
    assert gateway_main(["policy", "eval", "--input", str(EXAMPLES / "chat-eu-denied.json")]) == FAILURE
    out = capsys.readouterr().out
    assert out.startswith("DENY") and "deny: the request contains CN_RESIDENT_ID" in out


def test_policy_eval_bad_input_files(tmp_path, capsys):
    bad = tmp_path / "bad.json"
    bad.write_text("{nope")
    assert gateway_main(["policy", "eval", "--input", str(bad)]) == ERROR
    assert "not valid JSON (line 1" in capsys.readouterr().err
    assert gateway_main(["policy", "eval", "--input", str(tmp_path / "missing.json")]) == ERROR
    wrong = tmp_path / "wrong.json"
    wrong.write_text(json.dumps(allowed_input(roles="admin")))
    assert gateway_main(["policy", "eval", "--input", str(wrong), "--json"]) == FAILURE
    assert "input.roles must be an array of strings" in capsys.readouterr().out


def test_policy_eval_undefined_decision_fails_closed(tmp_path, capsys):
    root = write_bundle(tmp_path / "b", {"gateway/authz.rego": "package gateway.authz\n\nx := 1\n"})
    doc = tmp_path / "in.json"
    doc.write_text("{}")
    assert gateway_main(["policy", "eval", "--bundle", str(root), "--input", str(doc), "--json"]) == FAILURE
    d = json.loads(capsys.readouterr().out)
    assert d["allow"] is False and d["deny_reasons"] == ["fail closed: policy decision is undefined"]


def test_policy_test_over_opa_rest_api(capsys):
    with ThreadedOpaServer(str(SHIPPED)) as server:
        assert gateway_main(["policy", "test", "--opa-url", server.url]) == OK
    out = capsys.readouterr().out
    assert "ok: " in out and f"opa {server.url}" in out


def test_console_entry_point_subprocess():
    proc = subprocess.run(
        [sys.executable, "-m", "gateway", "policy", "test", "--json"],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["ok"] is True


@pytest.mark.parametrize("argv", [["policy"], ["policy", "eval"], ["policy", "test", "--engine", "nope"]])
def test_usage_errors(argv):
    assert gateway_main(argv) == ERROR
