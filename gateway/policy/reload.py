"""Hot reload: poll the bundle's files, validate a changed bundle off the loop, swap atomically.

A change is acted on once the files have stopped changing for one poll (an
editor saving several files is not caught half-way). Validation (load,
compile, run the bundle's own tests) runs in a worker thread; only a bundle
that passes is compiled for serving and swapped in on the loop thread. A
rejected bundle leaves the old one serving; the rejection is logged, counted
(``cg_policy_bundle_reloads_total{result="rejected"}``) and handed to the
``on_event`` hook, which the gateway wires to the audit log.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from gateway.chain.errors import log_internal_error
from gateway.policy.bundle import signature
from gateway.policy.embedded import BundleRejected, EmbeddedDecider, validate
from gateway.policy.errors import PolicyError
from gateway.policy.metrics import RELOADS

log = logging.getLogger("gateway.policy.reload")

ReloadHook = Callable[[dict[str, Any]], None]


class BundleWatcher:
    def __init__(
        self,
        decider: EmbeddedDecider,
        bundle_dir: Path,
        *,
        interval_s: float,
        run_bundle_tests: bool = True,
        on_event: ReloadHook | None = None,
    ) -> None:
        self.decider = decider
        self.bundle_dir = Path(bundle_dir)
        self.interval_s = interval_s
        self.run_bundle_tests = run_bundle_tests
        self.on_event = on_event
        self._active_sig = signature(self.bundle_dir)
        self._last_seen = self._active_sig
        self._task: asyncio.Task[None] | None = None
        self.events: list[dict[str, Any]] = []  # the most recent events, newest last

    def start(self) -> None:
        if self._task is None and self.interval_s > 0:
            self._task = asyncio.get_running_loop().create_task(self._run(), name="policy-bundle-watcher")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
            self._task = None

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.interval_s)
            try:
                await self.poll()
            except Exception as exc:  # never let the watcher die: the old bundle keeps serving
                log_internal_error(log, "policy bundle watcher (retrying on the next poll)", exc)

    async def poll(self) -> dict[str, Any] | None:
        """One watcher step: returns the reload event when a stable change was acted on."""
        sig = signature(self.bundle_dir)
        if sig == self._active_sig:
            self._last_seen = sig
            return None
        if sig != self._last_seen:  # still changing: wait until it is stable for one poll
            self._last_seen = sig
            return None
        return await self.reload(sig)

    async def reload(self, sig: Any = None) -> dict[str, Any]:
        """Validate the bundle on disk now and swap it in if it passes."""
        sig = signature(self.bundle_dir) if sig is None else sig
        previous = self.decider.revision
        t0 = time.perf_counter()
        event: dict[str, Any] = {
            "type": "policy.bundle_reload",
            "bundle_dir": str(self.bundle_dir),
            "previous_revision": previous,
            "at": time.time(),
        }
        try:
            validated = await asyncio.to_thread(
                validate,
                self.decider.engine_name,
                self.bundle_dir,
                self.decider.decision_path,
                run_bundle_tests=self.run_bundle_tests,
            )
            self.decider.activate(validated.bundle)  # loop thread: compile serving copy, swap
        except PolicyError as exc:
            report = getattr(exc, "report", None)
            event.update(result="rejected", revision=previous, reason=f"{type(exc).__name__}: {exc}")
            if report is not None:
                event["tests"] = {"passed": report.passed, "failed": report.failed}
            RELOADS.labels(result="rejected").inc()
            log.error(
                "policy bundle in %s rejected, revision %s keeps serving: %s",
                self.bundle_dir,
                previous,
                event["reason"],
            )
        else:
            event.update(result="accepted", revision=self.decider.revision, reason="")
            if validated.report is not None:
                event["tests"] = {"passed": validated.report.passed, "failed": validated.report.failed}
            RELOADS.labels(result="accepted").inc()
            log.info("policy bundle %s now serving (was %s)", self.decider.revision, previous)
        event["duration_ms"] = round((time.perf_counter() - t0) * 1000, 3)
        self._active_sig = sig  # a rejected bundle is not retried until its files change again
        self._last_seen = sig
        self.events = (self.events + [event])[-20:]
        if self.on_event is not None:
            try:
                self.on_event(event)
            except Exception as exc:
                log_internal_error(log, "policy on_reload_event hook", exc)
        return event


__all__ = ["BundleRejected", "BundleWatcher", "ReloadHook"]
