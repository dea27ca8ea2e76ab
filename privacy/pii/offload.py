"""Analysis off the event loop: ``AsyncPIIAnalyzer``, the engine API the gateway plugin awaits.

Why a process and not chunks or a thread: one spaCy NER call on a 1 KB prompt costs a few
milliseconds and cannot be split below its fixed cost, and a thread shares the GIL with the
event loop (the loop waits up to the switch interval, longer while a C extension holds it).
A worker process holding its own ``PIIEngine`` is the only way to *guarantee* that the loop
is never held longer than the pickling of the texts (microseconds per KB): measured by
``bench/pii_bench.py`` (largest gap of a 1 ms heartbeat task while requests are analysed).

- Results are cached in the parent per (tenant, BLAKE2 digest) like ``PIIEngine``'s cache, so
  a chat client resending its history costs no round trip for the old messages.
- ``mode="inline"`` analyses on the loop thread (tests, tiny deployments); ``"thread"`` in a
  worker thread; ``"process"`` (the default) in worker processes started with ``spawn`` (no
  fork of a running event loop). Start-up loads the models in each worker once.
- Errors in the worker come back as exceptions (fail closed in the caller); a dead worker
  raises ``BrokenProcessPool`` and the analyzer restarts the pool on the next call.
"""

from __future__ import annotations

import asyncio
import concurrent.futures as cf
import hashlib
import multiprocessing as mp
import threading
from collections import OrderedDict
from collections.abc import Sequence
from functools import partial
from typing import Literal

from privacy.pii.engine import CACHE_MAX_TEXT, PIIEngine, TextTooLarge
from privacy.pii.findings import Finding
from privacy.pii.settings import PIISettings

Mode = Literal["process", "thread", "inline"]

_WORKER: PIIEngine | None = None


def _init_worker(settings_json: str) -> None:
    global _WORKER
    _WORKER = PIIEngine(
        PIISettings.model_validate_json(settings_json).model_copy(update={"cache_entries": 0})
    )
    _WORKER.start()


def _work(texts: list[str], tenant: str | None) -> list[list[Finding]]:
    assert _WORKER is not None, "worker not initialised"
    return _WORKER.analyze_many(texts, tenant, cache=False)


def _ready() -> bool:
    return _WORKER is not None and _WORKER.started


class AsyncPIIAnalyzer:
    """``await analyzer.analyze_many(texts, tenant)``: findings per text, analysed off the loop."""

    def __init__(self, settings: PIISettings, mode: Mode = "process", workers: int = 1) -> None:
        self.settings = settings
        self.mode = mode
        self.workers = workers
        self._pool: cf.Executor | None = None
        self._engine: PIIEngine | None = None  # inline/thread modes
        self._cache: OrderedDict[bytes, tuple[Finding, ...]] = OrderedDict()
        self._lock = threading.Lock()
        self._broken = False

    def start(self) -> None:
        """Start the workers and wait until each has loaded its models (start-up, not per request)."""
        if self.mode == "process":
            ctx = mp.get_context("spawn")
            self._pool = cf.ProcessPoolExecutor(
                self.workers,
                mp_context=ctx,
                initializer=_init_worker,
                initargs=(self.settings.model_dump_json(),),
            )
            for f in [self._pool.submit(_ready) for _ in range(self.workers)]:
                if not f.result():
                    raise RuntimeError("PII worker failed to start")
        else:
            self._engine = PIIEngine(self.settings.model_copy(update={"cache_entries": 0}))
            self._engine.start()
            if self.mode == "thread":
                self._pool = cf.ThreadPoolExecutor(self.workers, thread_name_prefix="pii")

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None

    def _key(self, text: str, tenant: str | None) -> bytes | None:
        if self.settings.cache_entries <= 0 or len(text) > CACHE_MAX_TEXT:
            return None
        return (
            hashlib.blake2b(
                text.encode("utf-8", "surrogatepass"), digest_size=16, person=b"cg-pii-cache"
            ).digest()
            + (tenant or "*").encode()
        )

    async def analyze_many(self, texts: Sequence[str], tenant: str | None = None) -> list[list[Finding]]:
        total = sum(len(t) for t in texts)
        if total > self.settings.max_chars:
            raise TextTooLarge(
                f"text of {total} characters is over the PII limit of {self.settings.max_chars}"
            )
        out: list[list[Finding] | None] = [None] * len(texts)
        keys = [self._key(t, tenant) for t in texts]
        todo: list[int] = []
        with self._lock:
            for i, k in enumerate(keys):
                hit = self._cache.get(k) if k is not None else None
                if hit is not None:
                    self._cache.move_to_end(k)  # type: ignore[arg-type]
                    out[i] = list(hit)
                else:
                    todo.append(i)
        if todo:
            batch = [texts[i] for i in todo]
            fresh = await self._run(batch, tenant)
            with self._lock:
                for i, found in zip(todo, fresh, strict=True):
                    out[i] = found
                    k = keys[i]
                    if k is not None:
                        self._cache[k] = tuple(found)
                        if len(self._cache) > self.settings.cache_entries:
                            self._cache.popitem(last=False)
        return out  # type: ignore[return-value]

    async def _run(self, texts: list[str], tenant: str | None) -> list[list[Finding]]:
        if self.mode == "inline":
            assert self._engine is not None, "start() was not called"
            return self._engine.analyze_many(texts, tenant, cache=False)
        if self._pool is None and self.mode == "process" and self._broken:
            self._broken = False
            await asyncio.to_thread(self.start)  # after a worker died: a fresh pool, off the loop
        if self._pool is None:
            raise RuntimeError("AsyncPIIAnalyzer.start() was not called")
        loop = asyncio.get_running_loop()
        if self.mode == "thread":
            assert self._engine is not None
            return await loop.run_in_executor(
                self._pool, partial(self._engine.analyze_many, texts, tenant, cache=False)
            )
        try:
            return await loop.run_in_executor(self._pool, _work, texts, tenant)
        except cf.process.BrokenProcessPool:
            pool, self._pool, self._broken = self._pool, None, True
            pool.shutdown(wait=False, cancel_futures=True)
            raise  # this request fails closed; the next one starts a fresh worker
