"""The engine choice, as tests: correctness, thread safety, and where regopy falls short.

docs/policy.md explains the choice; these tests keep its claims honest.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from gateway.policy.bundle import load_bundle
from gateway.policy.decision import check_decision
from gateway.policy.engines import engine_names, get_engine, register
from gateway.policy.errors import PolicyCompileError, PolicyEvalError
from tests.policies.conftest import DECISION, SHIPPED, allowed_input, write_bundle

INPUTS = [
    allowed_input(),
    allowed_input(roles=["user"]),
    allowed_input(
        tenant="globex",
        model="qwen2.5-7b-instruct",
        pii={"CREDIT_CARD": 2},
        upstream={"name": "u", "labels": {"region": "us"}},
    ),
    allowed_input(pii={"CN_RESIDENT_ID": 1}),
    allowed_input(model="qwen-jailbreak-v2"),
    allowed_input(upstream={"name": "us-gpu", "labels": {"region": "us"}}),
    allowed_input(
        subject="alice@globex",
        tenant="globex",
        roles=["user"],
        model="deepseek-r1",
        upstream={"name": "u", "labels": {}},
    ),
    allowed_input(request={"max_tokens": 10, "prompt_tokens_estimate": 99999}),
    allowed_input(roles="admin", time="now"),
    {},
]


def test_registry_lists_both_engines_and_rejects_unknown():
    assert {"regorus", "regopy"} <= set(engine_names())
    with pytest.raises(LookupError, match="unknown policy engine"):
        get_engine("opa-wasm")


def test_register_adds_an_engine():
    from gateway.policy.engines.regorus_engine import RegorusEngine

    class Renamed(RegorusEngine):
        name = "regorus-renamed"

    register("regorus-renamed", Renamed)
    assert isinstance(get_engine("regorus-renamed"), Renamed)


# (allow, max_tokens obligation) that the data table in policies/gateway/data.json implies.
EXPECTED = [
    (True, 4096),
    (False, 1024),
    (True, 4096),
    (False, 4096),
    (False, 4096),
    (False, 4096),
    (True, 1024),
    (False, 4096),
    (False, 512),
    (False, None),
]


def _summary(policy, doc):
    d = check_decision(policy.evaluate_json(DECISION, json.dumps(doc)))
    return d.allow, d.obligations.get("max_tokens")


def test_regorus_decisions_match_the_data_table(shipped_bundle):
    policy = get_engine("regorus").compile(shipped_bundle, [DECISION])
    assert [_summary(policy, doc) for doc in INPUTS] == EXPECTED


def test_regopy_gets_the_shipped_decisions_wrong(shipped_bundle):
    """Measured defects of regopy 1.5.2 on the shipped bundle (why it is not the default)."""
    # It cannot compile the bundle's test modules at all (see below): decisions only.
    policy = get_engine("regopy").compile(shipped_bundle, [DECISION], include_tests=False)
    outcomes = []
    for doc in INPUTS:
        try:
            outcomes.append(_summary(policy, doc))
        except PolicyEvalError as exc:
            outcomes.append(str(exc))
    # concat() keeps the quotes of its strings, and the JSON output does not escape them.
    assert outcomes[1] == "rego-cpp produced invalid JSON for this decision"
    assert sum(o == e for o, e in zip(outcomes, EXPECTED, strict=True)) < len(EXPECTED)


def test_regopy_mixes_up_function_calls_with_different_arguments(tmp_path):
    """f("m") and f("c") return the same value: the shipped limits rules once hit this."""
    rego = (
        'package p\n\nlim := {"a": {"m": 1, "c": 10}}\n\n'
        "f(field) := max(caps) if {\n\tcaps := {c | some r in input.roles; c := lim[r][field]}\n"
        "\tcount(caps) > 0\n} else := 0\n\n"
        'decision := {"allow": true, "caps": [f("m"), f("c")]}\n'
    )
    bundle = load_bundle(write_bundle(tmp_path / "b", {"p/p.rego": rego}))
    doc = json.dumps({"roles": ["a"]})
    assert get_engine("regorus").compile(bundle, ["p/decision"]).evaluate_json("p/decision", doc)["caps"] == [
        1,
        10,
    ]
    assert get_engine("regopy").compile(bundle, ["p/decision"]).evaluate_json("p/decision", doc)["caps"] == [
        10,
        10,
    ]


def test_regorus_runs_rego_v1_with_negated_with(tmp_path):
    files = {
        "p/p.rego": 'package p\n\nallow if input.x == 1\n\ndecision := {"allow": allow}\n',
        "p/p_test.rego": 'package p_test\n\ntest_not_with if not data.p.allow with input as {"x": 2}\n',
    }
    bundle = load_bundle(write_bundle(tmp_path / "b", files))
    assert get_engine("regorus").compile(bundle, ["p/decision"]).run_test("p_test", "test_not_with") is True
    # rego-cpp rejects `not ... with input as ...`, valid Rego v1 that `opa test` accepts.
    with pytest.raises(PolicyCompileError):
        get_engine("regopy").compile(bundle, ["p/decision"])


def test_regopy_aborts_the_process_on_the_shipped_test_modules():
    """rego-cpp throws a C++ exception that terminates Python: it cannot run our Rego tests."""
    code = (
        "from gateway.policy.bundle import load_bundle\n"
        "from gateway.policy.engines import get_engine\n"
        f"get_engine('regopy').compile(load_bundle({str(SHIPPED)!r}), ['{DECISION}'])\n"
        "print('compiled')\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=str(Path(__file__).resolve().parents[2]),
    )
    assert proc.returncode != 0 and "compiled" not in proc.stdout, (
        "regopy now survives: re-run the engine comparison"
    )


def test_regorus_refuses_cross_thread_use_with_a_normal_error(shipped_policy):
    errors: list[BaseException] = []

    def worker():
        try:
            shipped_policy.evaluate_json(DECISION, json.dumps(allowed_input()))
        except BaseException as exc:  # a PanicException would land here too
            errors.append(exc)

    t = threading.Thread(target=worker)
    t.start()
    t.join()
    assert len(errors) == 1 and isinstance(errors[0], PolicyEvalError)
    # and the owner thread still evaluates
    assert check_decision(shipped_policy.evaluate_json(DECISION, json.dumps(allowed_input()))).allow


def _outcome(policy, doc):
    try:
        return _summary(policy, doc)
    except PolicyEvalError as exc:
        return str(exc)


@pytest.mark.parametrize("engine", ["regorus", "regopy"])
def test_concurrent_threads_get_consistent_decisions(shipped_bundle, engine):
    """Thread safety: the same answers from 4 threads as from one (each engine's own answers).

    regorus: one engine per thread. regopy: one compiled bundle shared, an interpreter per thread.
    """
    if engine == "regopy":
        shared = get_engine("regopy").compile(shipped_bundle, [DECISION], include_tests=False)
        expected = [_outcome(shared, doc) for doc in INPUTS]
    else:
        shared = None
        expected = [
            _outcome(get_engine("regorus").compile(shipped_bundle, [DECISION]), doc) for doc in INPUTS
        ]
    failures: list[str] = []

    def worker():
        try:
            policy = shared or get_engine("regorus").compile(shipped_bundle, [DECISION])
            for _ in range(5):
                for i, doc in enumerate(INPUTS):
                    got = _outcome(policy, doc)
                    if got != expected[i]:
                        failures.append(f"input {i}: {got!r}")
            if shared is None:
                policy.close()  # drop the engine on its own thread
        except BaseException as exc:
            failures.append(repr(exc))

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert failures == []


def test_regorus_rvm_compiled_mode_gets_decisions_wrong(shipped_bundle):
    """regorus's bytecode VM (Program/Rvm) is ~5x faster but not yet correct: not used.

    Measured on the shipped bundle: a partial set collects an '<undefined>' element
    (so allowed requests are denied), and negations of rules that depend on a
    function with an else branch go wrong.
    """
    import regorus

    mods = [(p, s) for p, s in sorted(shipped_bundle.modules.items()) if not p.endswith("_test.rego")]
    program = regorus.Program.compile_from_modules(
        shipped_bundle.data_json, mods, ["data.gateway.authz.decision"]
    )
    vm = regorus.Rvm()
    vm.load_program(program)
    vm.set_data_json(shipped_bundle.data_json)
    interp = get_engine("regorus").compile(shipped_bundle, [DECISION], include_tests=False)
    diffs = []
    for doc in INPUTS:
        vm.set_input_json(json.dumps(doc))
        rvm_value = json.loads(vm.execute())
        if rvm_value != interp.evaluate_json(DECISION, json.dumps(doc)):
            diffs.append(rvm_value)
    assert diffs, "the RVM now agrees with the interpreter: re-measure it (docs/policy.md)"
    assert any("<undefined>" in d.get("deny_reasons", []) for d in diffs)


def test_policy_released_on_another_thread_frees_its_engine_on_the_owner(shipped_bundle, recwarn):
    import gc

    from gateway.policy.engines.regorus_engine import _STORE

    keeper = get_engine("regorus").compile(shipped_bundle, [DECISION])
    doomed = [get_engine("regorus").compile(shipped_bundle, [DECISION])]
    key = doomed[0]._key

    def drop():
        doomed.clear()  # the last reference goes away on a foreign thread
        gc.collect()

    t = threading.Thread(target=drop)
    t.start()
    t.join()
    assert key in _STORE._engines  # queued, not freed on the wrong thread
    keeper.evaluate_json(DECISION, json.dumps(allowed_input()))  # the owner thread reaps it
    assert key not in _STORE._engines
    assert not [w for w in recwarn if "unsendable" in str(w.message)]
