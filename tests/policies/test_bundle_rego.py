"""The shipped bundle's own Rego tests, on the embedded engine and through OPA's REST API."""

from __future__ import annotations

import pytest

from gateway.policy.bundle import load_bundle
from gateway.policy.engines import get_engine
from gateway.policy.opa import OpaServerDecider, run_tests_over_opa
from gateway.policy.testing import discover_tests, run_tests
from tests.policies.conftest import DECISION, SHIPPED
from tests.policies.opa_server import OpaRestServer

CASES = discover_tests(load_bundle(SHIPPED))


@pytest.fixture(scope="module")
def module_policy():
    return get_engine("regorus").compile(load_bundle(SHIPPED), [DECISION])


def test_every_rule_file_has_tests():
    bundle = load_bundle(SHIPPED)
    rule_files = {p for p in bundle.modules if not p.endswith("_test.rego")}
    tested = {c.file.replace("_test.rego", ".rego") for c in CASES}
    assert rule_files <= tested
    assert len(CASES) >= 40


@pytest.mark.parametrize("case", CASES, ids=[f"{c.package.split('.')[-1]}.{c.name}" for c in CASES])
def test_rego_test_passes_embedded(module_policy, case):
    assert module_policy.run_test(case.package, case.name) is True


def test_a_failing_rego_test_is_reported_as_failing(tmp_path):
    from tests.policies.conftest import write_bundle

    root = write_bundle(
        tmp_path / "b",
        {
            "p/policy.rego": 'package p\n\nallow if input.x == 1\n\ndecision := {"allow": allow}\n',
            "p/policy_test.rego": 'package p_test\n\ntest_ok if data.p.allow with input as {"x": 1}\n\n'
            'test_wrong if data.p.allow with input as {"x": 2}\n',
        },
    )
    policy = get_engine("regorus").compile(load_bundle(root), ["p/decision"])
    report = run_tests(policy)
    assert [(r.test.name, r.status) for r in report.results] == [("test_ok", "pass"), ("test_wrong", "fail")]
    assert not report.ok


async def test_same_rego_tests_pass_through_opa_rest_api(shipped_bundle):
    policy = get_engine("regorus").compile(shipped_bundle, [DECISION])
    server = await OpaRestServer(policy).start()
    decider = OpaServerDecider(server.url, DECISION, timeout_s=5.0)
    await decider.start()
    try:
        report = await run_tests_over_opa(decider, CASES)
    finally:
        await decider.close()
        await server.stop()
    assert [r.test.name for r in report.results if r.status != "pass"] == []
    assert report.passed == len(CASES)
    # And a test that fails embedded fails over OPA too (undefined -> no "result").
    server2 = await OpaRestServer(policy).start()
    decider2 = OpaServerDecider(server2.url, DECISION, timeout_s=5.0)
    await decider2.start()
    try:
        from gateway.policy.testing import TestCase

        bogus = await run_tests_over_opa(
            decider2, [TestCase("gateway.models_test", "test_does_not_exist", "x", 1)]
        )
    finally:
        await decider2.close()
        await server2.stop()
    assert bogus.results[0].status == "fail"
