"""Every error the audit package raises, in one place.

    AuditError
    +-- AuditUnavailable     the store cannot accept or serve writes (gateway fails closed)
    +-- StoreError           bad store URL, schema or contents that a command cannot use
    +-- KeyFileError         a signing or subject key file is missing, unreadable or malformed
    +-- VerificationError    the log, a proof or a checkpoint does not verify
        +-- ProofError       an inclusion or consistency proof does not match
        +-- CheckpointError  a checkpoint note is malformed or its signature is wrong

Messages never carry raw subject ids or personal data: only sequence numbers,
sizes, hashes and keyed-hash actors.
"""

from __future__ import annotations


class AuditError(Exception):
    """Base class of every audit error."""


class AuditUnavailable(AuditError):
    """The audit store cannot take the write now; callers refuse the request (fail closed)."""


class StoreError(AuditError):
    """The store URL or the store's contents cannot be used."""


class KeyFileError(AuditError):
    """A key file is missing, unreadable or not the expected format."""


class VerificationError(AuditError):
    """Something does not verify; ``seq`` names the first bad record when known."""

    def __init__(self, message: str, *, seq: int | None = None) -> None:
        super().__init__(message)
        self.seq = seq


class ProofError(VerificationError):
    """An inclusion or consistency proof does not match the expected root."""


class CheckpointError(VerificationError):
    """A checkpoint note is malformed, from another log, or badly signed."""
