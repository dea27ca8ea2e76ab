"""Hot reload: a good bundle swaps in, a bad one is rejected while the old one keeps serving."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from gateway.policy.decision import check_decision
from gateway.policy.embedded import EmbeddedDecider, validate
from gateway.policy.metrics import RELOADS
from gateway.policy.reload import BundleWatcher
from tests.policies.conftest import DECISION, allowed_input


def _touch_edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new))
    st = path.stat()  # make sure the mtime moves even on coarse clocks
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000_000))


@pytest.fixture
def served(bundle_copy):
    decider = EmbeddedDecider("regorus", DECISION, timeout_s=1.0)
    decider.activate(validate("regorus", bundle_copy, DECISION).bundle)
    events: list[dict] = []
    watcher = BundleWatcher(decider, bundle_copy, interval_s=0.01, on_event=events.append)
    return decider, watcher, events, bundle_copy


async def _allow(decider, doc) -> bool:
    return check_decision(await decider.decide(json.dumps(doc))).allow


def _count(result: str) -> float:
    return RELOADS.labels(result=result)._value.get()


async def _settle(watcher) -> dict | None:
    """Two polls: the first sees the change, the second acts once it is stable."""
    assert await watcher.poll() is None
    return await watcher.poll()


async def test_good_change_is_swapped_in(served):
    decider, watcher, events, root = served
    before_rev = decider.revision
    accepted = _count("accepted")
    researcher = allowed_input(roles=["researcher"], model="deepseek-r1")
    assert check_decision(await decider.decide(json.dumps(researcher))).obligations["max_tokens"] == 8192
    assert await _allow(decider, allowed_input(model="mistral-7b"))
    # Lower the researcher's cap (no bundle test pins it) and deny a model nobody's tests use.
    data = json.loads((root / "gateway/data.json").read_text())
    data["role_limits"]["researcher"]["max_tokens"] = 2048
    data["model_deny_list"]["mistral-*"] = "withdrawn"
    (root / "gateway/data.json").write_text(json.dumps(data))
    event = await _settle(watcher)
    assert event is not None and event["result"] == "accepted", event
    assert decider.revision != before_rev and event["previous_revision"] == before_rev
    assert event["tests"]["failed"] == 0 and event["tests"]["passed"] > 40
    assert check_decision(await decider.decide(json.dumps(researcher))).obligations["max_tokens"] == 2048
    assert not await _allow(decider, allowed_input(model="mistral-7b"))
    assert events == [event] and _count("accepted") == accepted + 1
    assert await watcher.poll() is None  # no change, no event


@pytest.mark.parametrize(
    "edit, reason",
    [
        (("models.rego", "not _plan_permits_model", "not _plan_permits_model +"), "PolicyCompileError"),
        (
            (
                "decision.rego",
                "allow if count(deny_reasons) == 0",
                "allow if count(deny_reasons) == 0\n\nallow if true",
            ),
            "BundleRejected",
        ),
        (("data.json", '"defaults": {', '"defaults": {{'), "BundleError"),
        # Division by zero reached only by chat requests: the bundle's tests hit it (errors).
        (
            (
                "limits.rego",
                "data.gateway.role_limits[r].max_tokens}",
                "data.gateway.role_limits[r].max_tokens / 0}",
            ),
            "BundleRejected",
        ),
    ],
    ids=["syntax-error", "fails-own-tests", "bad-data-json", "runtime-error"],
)
async def test_bad_change_is_rejected_and_old_bundle_keeps_serving(served, edit, reason):
    decider, watcher, events, root = served
    before_rev = decider.revision
    rejected = _count("rejected")
    file, old, new = edit
    _touch_edit(root / "gateway" / file, old, new)
    event = await _settle(watcher)
    assert event is not None and event["result"] == "rejected"
    assert event["reason"].startswith(reason), event["reason"]
    assert decider.revision == before_rev == event["revision"]
    assert _count("rejected") == rejected + 1
    assert events[-1] is event
    assert await _allow(decider, allowed_input())  # still serving the old bundle
    assert not await _allow(decider, allowed_input(roles=["user"]))
    # Not retried until the files change again; a fix is then accepted.
    assert await watcher.poll() is None
    _touch_edit(root / "gateway" / file, new, old)
    fixed = await _settle(watcher)
    assert fixed is not None and fixed["result"] == "accepted"


async def test_rejected_tests_are_named(served):
    decider, watcher, _, root = served
    _touch_edit(
        root / "gateway" / "data.json", '"analyst": {"max_tokens": 4096', '"analyst": {"max_tokens": 4000'
    )
    event = await _settle(watcher)
    assert event["result"] == "rejected"
    assert "test_cap_follows_the_role" in event["reason"]
    assert event["tests"]["failed"] >= 1


async def test_watcher_task_reloads_in_the_background(served):
    import asyncio

    decider, watcher, events, root = served
    watcher.start()
    try:
        _touch_edit(root / "gateway" / "data.json", '"reason": "evaluation', '"reason": "re-evaluation')
        for _ in range(200):
            if events:
                break
            await asyncio.sleep(0.02)
    finally:
        await watcher.stop()
    assert events and events[0]["result"] == "accepted"


async def test_hook_failure_does_not_break_reload(served):
    decider, watcher, _, root = served

    def broken(event):
        raise RuntimeError("audit down")

    watcher.on_event = broken
    _touch_edit(root / "gateway" / "data.json", '"reason": "evaluation', '"reason": "re-evaluation')
    event = await _settle(watcher)
    assert event["result"] == "accepted"
