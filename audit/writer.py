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
import functools
import logging
import os
from typing import Any

from audit.appender import Appender, Item
from audit.errors import AuditUnavailable
from audit.log import close_appender, open_appender
from audit.record import Entry

log = logging.getLogger("audit.writer")
_STOP = object()


class AuditWriter:
    def __init__(
        self,
        url: str,
        *,
        signing_key_file: str | os.PathLike[str] | None = None,
        subject_key_file: str | os.PathLike[str] | None = None,
        queue_size: int = 10000,
        checkpoint_every: int = 1000,
        max_batch: int = 1000,
        checkpoint_seconds: float = 60.0,
        linger_seconds: float = 0.0,
    ) -> None:
        if queue_size <= 0 or max_batch <= 0:
            raise ValueError("queue_size and max_batch must be positive")
        if linger_seconds < 0:
            raise ValueError("linger_seconds must not be negative")
        # After the first record of a batch arrives, wait this long for more: fewer, larger
        # transactions (one fsync each) when callers do not wait on the acknowledgement.
        self.linger_seconds = linger_seconds
        self.url = url
        self._open = functools.partial(
            open_appender,
            url,
            signing_key_file=signing_key_file,
            subject_key_file=subject_key_file,
            checkpoint_every=checkpoint_every,
            separate_key_connection=True,
        )
        self.queue_size = queue_size
        self.max_batch = max_batch
        self._appender: Appender | None = None
        self._queue: asyncio.Queue[Any] | None = None
        self._task: asyncio.Task[None] | None = None
        self._broken: str | None = None
        self._closing = False
        # A quiet log still gets its tail signed: at most this long after a write, a checkpoint covers it.
        self.checkpoint_seconds = checkpoint_seconds
        self._dirty = False
        self._ticker: asyncio.Task[None] | None = None

    # -- lifecycle -----------------------------------------------------------------------
    async def start(self) -> None:
        if self._task is not None:
            return
        self._appender = await asyncio.to_thread(self._open)
        await asyncio.to_thread(self._sign_tail)
        self._queue = asyncio.Queue(self.queue_size)
        self._task = asyncio.create_task(self._run(), name="audit-writer")
        self._task.add_done_callback(self._task_done)
        if self.checkpoint_seconds > 0:
            self._ticker = asyncio.create_task(self._tick(), name="audit-checkpoint-timer")

    async def _tick(self) -> None:
        assert self._appender is not None
        while not self._closing:
            await asyncio.sleep(self.checkpoint_seconds)
            if not self._dirty or self._broken is not None or self._closing:
                continue
            self._dirty = False
            try:
                await asyncio.to_thread(self._appender.checkpoint)
            except Exception as exc:  # the next write reports the store; do not kill the timer
                self._dirty = True
                log.error("audit: timed checkpoint failed: %s", exc)

    def _sign_tail(self) -> None:
        """Records a crash left after the last checkpoint are signed before anything new is written."""
        assert self._appender is not None
        head = self._appender.store.head()
        if head.size > head.checkpoint_size:
            size = self._appender.checkpoint()
            log.warning(
                "audit: signed %d records left unsigned by the last run (checkpoint at size %d)",
                head.size - head.checkpoint_size,
                size,
            )

    def _task_done(self, task: asyncio.Task[None]) -> None:
        """A crashed background task must not leave the writer looking healthy (fail closed)."""
        if task.cancelled() or task.exception() is None:
            return
        exc = task.exception()
        self._broken = f"audit writer task crashed: {type(exc).__name__}: {exc}"
        log.error("audit: %s", self._broken)
        while self._queue is not None and not self._queue.empty():
            got = self._queue.get_nowait()
            if got is not _STOP and not got[1].done():
                got[1].set_exception(AuditUnavailable(self._broken))

    async def aclose(self) -> None:
        if self._task is None or self._closing:
            return
        self._closing = True
        assert self._queue is not None and self._appender is not None
        if self._ticker is not None:
            self._ticker.cancel()
            try:
                await self._ticker
            except asyncio.CancelledError:
                pass
        if not self._task.done():
            await self._queue.put(_STOP)
            await self._task
        app = self._appender
        try:
            if self._broken is None:
                await asyncio.to_thread(app.checkpoint)
        except AuditUnavailable as exc:
            log.error("audit: final checkpoint failed: %s", exc)
        finally:
            await asyncio.to_thread(close_appender, app)

    async def __aenter__(self) -> AuditWriter:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    # -- state ---------------------------------------------------------------------------
    @property
    def healthy(self) -> bool:
        return (
            self._task is not None
            and not self._closing
            and self._broken is None
            and self._queue is not None
            and not self._queue.full()
        )

    @property
    def pending(self) -> int:
        return 0 if self._queue is None else self._queue.qsize()

    # -- writing -------------------------------------------------------------------------
    def submit(
        self,
        type: str,
        payload: dict[str, Any],
        *,
        tenant: str | None = None,
        subject: str | None = None,
        personal: dict[str, Any] | None = None,
    ) -> asyncio.Future[int]:
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

    async def append(
        self,
        type: str,
        payload: dict[str, Any],
        *,
        tenant: str | None = None,
        subject: str | None = None,
        personal: dict[str, Any] | None = None,
    ) -> int:
        return await self.submit(type, payload, tenant=tenant, subject=subject, personal=personal)

    async def check(self) -> None:
        if self._appender is None or self._closing:
            raise AuditUnavailable("audit writer is not running")
        if self._broken is not None:
            raise AuditUnavailable(f"audit store is failing: {self._broken}")
        await asyncio.to_thread(self._appender.store.ping)

    # -- the background task ---------------------------------------------------------------
    async def _take(self) -> tuple[list[tuple[Item, asyncio.Future[int]]], bool]:
        """Wait for one record, then take whatever else is queued (up to max_batch); True = stop after."""
        assert self._queue is not None
        q = self._queue
        first = await q.get()
        if first is _STOP:
            return [], True
        batch = [first]
        if self.linger_seconds and q.qsize() < self.max_batch - 1:
            await asyncio.sleep(self.linger_seconds)
        while len(batch) < self.max_batch and not q.empty():
            nxt = q.get_nowait()
            if nxt is _STOP:
                return batch, True
            batch.append(nxt)
        return batch, False

    def _fail(self, batch: list[tuple[Item, asyncio.Future[int]]], reason: str) -> None:
        err = AuditUnavailable(f"audit record not written: {reason}")
        for _, fut in batch:
            if not fut.done():
                fut.set_exception(err)

    async def _commit(self, batch: list[tuple[Item, asyncio.Future[int]]], prepared: list[Any]) -> bool:
        """Commit one prepared batch and resolve its futures the moment it is durable."""
        assert self._appender is not None
        good = [p for p in prepared if isinstance(p, Entry)]
        try:
            seqs = iter(await asyncio.to_thread(self._appender.commit, good) if good else [])
        except Exception as exc:
            reason = str(exc) if isinstance(exc, AuditUnavailable) else f"{type(exc).__name__}: {exc}"
            log.error("audit: write of %d records failed: %s", len(good), reason)
            self._broken = reason
            self._fail(batch, reason)
            await self._probe()
            return False
        self._dirty = self._dirty or bool(good)
        for (_, fut), p in zip(batch, prepared, strict=True):
            res = p if isinstance(p, ValueError) else next(seqs)
            if fut.done():
                continue
            if isinstance(res, ValueError):
                fut.set_exception(res)
            else:
                fut.set_result(res)
        return True

    async def _run(self) -> None:
        """Two stages: batch N+1 is prepared (hashing, sealing) while batch N commits."""
        assert self._appender is not None
        app = self._appender
        committing: asyncio.Task[bool] | None = None
        stop = False
        while not stop:
            batch, stop = await self._take()
            if not batch:
                break
            try:
                prepared = await asyncio.to_thread(app.prepare, [item for item, _ in batch])
                failure = None
            except Exception as exc:
                failure = str(exc) if isinstance(exc, AuditUnavailable) else f"{type(exc).__name__}: {exc}"
            if committing is not None:
                await committing  # commits stay in order; a failed one has probed until the store answers
                committing = None
            if failure is not None:
                log.error("audit: preparing %d records failed: %s", len(batch), failure)
                self._broken = failure
                self._fail(batch, failure)
                await self._probe()
            elif self._broken is not None:  # closing while the store is still failing
                self._fail(batch, self._broken)
            else:
                committing = asyncio.create_task(self._commit(batch, prepared))
        if committing is not None:
            await committing

    async def _probe(self) -> None:
        """After a failure: ping the store with growing pauses until it answers or the writer closes."""
        assert self._appender is not None
        delay = 0.1
        while not self._closing:
            await asyncio.sleep(delay)
            try:
                await asyncio.to_thread(self._appender.store.ping)
            except Exception as exc:
                self._broken = str(exc)
                delay = min(delay * 2, 5.0)
                continue
            self._broken = None
            log.warning("audit: store answers again; accepting writes")
            return


def open_writer(
    url: str,
    *,
    signing_key_file: str | os.PathLike[str] | None = None,
    subject_key_file: str | os.PathLike[str] | None = None,
    queue_size: int = 10000,
    checkpoint_every: int = 1000,
    checkpoint_seconds: float = 60.0,
    linger_seconds: float = 0.0,
) -> AuditWriter:
    """A writer for ``url``; nothing is opened until ``await writer.start()``."""
    return AuditWriter(
        url,
        signing_key_file=signing_key_file,
        subject_key_file=subject_key_file,
        queue_size=queue_size,
        checkpoint_every=checkpoint_every,
        checkpoint_seconds=checkpoint_seconds,
        linger_seconds=linger_seconds,
    )
