"""Opening the audit writer for the gateway.

``sqlite:`` and ``postgresql:`` stores go to the audit package's writer (hash
chain, Merkle tree, signed checkpoints). ``jsonl:`` is a plain file for local
debugging only: no chain, no signatures, subject ids still hashed.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import os
from pathlib import Path
from typing import Any, Protocol

import orjson

from gateway.config import AuditSettings


class AuditUnavailableError(Exception):
    pass


class AuditSink(Protocol):
    """What the audit plugin needs of its writer: the audit package's ``AuditWriter`` (hash chain,
    signed checkpoints) and the plain ``JsonlAuditSink`` below both provide it."""

    @property
    def healthy(self) -> bool:
        """True while the sink accepts records (running, not failing, queue not full)."""
        ...

    async def start(self) -> None: ...

    async def check(self) -> None:
        """Raise if the sink cannot write (store unreachable, file not writable)."""
        ...

    def submit(
        self,
        type: str,
        payload: dict[str, Any],
        *,
        tenant: str | None = None,
        subject: str | None = None,
        personal: dict[str, Any] | None = None,
    ) -> asyncio.Future[int]:
        """Queue one record; the future resolves to its sequence number once it is durable."""
        ...

    async def aclose(self) -> None:
        """Flush what is queued and close."""
        ...


class JsonlAuditSink:
    """Appends one JSON line per event; fsyncs each batch before acknowledging it."""

    def __init__(self, path: Path, queue_size: int) -> None:
        self.path = path
        self._queue: asyncio.Queue[tuple[bytes, asyncio.Future[int]]] = asyncio.Queue(queue_size)
        self._task: asyncio.Task[None] | None = None
        self._seq = 0
        self._broken = False
        self._key = hashlib.sha256(b"cg-jsonl-subject|" + str(path.resolve()).encode()).digest()

    @property
    def healthy(self) -> bool:
        return not self._broken and not self._queue.full()

    async def start(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._fh = open(self.path, "ab")  # noqa: SIM115 - closed in aclose
        self._task = asyncio.create_task(self._run())

    async def check(self) -> None:
        if self._broken or not os.access(self.path, os.W_OK):
            raise AuditUnavailableError("audit file not writable")

    def submit(
        self,
        type: str,
        payload: dict[str, Any],
        *,
        tenant: str | None = None,
        subject: str | None = None,
        personal: dict[str, Any] | None = None,
    ) -> asyncio.Future[int]:
        if not self.healthy:
            raise AuditUnavailableError("audit queue full or store broken")
        actor = hmac.new(self._key, subject.encode(), "sha256").hexdigest()[:32] if subject else None
        record = {"type": type, "tenant": tenant, "actor": actor, "payload": payload}
        fut: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        self._queue.put_nowait((orjson.dumps(record) + b"\n", fut))
        return fut

    async def _run(self) -> None:
        while True:
            batch = [await self._queue.get()]
            while not self._queue.empty():
                batch.append(self._queue.get_nowait())
            try:
                await asyncio.to_thread(self._write, b"".join(line for line, _ in batch))
            except (OSError, ValueError):  # disk full, file gone or closed under us
                self._broken = True
                for _, fut in batch:
                    if not fut.done():
                        fut.set_exception(AuditUnavailableError("audit write failed"))
                continue
            for _, fut in batch:
                self._seq += 1
                if not fut.done():
                    fut.set_result(self._seq)

    def _write(self, data: bytes) -> None:
        self._fh.write(data)
        self._fh.flush()
        os.fsync(self._fh.fileno())

    async def aclose(self) -> None:
        while not self._queue.empty():
            await asyncio.sleep(0.01)
        if self._task:
            self._task.cancel()
        self._fh.close()


def open_audit_writer(settings: AuditSettings) -> AuditSink:
    url = settings.store
    if url.startswith("jsonl://"):
        return JsonlAuditSink(Path(url[len("jsonl://") :]), settings.queue_size)
    from audit.writer import open_writer

    return open_writer(
        url,
        signing_key_file=str(settings.signing_key_file) if settings.signing_key_file else None,
        subject_key_file=str(settings.subject_key_file) if settings.subject_key_file else None,
        queue_size=settings.queue_size,
        checkpoint_every=settings.checkpoint_every,
        checkpoint_seconds=settings.checkpoint_seconds,
        linger_seconds=settings.linger_ms / 1000,
    )
