"""The embedded decider: Rego evaluated in-process, with an atomic swap for hot reload.

Decisions run on the event-loop thread (a regorus engine must not cross
threads, and a decision costs tens to hundreds of microseconds, less than a
hop to a thread pool would). The engine cannot be interrupted mid-evaluation,
so the decision timeout is enforced after the fact: a decision that took
longer than the budget is discarded and the request is denied.

Validation (``validate``) is pure and thread-agnostic: it loads, compiles and
tests a bundle on whatever thread calls it and drops its engine there. The
serving copy is compiled separately, on the loop thread, from the very same
``Bundle`` object that passed its tests.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gateway.policy.bundle import Bundle, load_bundle
from gateway.policy.engines import CompiledPolicy, get_engine
from gateway.policy.errors import PolicyError, PolicyTimeout
from gateway.policy.testing import TestReport, run_tests


class BundleRejected(PolicyError):
    """The bundle loaded and compiled, but its own tests failed."""

    def __init__(self, message: str, report: TestReport | None = None) -> None:
        super().__init__(message)
        self.report = report


@dataclass(slots=True)
class Validated:
    bundle: Bundle
    report: TestReport | None


def validate(
    engine_name: str, bundle_dir: str | Path, decision_path: str, *, run_bundle_tests: bool = True
) -> Validated:
    """Load, compile and test a bundle; raise BundleError/PolicyCompileError/BundleRejected."""
    bundle = load_bundle(bundle_dir)
    policy = get_engine(engine_name).compile(bundle, [decision_path], include_tests=True)
    try:
        report = run_tests(policy) if run_bundle_tests else None
    finally:
        policy.close()
        del policy  # drop the engine on the thread that made it
    if report is not None and not report.ok:
        failed = [r.test.name for r in report.results if r.status != "pass"]
        shown = ", ".join(failed[:5]) + (" ..." if len(failed) > 5 else "")
        raise BundleRejected(f"{len(failed)} of {len(report.results)} bundle tests failed: {shown}", report)
    return Validated(bundle, report)


class EmbeddedDecider:
    mode = "embedded"

    def __init__(self, engine_name: str, decision_path: str, timeout_s: float) -> None:
        self.engine_name = engine_name
        self.decision_path = decision_path
        self.timeout_s = timeout_s
        self._policy: CompiledPolicy | None = None

    @property
    def revision(self) -> str | None:
        return self._policy.revision if self._policy is not None else None

    def activate(self, bundle: Bundle) -> None:
        """Compile the serving copy on this thread and swap it in (one reference assignment)."""
        policy = get_engine(self.engine_name).compile(bundle, [self.decision_path], include_tests=False)
        self._policy = policy

    async def decide(self, input_json: str) -> Any:
        policy = self._policy
        if policy is None:
            raise PolicyError("no policy bundle is loaded")
        t0 = time.perf_counter()
        value = policy.evaluate_json(self.decision_path, input_json)
        if time.perf_counter() - t0 > self.timeout_s:
            raise PolicyTimeout("policy decision exceeded its time budget")
        return value

    async def ready(self) -> tuple[bool, str]:
        if self._policy is None:
            return False, "no policy bundle loaded"
        return True, f"embedded {self.engine_name}, bundle {self._policy.revision}"

    async def close(self) -> None:
        self._policy = None
