"""Per-call state between LiteLLM's pre_call and post_call: the PII session that issued pseudonyms.

Keyed by ``litellm_call_id`` and bound to the tenant and subject of the pre_call, so a
post_call from another caller cannot have someone else's pseudonyms restored. In memory,
bounded in size and time (the oldest call is dropped first). It holds real values: never
logged, never audited, and gone when the process ends.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any


@dataclass(slots=True)
class CallEntry:
    tenant: str
    subject: str
    pii: Any  # the PII plugin's PIIRequestState from the pre_call
    expires: float


class CallStore:
    def __init__(self, ttl_seconds: float, max_calls: int, clock: Any = time.monotonic) -> None:
        self.ttl = ttl_seconds
        self.max_calls = max_calls
        self._clock = clock
        self._calls: OrderedDict[str, CallEntry] = OrderedDict()

    def __len__(self) -> int:
        return len(self._calls)

    def put(self, call_id: str, tenant: str, subject: str, pii: Any) -> None:
        now = self._clock()
        self._expire(now)
        calls = self._calls
        calls.pop(call_id, None)
        calls[call_id] = CallEntry(tenant, subject, pii, now + self.ttl)
        while len(calls) > self.max_calls:
            calls.popitem(last=False)

    def get(self, call_id: str, tenant: str, subject: str) -> CallEntry | None:
        """The entry for this call and caller; None if unknown, expired or another caller's."""
        now = self._clock()
        self._expire(now)
        entry = self._calls.get(call_id)
        if entry is None or entry.tenant != tenant or entry.subject != subject:
            return None
        return entry

    def _expire(self, now: float) -> None:
        calls = self._calls
        while calls:
            key, entry = next(iter(calls.items()))
            if entry.expires > now:
                break
            del calls[key]
