"""The asynchronous writer the gateway uses: bounded queue, group commit, fail closed.

``submit`` never blocks the event loop: it checks the record, puts it on a
bounded queue and returns a future. One background task takes whatever has
queued up (up to ``max_batch``), appends it in one transaction in a worker
thread, and resolves every future with its sequence number after the commit:
while one batch is being written, the next one gathers (group commit). A full
queue or a failed write makes ``healthy`` false and ``submit`` raise
:class:`AuditUnavailable`, so the gateway refuses requests rather than serving
them unaudited. After a failure the task probes the store with growing pauses
and takes writes again once the store answers.
"""

from __future__ import annotations

import asyncio
import logging
import os
from typing import Any

from audit.appender import Appender, Item
from audit.errors import AuditUnavailable
from audit.log import open_appender

log = logging.getLogger("audit.writer")
_STOP = object()


class AuditWriter:
    def __init__(self, url: str, *, signing_key_file: str | os.PathLike[str] | None = None,
                 subject_key_file: str | os.PathLike[str] | None = None, queue_size: int = 10000,
                 checkpoint_every: int = 1000, max_batch: int = 1000) -> None:
        if queue_size <= 0 or max_batch <= 0:
            raise ValueError("queue_size and max_batch must be positive")
        self.url = url
        self._opts = {"signing_key_file": signing_key_file, "subject_key_file": subject_key_file,
                      "checkpoint_every": checkpoint_every}
        self.queue_size = queue_size
        self.max_batch = max_batch
        self._appender: Appender | None = None
        self._queue: asyncio.Queue[Any] | None = None
        self._task: asyncio.Task[None] | None = None
        self._broken: str | None = None
        self._closing = False

    # -- lifecycle -----------------------------------------------------------------------
    async def start(self) -> None:
        if self._task is not None:
            return
        self._appender = await asyncio.to_thread(open_appender, self.url, **self._opts)
        self._queue = asyncio.Queue(self.queue_size)
        self._task = asyncio.create_task(self._run(), name="audit-writer")

    async def aclose(self) -> None:
        if self._task is None or self._closing:
            return
        self._closing = True
        assert self._queue is not None and self._appender is not None
        await self._queue.put(_STOP)
        await self._task
        app = self._appender
        try:
            if self._broken is None:
                await asyncio.to_thread(app.checkpoint)
        except AuditUnavailable as exc:
            log.error("audit: final checkpoint failed: %s", exc)
        finally:
            await asyncio.to_thread(app.store.close)

    async def __aenter__(self) -> AuditWriter:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    # -- state ---------------------------------------------------------------------------
    @property
    def healthy(self) -> bool:
        return (self._task is not None and not self._closing and self._broken is None
                and self._queue is not None and not self._queue.full())

    @property
    def pending(self) -> int:
        return 0 if self._queue is None else self._queue.qsize()

    # -- writing -------------------------------------------------------------------------
    def submit(self, type: str, payload: dict[str, Any], *, tenant: str | None = None,
               subject: str | None = None, personal: dict[str, Any] | None = None) -> asyncio.Future[int]:
        if self._queue is None or self._closing:
            raise AuditUnavailable("audit writer is not running")
        if self._broken is not None:
            raise AuditUnavailable(f"audit store is failing: {self._broken}")
        item = Item(type, payload, tenant, subject, personal).checked()
        fut: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        try:
            self._queue.put_nowait((item, fut))
        except asyncio.QueueFull:
            raise AuditUnavailable(f"audit queue is full ({self.queue_size} records waiting)") from None
        return fut

    async def append(self, type: str, payload: dict[str, Any], *, tenant: str | None = None,
                     subject: str | None = None, personal: dict[str, Any] | None = None) -> int:
        return await self.submit(type, payload, tenant=tenant, subject=subject, personal=personal)

    async def check(self) -> None:
        if self._appender is None or self._closing:
            raise AuditUnavailable("audit writer is not running")
        if self._broken is not None:
            raise AuditUnavailable(f"audit store is failing: {self._broken}")
        await asyncio.to_thread(self._appender.store.ping)

    # -- the background task ---------------------------------------------------------------
    async def _run(self) -> None:
        assert self._queue is not None and self._appender is not None
        q, app = self._queue, self._appender
        backoff = 0.1
        stop = False
        while not stop:
            first = await q.get()
            if first is _STOP:
                break
            batch = [first]
            while len(batch) < self.max_batch and not q.empty():
                nxt = q.get_nowait()
                if nxt is _STOP:
                    stop = True
                    break
                batch.append(nxt)
            try:
                results = await asyncio.to_thread(app.write_each, [item for item, _ in batch])
            except Exception as exc:
                reason = str(exc) if isinstance(exc, AuditUnavailable) else f"{type(exc).__name__}: {exc}"
                log.error("audit: write of %d records failed: %s", len(batch), reason)
                self._broken = reason
                err = AuditUnavailable(f"audit record not written: {reason}")
                for _, fut in batch:
                    if not fut.done():
                        fut.set_exception(err)
                stop = stop or await self._recover(backoff)
                backoff = min(backoff * 2, 5.0)
                continue
            backoff = 0.1
            for (_, fut), res in zip(batch, results, strict=True):
                if fut.done():
                    continue
                if isinstance(res, ValueError):
                    fut.set_exception(res)
                else:
                    fut.set_result(res)

    async def _recover(self, delay: float) -> bool:
        """Fail whatever is queued, then probe the store until it answers; True if asked to stop."""
        assert self._queue is not None and self._appender is not None
        stop = False
        while True:
            while not self._queue.empty():
                got = self._queue.get_nowait()
                if got is _STOP:
                    stop = True
                    continue
                if not got[1].done():
                    got[1].set_exception(AuditUnavailable(f"audit store is failing: {self._broken}"))
            if stop or self._closing:
                return True
            await asyncio.sleep(delay)
            try:
                await asyncio.to_thread(self._appender.store.ping)
            except Exception as exc:
                self._broken = str(exc)
                delay = min(delay * 2, 5.0)
                continue
            self._broken = None
            log.warning("audit: store answers again; accepting writes")
            return False


def open_writer(url: str, *, signing_key_file: str | os.PathLike[str] | None = None,
                subject_key_file: str | os.PathLike[str] | None = None, queue_size: int = 10000,
                checkpoint_every: int = 1000) -> AuditWriter:
    """A writer for ``url``; nothing is opened until ``await writer.start()``."""
    return AuditWriter(url, signing_key_file=signing_key_file, subject_key_file=subject_key_file,
                       queue_size=queue_size, checkpoint_every=checkpoint_every)
