"""The synchronous core that both writer APIs share: prepare entries, append them, checkpoint.

Preparation (actor hash, data keys, AES-GCM, canonical JSON) runs before the
store's write lock; only hashing into the chain and the Merkle frontier, the
insert and, every ``checkpoint_every`` records, signing a checkpoint run while
the lock is held. One call appends one batch in one transaction: that is the
group commit, and nothing is acknowledged before that transaction commits.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from audit import checkpoint as cpmod
from audit.hashing import CHAIN_PREFIX, LEAF_PREFIX
from audit.personal import SubjectCrypto
from audit.record import Entry, check_type, make_body, utc_now
from audit.store import Head, Store
from audit.store.base import RecordTuple
from audit.tree import CompactRange


@dataclass(frozen=True)
class Item:
    """One record as a caller hands it over, before anything is hashed or sealed."""

    type: str
    payload: dict[str, Any]
    tenant: str | None = None
    subject: str | None = None
    personal: dict[str, Any] | None = None

    def checked(self) -> Item:
        check_type(self.type)
        if not isinstance(self.payload, dict):
            raise ValueError("record payload must be a JSON object")
        if self.personal is not None and not isinstance(self.personal, dict):
            raise ValueError("personal data must be a JSON object")
        if self.personal and self.subject is None:
            raise ValueError("personal data needs a subject: it is encrypted with that subject's key")
        if self.tenant is not None and not isinstance(self.tenant, str):
            raise ValueError("tenant must be a string")
        if self.subject is not None and not isinstance(self.subject, str):
            raise ValueError("subject must be a string")
        return self


class Appender:
    def __init__(
        self,
        store: Store,
        signing_key: Ed25519PrivateKey,
        subjects: SubjectCrypto,
        checkpoint_every: int = 1000,
        key_store: Store | None = None,
    ) -> None:
        self.store = store
        # A second connection lets the async writer prepare one batch while the last one commits.
        self.key_store = key_store or store
        self.signing_key = signing_key
        self.subjects = subjects
        self.checkpoint_every = checkpoint_every
        self.origin = store.origin()

    # -- preparation (outside the write lock) --------------------------------------------
    def prepare(self, items: list[Item]) -> list[Entry | ValueError]:
        """One Entry per item, or the ValueError that keeps that one item out of the log."""
        s = self.subjects
        actors = [s.actor(i.subject) if i.subject is not None else None for i in items]
        need = sorted({a for a, i in zip(actors, items, strict=True) if i.personal and a is not None})
        keys = self._data_keys(need) if need else {}
        time = utc_now()
        out: list[Entry | ValueError] = []
        for item, actor in zip(items, actors, strict=True):
            sealed = None
            try:
                if item.personal and actor is not None:
                    kid, aead = keys[actor]
                    sealed = s.seal(actor, kid, aead, item.personal)
                body = make_body(time, item.type, actor, item.tenant, item.payload, sealed)
            except (ValueError, TypeError) as exc:  # this record cannot be written; the others can
                out.append(exc if isinstance(exc, ValueError) else ValueError(str(exc)))
                continue
            out.append(Entry(time, item.type, actor, item.tenant, body))
        return out

    def _data_keys(self, actors: list[str]) -> dict[str, tuple[str, Any]]:
        ks = self.key_store
        have = ks.data_keys(actors)
        missing = [a for a in actors if a not in have]
        if missing:
            ks.add_data_keys([(a, *self.subjects.new_data_key(a)) for a in missing])
            have.update(ks.data_keys(missing))  # another writer may have won the race
        return {a: (kid, self.subjects.unwrap(a, kid, wrapped)) for a, (kid, wrapped) in have.items()}

    # -- the locked part -----------------------------------------------------------------
    def commit(self, entries: list[Entry], *, force_checkpoint: bool = False) -> list[int]:
        with self.store.append_tx() as tx:
            head = tx.head()
            tree = CompactRange.from_bytes(head.size, head.frontier)
            chain = head.chain
            rows: list[RecordTuple] = []
            seq = head.size
            sha, append, add = hashlib.sha256, tree.append, rows.append  # the hot loop, under the lock
            for e in entries:
                body = e.body
                leaf = sha(LEAF_PREFIX + body).digest()
                chain = sha(CHAIN_PREFIX + chain + body).digest()
                append(leaf)
                add((seq, e.time, e.type, e.actor, e.tenant, body, leaf, chain))
                seq += 1
            if rows:
                tx.insert(rows)
            new = Head(tree.size, chain, tree.to_bytes(), head.checkpoint_size)
            due = tree.size - head.checkpoint_size >= self.checkpoint_every
            if (due or force_checkpoint) and tree.size > head.checkpoint_size:
                time = utc_now()
                note = cpmod.sign(
                    cpmod.Checkpoint(self.origin, tree.size, tree.root(), chain, time), self.signing_key
                )
                tx.add_checkpoint(tree.size, time, note)
                new.checkpoint_size = tree.size
            if rows or new.checkpoint_size != head.checkpoint_size:
                tx.set_head(new)
        return [r[0] for r in rows]

    def write(self, items: list[Item]) -> list[int]:
        """Append all items or none; a bad item raises ValueError before anything is written."""
        entries: list[Entry] = []
        for p in self.prepare(items):
            if isinstance(p, ValueError):
                raise p
            entries.append(p)
        return self.commit(entries)

    def checkpoint(self) -> int:
        """Sign a checkpoint at the current size (if none exists there yet); returns the size."""
        self.commit([], force_checkpoint=True)
        return self.store.head().size
