"""Bad bundles and bad inputs: each gets a clear error, and none becomes an allow."""

from __future__ import annotations

import json

import pytest

from gateway.policy.bundle import load_bundle
from gateway.policy.decision import InvalidDecision, check_decision
from gateway.policy.engines import UNDEFINED, get_engine
from gateway.policy.errors import BundleError, PolicyCompileError, PolicyEvalError
from tests.policies.conftest import DECISION, allowed_input, write_bundle

GOOD_DECISION = 'decision := {"allow": allow, "deny_reasons": [], "obligations": {}}\n'


def compile_files(tmp_path, files, entry="p/decision"):
    return get_engine("regorus").compile(load_bundle(write_bundle(tmp_path / "b", files)), [entry])


def test_syntax_error_names_file_and_line(tmp_path):
    with pytest.raises(PolicyCompileError) as exc:
        compile_files(tmp_path, {"p/p.rego": "package p\n\nallow if {\n  input.x ==\n}\n" + GOOD_DECISION})
    assert "p/p.rego:" in str(exc.value)
    assert "Stack backtrace" not in str(exc.value)


def test_unsafe_variable_fails_compile_not_a_request(tmp_path):
    with pytest.raises(PolicyCompileError, match="unsafe"):
        compile_files(tmp_path, {"p/p.rego": "package p\n\nallow if x > 1\n" + GOOD_DECISION})


def test_bad_data_json_and_manifest(tmp_path):
    root = write_bundle(tmp_path / "b", {"p/p.rego": "package p\n", "p/data.json": "{not json"})
    with pytest.raises(BundleError, match=r"p/data.json: not valid JSON \(line 1"):
        load_bundle(root)
    root2 = write_bundle(tmp_path / "c", {"p/p.rego": "package p\n", ".manifest": '{"rego_version": 0}'})
    with pytest.raises(BundleError, match="rego_version"):
        load_bundle(root2)
    with pytest.raises(BundleError, match="does not exist"):
        load_bundle(tmp_path / "missing")
    with pytest.raises(BundleError, match="no .rego files"):
        load_bundle(write_bundle(tmp_path / "d", {"data.json": "{}"}))


def test_division_by_zero_at_run_time_is_an_eval_error(tmp_path):
    policy = compile_files(
        tmp_path,
        {"p/p.rego": "package p\n\nratio := 100 / input.n\n\nallow if ratio > 1\n\n" + GOOD_DECISION},
    )
    assert policy.evaluate_json("p/decision", json.dumps({"n": 10}))["allow"] is True
    with pytest.raises(PolicyEvalError, match="divide by zero") as exc:
        policy.evaluate_json("p/decision", json.dumps({"n": 0}))
    assert "p/p.rego:3" in str(exc.value)
    # The engine keeps working after an error.
    assert policy.evaluate_json("p/decision", json.dumps({"n": 10}))["allow"] is True


def test_conflicting_values_at_run_time_is_an_eval_error(tmp_path):
    rego = (
        'package p\n\ntier := "a" if input.x > 0\n\ntier := "b" if input.x > 1\n\nallow if tier == "a"\n\n'
        + GOOD_DECISION
    )
    policy = compile_files(tmp_path, {"p/p.rego": rego})
    assert policy.evaluate_json("p/decision", json.dumps({"x": 1}))["allow"] is True
    with pytest.raises(PolicyEvalError):
        policy.evaluate_json("p/decision", json.dumps({"x": 2}))


def test_constant_division_by_zero_is_caught_at_compile(tmp_path):
    with pytest.raises(PolicyCompileError, match="divide by zero"):
        compile_files(tmp_path, {"p/p.rego": "package p\n\nk := 1 / 0\n\nallow if k\n\n" + GOOD_DECISION})


def test_policy_that_never_defines_allow_is_denied(tmp_path):
    # The decision object references allow, which no rule defines: the whole decision is undefined.
    policy = compile_files(
        tmp_path,
        {
            "p/p.rego": 'package p\n\nreasons contains "x" if false\n\ndecision := {"allow": allow}\n\nallow if false\n'
        },
    )
    raw = policy.evaluate_json("p/decision", "{}")
    assert raw is UNDEFINED
    with pytest.raises(InvalidDecision, match="undefined"):
        check_decision(raw)
    # A decision document without an allow key.
    policy2 = compile_files(tmp_path / "2", {"p/p.rego": 'package p\n\ndecision := {"deny_reasons": []}\n'})
    with pytest.raises(InvalidDecision, match="does not define allow"):
        check_decision(policy2.evaluate_json("p/decision", "{}"))


@pytest.mark.parametrize(
    "value, match",
    [
        ({"allow": "yes"}, "not a boolean"),
        ({"allow": True, "deny_reasons": ["x"]}, "at once"),
        ({"allow": True, "deny_reasons": "x"}, "list of strings"),
        ({"allow": True, "obligations": []}, "not an object"),
        ([True], "not an object"),
        (True, "not an object"),
    ],
)
def test_malformed_decisions_are_denied(value, match):
    with pytest.raises(InvalidDecision, match=match):
        check_decision(value)


def test_huge_input_document_is_evaluated_without_harm(shipped_policy):
    # 1 MB of claims, thousands of PII keys and roles: the engine answers (deny on the bad field), nothing crashes.
    doc = allowed_input(pii={f"ENTITY_{i}": 1 for i in range(5_000)}, claims={"blob": "x" * 1_000_000})
    value = shipped_policy.evaluate_json(DECISION, json.dumps(doc))
    d = check_decision(value)
    assert d.allow is True  # unknown entity types carry no rule; the blob claim is not read
    doc["roles"] = ["analyst"] * 10_000
    assert check_decision(shipped_policy.evaluate_json(DECISION, json.dumps(doc))).allow is True


@pytest.mark.parametrize(
    "patch, reason",
    [
        ({"roles": "admin"}, "input.roles must be an array of strings"),
        ({"roles": [1, 2]}, "input.roles must be an array of strings"),
        ({"model": 42}, "input.model must be a string or null"),
        ({"tenant": {"id": "acme"}}, "input.tenant must be a string or null"),
        ({"pii": "CREDIT_CARD"}, "input.pii must be an object of entity type -> count"),
        ({"pii": {"CN_RESIDENT_ID": "one"}}, "input.pii counts must be non-negative numbers"),
        ({"request": [1]}, "input.request must be an object"),
        ({"time": "2026-01-01"}, "input.time must be a number (unix seconds)"),
        ({"route": None}, "input.route must be a string"),
    ],
)
def test_unexpected_input_types_are_denied_with_the_field_named(shipped_policy, patch, reason):
    d = check_decision(shipped_policy.evaluate_json(DECISION, json.dumps(allowed_input(**patch))))
    assert d.allow is False
    assert reason in d.deny_reasons


@pytest.mark.parametrize("doc", [[], "text", 7, None, {"input": {}}])
def test_non_object_inputs_are_denied(shipped_policy, doc):
    d = check_decision(shipped_policy.evaluate_json(DECISION, json.dumps(doc)))
    assert d.allow is False


def test_engine_error_text_is_scrubbed_of_values(tmp_path):
    policy = compile_files(
        tmp_path, {"p/p.rego": "package p\n\nallow if input.a + 1 > 2\n\n" + GOOD_DECISION}
    )
    with pytest.raises(PolicyEvalError) as exc:
        policy.evaluate_json("p/decision", json.dumps({"a": "alice@example.com"}))
    assert "alice@example.com" not in str(exc.value)
    assert "p/p.rego:3" in str(exc.value)
