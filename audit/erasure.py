"""GDPR Art. 17 erasure by crypto-shredding.

Deleting the subject's data key makes every sealed field of that subject
unreadable while the record bytes (and so every hash, proof and signature)
stay untouched. The erasure itself is logged, under the subject's pseudonymous
actor, and a checkpoint is signed over it.
"""

from __future__ import annotations

from typing import Any

from audit.appender import Appender, Item


def erase_subject(
    app: Appender, subject: str, *, reason: str = "data subject request (GDPR Art. 17)"
) -> dict[str, Any]:
    actor = app.subjects.actor(subject)
    destroyed = app.store.delete_data_keys(actor)
    app.subjects.forget(actor)
    seq = app.write(
        [
            Item(
                "audit.erasure",
                {"keys_destroyed": destroyed, "reason": reason, "method": "crypto-shredding"},
                subject=subject,
            )
        ]
    )[0]
    app.checkpoint()
    return {"actor": actor, "keys_destroyed": destroyed, "erasure_record": seq}
