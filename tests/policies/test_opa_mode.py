"""OPA-server mode against a real HTTP server on loopback speaking OPA's REST Data API."""

from __future__ import annotations

import json
import socket

import pytest

from gateway.policy.engines import UNDEFINED, get_engine
from gateway.policy.errors import EngineUnavailable, PolicyEvalError, PolicyTimeout
from gateway.policy.opa import OpaServerDecider, make_client
from tests.policies.conftest import DECISION, allowed_input
from tests.policies.opa_server import OpaRestServer
from tests.policies.test_engines import INPUTS


@pytest.fixture
async def opa(shipped_bundle):
    policy = get_engine("regorus").compile(shipped_bundle, [DECISION])
    server = await OpaRestServer(policy).start()
    decider = OpaServerDecider(server.url, DECISION, timeout_s=2.0)
    await decider.start()
    yield server, decider, policy
    await decider.close()
    await server.stop()


async def test_decisions_match_embedded(opa):
    server, decider, policy = opa
    for doc in INPUTS:
        assert await decider.decide(doc) == policy.evaluate_json(DECISION, json.dumps(doc))


async def test_connections_are_reused(opa):
    server, decider, _ = opa
    for _ in range(20):
        await decider.decide(allowed_input())
    assert server.requests == 20
    assert len(set(server.peers)) == 1  # one keep-alive connection served all decisions


async def test_timeout_is_a_policy_timeout(opa):
    server, _, _ = opa
    server.delay_s = 0.5
    slow = OpaServerDecider(server.url, DECISION, timeout_s=0.05)
    await slow.start()
    try:
        with pytest.raises(PolicyTimeout):
            await slow.decide(allowed_input())
    finally:
        await slow.close()


async def test_server_error_is_an_eval_error(opa):
    server, decider, _ = opa
    server.fail_with = 500
    with pytest.raises(PolicyEvalError, match="HTTP 500"):
        await decider.decide(allowed_input())


async def test_undefined_document_has_no_result(opa):
    _, decider, _ = opa
    decider.decision_path = "gateway/authz/no_such_rule"
    assert await decider.decide(allowed_input()) is UNDEFINED


async def test_unreachable_server_is_unavailable():
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    decider = OpaServerDecider(f"http://127.0.0.1:{port}", DECISION, timeout_s=1.0)
    await decider.start()
    try:
        with pytest.raises(EngineUnavailable):
            await decider.decide(allowed_input())
        assert (await decider.ready())[0] is False
    finally:
        await decider.close()


async def test_ready_reports_health(opa):
    _, decider, _ = opa
    ok, detail = await decider.ready()
    assert ok and "OPA server" in detail


def test_client_url_validation():
    with pytest.raises(ValueError, match="opa_url"):
        make_client("localhost:8181", timeout_s=1)
    client = make_client("https://opa.internal", timeout_s=0.1)
    assert client.port == 443 and client.ssl and client.retries == 0
