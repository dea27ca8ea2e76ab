"""The synchronous writer: for CLIs, DP training runs and watermark verification.

Each ``append`` is its own durable transaction (no background thread to stop,
nothing lost if the process dies right after it returns). ``close`` signs a
checkpoint over everything appended, so a short-lived job leaves a verifiable
log behind.
"""

from __future__ import annotations

import os
from typing import Any

from audit.appender import Appender, Item
from audit.errors import AuditUnavailable
from audit.keys import load_signing_key, load_subject_key
from audit.personal import SubjectCrypto
from audit.store import open_store


def open_appender(
    url: str,
    *,
    signing_key_file: str | os.PathLike[str] | None = None,
    subject_key_file: str | os.PathLike[str] | None = None,
    checkpoint_every: int = 1000,
    separate_key_connection: bool = False,
) -> Appender:
    """Load the keys, open (and create) the store: the explicit start-up step of both writers."""
    if checkpoint_every <= 0:
        raise ValueError("checkpoint_every must be positive")
    signing = load_signing_key(signing_key_file)
    subjects = SubjectCrypto(load_subject_key(subject_key_file))
    store = open_store(url)
    store.open()
    key_store = None
    try:
        if separate_key_connection:
            key_store = open_store(url)
            key_store.open()
        return Appender(store, signing, subjects, checkpoint_every, key_store)
    except BaseException:
        store.close()
        if key_store is not None:
            key_store.close()
        raise


def close_appender(app: Appender) -> None:
    try:
        app.store.close()
    finally:
        if app.key_store is not app.store:
            app.key_store.close()


class AuditLog:
    """A synchronous handle on the log; use :func:`open_log` to get one."""

    def __init__(self, appender: Appender) -> None:
        self._appender: Appender | None = appender

    @property
    def appender(self) -> Appender:
        if self._appender is None:
            raise AuditUnavailable("audit log is closed")
        return self._appender

    def append(
        self,
        type: str,
        payload: dict[str, Any],
        *,
        tenant: str | None = None,
        subject: str | None = None,
        personal: dict[str, Any] | None = None,
    ) -> int:
        """Append one record durably; returns its sequence number."""
        return self.appender.write([Item(type, payload, tenant, subject, personal).checked()])[0]

    def append_many(self, items: list[Item]) -> list[int]:
        """Append several records in one transaction (one fsync)."""
        return self.appender.write([i.checked() for i in items])

    def checkpoint(self) -> int:
        return self.appender.checkpoint()

    def close(self) -> None:
        if self._appender is None:
            return
        app, self._appender = self._appender, None
        try:
            app.checkpoint()
        finally:
            app.store.close()

    def __enter__(self) -> AuditLog:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def open_log(
    url: str,
    *,
    signing_key_file: str | os.PathLike[str] | None = None,
    subject_key_file: str | os.PathLike[str] | None = None,
    queue_size: int = 10000,
    checkpoint_every: int = 1000,
) -> AuditLog:
    """Open the log at ``url`` (schema created on first use). ``queue_size`` is accepted for symmetry."""
    del queue_size
    return AuditLog(
        open_appender(
            url,
            signing_key_file=signing_key_file,
            subject_key_file=subject_key_file,
            checkpoint_every=checkpoint_every,
        )
    )
