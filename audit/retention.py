"""Retention: prune old records and keep what remains verifiable.

Before anything is deleted the whole log is verified (pruning a damaged log
would hide the damage). The prune point P gets a signed checkpoint, and the
store keeps the anchor: the chain hash at P and the Merkle frontier of the
first P leaves. Verification later starts from that anchor, the root of later
checkpoints still covers the pruned records, and inclusion proofs for every
kept record still work. The prune is itself logged.
"""

from __future__ import annotations

from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from audit import checkpoint as cpmod
from audit.appender import Appender, Item
from audit.errors import VerificationError
from audit.record import utc_now
from audit.store import Pruned, Query
from audit.tree import CompactRange
from audit.verify import verify_store


def prune_before(app: Appender, public_key: Ed25519PublicKey, before: str) -> dict[str, Any]:
    store = app.store
    app.checkpoint()
    rep = verify_store(store, public_key)
    if not rep.ok:
        raise VerificationError(
            "the log does not verify; nothing was pruned. " + "; ".join(rep.problems[:3]), seq=rep.first_bad
        )
    old = store.pruned()
    start = old.size if old else 0
    first_kept = next(iter(store.rows(start=start, query=Query(since=before), batch=1)), None)
    size = first_kept.seq if first_kept is not None else store.head().size
    if size <= start:
        return {"pruned_records": 0, "anchor_size": start, "before": before}
    tree = CompactRange.from_bytes(old.size, old.frontier) if old else CompactRange()
    tree.extend(store.leaf_hashes(start, size))
    last = next(iter(store.rows(start=size - 1, end=size, batch=1)))
    time = utc_now()
    note = cpmod.sign(cpmod.Checkpoint(app.origin, size, tree.root(), last.chain, time), app.signing_key)
    with store.append_tx() as tx:
        tx.add_checkpoint(size, time, note)
    deleted = store.prune(Pruned(size, last.chain, tree.to_bytes()))
    seq = app.write(
        [
            Item(
                "audit.prune",
                {
                    "before": before,
                    "pruned_records": deleted,
                    "anchor_size": size,
                    "anchor_root": tree.root().hex(),
                },
            )
        ]
    )[0]
    app.checkpoint()
    return {
        "pruned_records": deleted,
        "anchor_size": size,
        "anchor_root": tree.root().hex(),
        "prune_record": seq,
        "before": before,
    }
