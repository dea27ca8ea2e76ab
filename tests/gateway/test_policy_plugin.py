"""The policy plugin on the request path: decisions, obligations, fail-closed, audit records."""

from __future__ import annotations

import json
import shutil
import socket
from pathlib import Path
from types import SimpleNamespace

import pytest
from pydantic import ValidationError

from gateway.chain.context import Identity, PIIFinding, RequestContext
from gateway.chain.errors import Forbidden, ServiceUnavailable
from gateway.chain.plugins import resolve
from gateway.chain.plugins.policy import PolicyPlugin, PolicySettings
from gateway.policy.bundle import default_bundle_dir, load_bundle
from gateway.policy.engines import get_engine
from gateway.policy.errors import PolicyError
from tests.policies.conftest import DECISION, SHIPPED, write_bundle
from tests.policies.opa_server import OpaRestServer

CARD = "4111 1111 1111 1111"
EU = SimpleNamespace(name="eu-gpu", labels={"region": "eu"})
US = SimpleNamespace(name="us-gpu", labels={"region": "us"})


@pytest.fixture
def shipped_bundle():
    return load_bundle(SHIPPED)


@pytest.fixture
def bundle_copy(tmp_path: Path) -> Path:
    dst = tmp_path / "bundle"
    shutil.copytree(SHIPPED, dst, ignore=shutil.ignore_patterns("examples"))
    return dst


def make_ctx(
    *,
    subject="bob@acme",
    tenant="acme",
    roles=("analyst",),
    claims=None,
    model="llama-3.1-70b-instruct",
    upstream=EU,
    route="chat",
    max_tokens=8000,
    pii=(),
    prompt_tokens=120,
    anonymous=False,
) -> RequestContext:
    body = {"model": model, "messages": [{"role": "user", "content": f"pay with {CARD}"}]}
    if max_tokens is not None:
        body["max_tokens"] = max_tokens
    return RequestContext(
        request_id="req-1",
        route=route,
        method="POST",
        path="/v1/chat/completions",
        headers={},
        body=body,
        model=model,
        upstream=upstream,
        identity=None
        if anonymous
        else Identity(subject=subject, tenant=tenant, roles=tuple(roles), claims=claims or {}),
        pii=[PIIFinding(e, n, 0.9) for e, n in pii],
        prompt_tokens=prompt_tokens,
    )


async def started(**settings) -> PolicyPlugin:
    settings.setdefault("bundle_dir", SHIPPED)
    settings.setdefault("reload_interval_s", 0)
    settings.setdefault("timeout_ms", 5000)  # a loaded CI machine must not turn into budget denials
    plugin = PolicyPlugin(PolicySettings(**settings), config=None)
    await plugin.startup()
    return plugin


class PIIStage:
    """Stands in for the PII plugin's per-request state (its contract: ``enforce(operators)``)."""

    def __init__(self) -> None:
        self.calls: list[dict] = []

    def enforce(self, operators: dict) -> None:
        self.calls.append(dict(operators))


def test_registered_as_the_policy_plugin():
    assert resolve("policy") is PolicyPlugin
    assert PolicyPlugin.section == "policy" and PolicyPlugin.Settings is PolicySettings


def test_settings_validation():
    assert PolicySettings().resolved_bundle_dir() == default_bundle_dir()
    assert (default_bundle_dir() / ".manifest").is_file()
    with pytest.raises(ValidationError, match="extra"):
        PolicySettings(bundel_dir="x")
    with pytest.raises(ValidationError, match="unknown engine"):
        PolicySettings(engine="opa-wasm")
    with pytest.raises(ValidationError, match="rule path"):
        PolicySettings(decision="gateway/authz/decision; drop")
    with pytest.raises(ValidationError):
        PolicySettings(mode="sidecar")
    with pytest.raises(ValidationError):
        PolicySettings(timeout_ms=0)
    with pytest.raises(ValidationError, match="http"):
        PolicySettings(opa_url="opa:8181")
    with pytest.raises(ValidationError, match="unknown route"):
        PolicySettings(fail_open_routes=["chats"])
    with pytest.raises(ValidationError, match="personal data"):
        PolicySettings(claims=["plan", "email"])


async def test_allowed_request_is_capped_and_audited():
    plugin = await started()
    ok, detail = await plugin.ready()
    assert ok and plugin.revision in detail
    ctx = make_ctx()
    await plugin.on_request(ctx)
    assert ctx.policy.allow and ctx.policy.bundle_revision == plugin.revision and not ctx.policy.fail_open
    assert ctx.body["max_tokens"] == 4096  # analyst cap
    record = ctx.audit["policy"]
    assert record["allow"] is True and record["revision"] == plugin.revision and record["latency_ms"] > 0
    assert record["input"]["model"] == "llama-3.1-70b-instruct" and "subject" not in record["input"]
    dumped = json.dumps(ctx.audit)
    assert CARD not in dumped and "pay with" not in dumped and "bob@acme" not in dumped
    small = make_ctx(max_tokens=100)
    await plugin.on_request(small)
    assert small.body["max_tokens"] == 100
    unset = make_ctx(max_tokens=None)
    await plugin.on_request(unset)
    assert unset.body["max_tokens"] == 4096
    await plugin.shutdown()


async def test_denied_request_is_403_with_reasons():
    plugin = await started()
    ctx = make_ctx(roles=("user",), upstream=US)
    with pytest.raises(Forbidden) as exc:
        await plugin.on_request(ctx)
    assert exc.value.status == 403
    assert "none of the roles [user] may use model llama-3.1-70b-instruct" in exc.value.message
    assert "must stay in eu; upstream us-gpu is us" in exc.value.message
    assert ctx.policy.allow is False and len(ctx.policy.deny_reasons) == 2
    assert ctx.audit["policy"]["allow"] is False and ctx.audit["policy"]["failure"] is None
    assert CARD not in exc.value.message


async def test_pii_findings_drive_deny_and_redaction_obligation():
    plugin = await started()
    with pytest.raises(Forbidden, match="CN_RESIDENT_ID and the tenant lacks the kyc entitlement"):
        await plugin.on_request(make_ctx(pii=[("CN_RESIDENT_ID", 1)]))
    ctx = make_ctx(tenant="globex", model="qwen2.5-7b-instruct", upstream=US, pii=[("CREDIT_CARD", 1)])
    stage = PIIStage()
    ctx.pii_state = stage
    await plugin.on_request(ctx)
    assert stage.calls == [{"CREDIT_CARD": "remove"}]
    assert ctx.policy.obligations["pii_operators"] == {"CREDIT_CARD": "remove"}
    # The same request without an active PII stage cannot be enforced: deny (fail closed).
    bare = make_ctx(tenant="globex", model="qwen2.5-7b-instruct", upstream=US, pii=[("CREDIT_CARD", 1)])
    with pytest.raises(Forbidden, match="PII stage is not active"):
        await plugin.on_request(bare)
    assert bare.policy.allow is False and bare.audit["policy"]["allow"] is False


async def test_unbuildable_input_fails_closed_and_pii_counts_add_up():
    plugin = await started()
    ctx = make_ctx()
    ctx.pii = [PIIFinding("CREDIT_CARD", "many")]  # type: ignore[arg-type]
    with pytest.raises(Forbidden, match="could not be built"):
        await plugin.on_request(ctx)
    assert ctx.policy.allow is False and ctx.audit["policy"]["failure"] == "error"
    twice = make_ctx(pii=[("CN_RESIDENT_ID", 1), ("CN_RESIDENT_ID", 2)])
    with pytest.raises(Forbidden):
        await plugin.on_request(twice)
    assert twice.audit["policy"]["input"]["pii"] == {"CN_RESIDENT_ID": 3}


async def test_async_enforce_is_awaited():
    plugin = await started()
    seen = []

    class AsyncStage:
        async def enforce(self, operators):
            seen.append(operators)

    ctx = make_ctx(tenant="globex", model="qwen2.5-7b-instruct", upstream=US, pii=[("IBAN_CODE", 2)])
    ctx.pii_state = AsyncStage()
    await plugin.on_request(ctx)
    assert seen == [{"IBAN_CODE": "remove"}]


async def test_claims_and_anonymous_requests():
    plugin = await started()
    ctx = make_ctx(
        tenant="newco",
        claims={"plan": "pro", "email": "x@y", "entitlements": ["kyc"]},
        upstream=US,
        pii=[("CN_RESIDENT_ID", 1)],
    )
    await plugin.on_request(ctx)
    assert ctx.audit["policy"]["input"]["claims"] == {"plan": "pro", "entitlements": ["kyc"]}
    anon = make_ctx(anonymous=True, model="smollm2-135m", upstream=SimpleNamespace(name="dev", labels={}))
    await plugin.on_request(anon)
    assert anon.policy.allow and anon.body["max_tokens"] == 1024


def _bundle(tmp_path: Path, rego: str) -> Path:
    return write_bundle(tmp_path / "b", {"gateway/authz.rego": "package gateway.authz\n\n" + rego})


async def test_engine_error_fails_closed_and_fail_open_route_is_audited(tmp_path):
    root = _bundle(
        tmp_path,
        "ratio := 100 / input.request.prompt_tokens_estimate\n\n"
        "allow if ratio > 0\n\n"
        'decision := {"allow": allow, "deny_reasons": [], "obligations": {}}\n',
    )
    plugin = await started(bundle_dir=root, fail_open_routes=["embeddings"])
    ok = make_ctx(prompt_tokens=10)
    await plugin.on_request(ok)
    assert ok.policy.allow
    ctx = make_ctx(prompt_tokens=0)
    with pytest.raises(Forbidden, match="divide by zero") as exc:
        await plugin.on_request(ctx)
    assert exc.value.status == 403 and ctx.audit["policy"]["failure"] == "error"
    opened = make_ctx(prompt_tokens=0, route="embeddings")
    await plugin.on_request(opened)
    assert opened.policy.allow and opened.policy.fail_open
    assert opened.audit["policy"]["fail_open"] is True and opened.audit["policy"]["failure"] == "error"


async def test_explicit_deny_is_not_overridden_by_fail_open():
    plugin = await started(fail_open_routes=["chat"])
    with pytest.raises(Forbidden, match="none of the roles"):
        await plugin.on_request(make_ctx(roles=("user",)))


async def test_undefined_decision_and_unknown_obligation_deny(tmp_path):
    plugin = await started(bundle_dir=_bundle(tmp_path, "x := 1\n"))
    with pytest.raises(Forbidden, match="policy decision is undefined"):
        await plugin.on_request(make_ctx())
    root2 = write_bundle(
        tmp_path / "c",
        {
            "gateway/authz.rego": 'package gateway.authz\n\ndecision := {"allow": true, "obligations": {"watermark": "on"}}\n'
        },
    )
    plugin2 = await started(bundle_dir=root2)
    ctx = make_ctx()
    with pytest.raises(Forbidden, match="cannot enforce: watermark"):
        await plugin2.on_request(ctx)
    assert ctx.policy.allow is False


async def test_time_budget_and_input_size_fail_closed():
    slow = await started(timeout_ms=0.000001)
    with pytest.raises(Forbidden, match="time budget"):
        await slow.on_request(make_ctx())
    small = await started(max_input_bytes=64)
    with pytest.raises(Forbidden, match="exceeds 64 bytes"):
        await small.on_request(make_ctx())


async def test_bad_bundle_stops_startup(tmp_path):
    plugin = PolicyPlugin(
        PolicySettings(bundle_dir=_bundle(tmp_path, "allow if {\n"), reload_interval_s=0), None
    )
    with pytest.raises(PolicyError):
        await plugin.startup()
    assert (await plugin.ready())[0] is False


async def test_opa_mode_matches_embedded_and_fails_closed(shipped_bundle):
    policy = get_engine("regorus").compile(shipped_bundle, [DECISION])
    server = await OpaRestServer(policy).start()
    opa = await started(mode="opa", opa_url=server.url, fail_open_routes=["embeddings"])
    embedded = await started()
    try:
        assert (await opa.ready())[0]
        for kwargs in ({}, {"roles": ("user",)}, {"pii": [("CN_RESIDENT_ID", 1)]}, {"upstream": US}):
            a, b = make_ctx(**kwargs), make_ctx(**kwargs)
            ra = rb = None
            try:
                await opa.on_request(a)
            except Forbidden as exc:
                ra = exc.message
            try:
                await embedded.on_request(b)
            except Forbidden as exc:
                rb = exc.message
            assert ra == rb and a.policy.allow == b.policy.allow and a.body == b.body
        assert len(set(server.peers)) == 1  # one reused connection
        server.delay_s = 0.3
        slow = await started(mode="opa", opa_url=server.url, timeout_ms=50)
        with pytest.raises(Forbidden, match="did not answer"):
            await slow.on_request(make_ctx())
        await slow.shutdown()
    finally:
        await opa.shutdown()
        await server.stop()


async def test_opa_token_env_must_be_set(monkeypatch):
    monkeypatch.delenv("CG_TEST_OPA_TOKEN", raising=False)
    plugin = PolicyPlugin(PolicySettings(mode="opa", opa_token_env="CG_TEST_OPA_TOKEN"), None)
    with pytest.raises(ValueError, match="CG_TEST_OPA_TOKEN"):
        await plugin.startup()


async def test_opa_unreachable_is_503_unless_fail_open():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    plugin = await started(mode="opa", opa_url=f"http://127.0.0.1:{port}", fail_open_routes=["embeddings"])
    try:
        assert (await plugin.ready())[0] is False
        with pytest.raises(ServiceUnavailable) as exc:
            await plugin.on_request(make_ctx())
        assert exc.value.status == 503
        ctx = make_ctx(route="embeddings")
        await plugin.on_request(ctx)
        assert ctx.policy.fail_open and ctx.audit["policy"]["failure"] == "unavailable"
    finally:
        await plugin.shutdown()


async def test_reload_events_reach_the_hook(bundle_copy):
    plugin = await started(bundle_dir=bundle_copy, reload_interval_s=60)
    events = []
    plugin.on_reload_event = events.append
    data = bundle_copy / "gateway" / "data.json"
    data.write_text(
        data.read_text().replace(
            '"pii_rules": {',
            '"pii_rules": {\n    "CN_BANK_CARD": {"entitlement": "pci", "without": "remove"},',
        )
    )
    assert await plugin.watcher.poll() is None
    event = await plugin.watcher.poll()
    assert event["result"] == "accepted" and events == [event]
    assert plugin.revision == event["revision"] != event["previous_revision"]
    (bundle_copy / "gateway" / "models.rego").write_text("package gateway.authz\n\nallow if {\n")
    await plugin.watcher.poll()
    bad = await plugin.watcher.poll()
    assert bad["result"] == "rejected" and events[-1] is bad and plugin.revision == event["revision"]
    await plugin.on_request(make_ctx())  # still serving
    await plugin.shutdown()
