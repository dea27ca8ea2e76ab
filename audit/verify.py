"""Offline verification of a store or an export, given only the public key.

For a store: every checkpoint signature; then, record by record, that the
sequence has no gap, that each record's bytes give its stored leaf and chain
hashes, that the indexed columns agree with the signed bytes, and that the
Merkle root and chain head recomputed from the records equal every signed
checkpoint (which also proves each checkpoint consistent with the earlier
ones: they are all roots of one sequence of leaves). Verification stops at the
first bad record and names it. Records after the last checkpoint are checked
but not yet signed: they are reported as the unsigned tail.

For an export: the checkpoint signature and each record's inclusion proof.
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from audit import checkpoint as cpmod
from audit.errors import CheckpointError, ProofError, StoreError
from audit.hashing import CHAIN_PREFIX, GENESIS, LEAF_PREFIX, leaf_hash
from audit.proof import verify_consistency, verify_inclusion
from audit.record import parse_body
from audit.store import Store
from audit.tree import CompactRange


@dataclass
class Report:
    source: str
    ok: bool = True
    records: int = 0
    size: int = 0
    checkpoints: int = 0
    signed_size: int = 0
    unsigned_tail: int = 0
    pruned_before: int = 0
    first_bad: int | None = None
    problems: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def fail(self, message: str, seq: int | None = None) -> None:
        self.ok = False
        if seq is not None and self.first_bad is None:
            self.first_bad = seq
        self.problems.append(message)

    @property
    def status(self) -> str:
        """ "ok", "unsigned" (verified, but a tail is not yet covered by a signed checkpoint), "failed"."""
        if not self.ok:
            return "failed"
        return "unsigned" if self.unsigned_tail else "ok"

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["status"] = self.status
        d["us_per_record"] = round(self.seconds / self.records * 1e6, 3) if self.records else None
        return d

    def text(self) -> str:
        lines = [
            f"audit verify: {self.source}",
            f"  records checked   {self.records} (log size {self.size}"
            + (f", pruned before {self.pruned_before})" if self.pruned_before else ")"),
            f"  checkpoints       {self.checkpoints} verified, signed up to size {self.signed_size}",
        ]
        if self.unsigned_tail:
            lines.append(f"  unsigned tail     {self.unsigned_tail} records after the last checkpoint")
        lines.append(f"  time              {self.seconds:.2f} s")
        if self.ok and self.unsigned_tail:
            lines.append(
                f"  warning           {self.unsigned_tail} records are not yet signed (intact, but no "
                "signed checkpoint covers them yet; the writer signs them at its next checkpoint or start)"
            )
            lines.append("  result            OK, NOT YET SIGNED")
        elif self.ok:
            lines.append("  result            OK")
        else:
            if self.first_bad is not None:
                lines.append(f"  first bad record  {self.first_bad}")
            lines.extend(f"  problem           {p}" for p in self.problems)
            lines.append("  result            FAILED")
        return "\n".join(lines)


def _progress(total: int, enabled: bool) -> Any:  # a tqdm bar (tqdm ships no type annotations)
    from tqdm import tqdm

    return tqdm(total=total, unit="rec", disable=not enabled, mininterval=0.5, leave=False)


def verify_store(store: Store, public_key: Ed25519PublicKey, *, progress: bool = False) -> Report:
    started = time.perf_counter()
    rep = Report(source=getattr(store, "display", store.url))
    origin = store.origin()
    # Checkpoints first, then the head: with writers still appending, every checkpoint read is then
    # within the head read, and the records up to that head are fixed.
    stored = store.checkpoints()
    head = store.head()
    rep.size = head.size

    # 1. Signatures of every checkpoint.
    signed: dict[int, cpmod.Checkpoint] = {}
    for size, note in stored:
        try:
            cp = cpmod.verify(note, public_key, origin=origin)
        except CheckpointError as exc:
            rep.fail(f"checkpoint at size {size}: {exc}", seq=max(size - 1, 0))
            continue
        if cp.size != size:
            rep.fail(f"checkpoint stored at size {size} signs size {cp.size}", seq=max(size - 1, 0))
            continue
        signed[size] = cp
    rep.checkpoints = len(signed)

    # 2. The pruned prefix, if any, is anchored by a signed checkpoint at its size.
    pruned = store.pruned()
    tree, chain, expected = CompactRange(), GENESIS, 0
    if pruned is not None:
        rep.pruned_before = pruned.size
        tree = CompactRange.from_bytes(pruned.size, pruned.frontier)
        chain, expected = pruned.chain, pruned.size
        anchor = signed.get(pruned.size)
        if anchor is None:
            rep.fail(f"no valid signed checkpoint at the prune point {pruned.size}", seq=pruned.size)
        elif anchor.root != tree.root() or anchor.chain != chain:
            rep.fail(f"the prune anchor does not match the checkpoint at size {pruned.size}", seq=pruned.size)
    last_good_cp = expected

    # 3. Records, in order.
    bar = _progress(head.size - expected, progress)
    stopped = False
    sha = hashlib.sha256
    append = tree.append
    try:
        for seq, rtime, rtype, ractor, rtenant, body, sleaf, schain in store.scan(expected, head.size):
            if seq != expected:
                rep.fail(f"record {expected} is missing (the next stored record is {seq})", seq=expected)
                stopped = True
                break
            if type(body) is not bytes:  # a column retyped behind the log's back
                body = str(body).encode() if not isinstance(body, bytearray | memoryview) else bytes(body)
            leaf = sha(LEAF_PREFIX + body).digest()
            ch = sha(CHAIN_PREFIX + chain + body).digest()
            if ch != schain or leaf != sleaf:
                rep.fail(
                    f"record {seq}: its bytes do not give its stored hash (altered, reordered or replaced)",
                    seq=seq,
                )
                stopped = True
                break
            try:
                doc = parse_body(body)
            except StoreError as exc:
                rep.fail(f"record {seq}: {exc}", seq=seq)
                stopped = True
                break
            if (
                doc.get("time") != rtime
                or doc.get("type") != rtype
                or doc.get("actor") != ractor
                or doc.get("tenant") != rtenant
            ):
                rep.fail(f"record {seq}: an indexed column differs from the signed record", seq=seq)
                stopped = True
                break
            append(leaf)
            chain = ch
            expected += 1
            rep.records += 1
            due = signed.get(expected)
            if due is not None:
                if due.root != tree.root() or due.chain != chain:
                    rep.fail(
                        f"records {last_good_cp}..{expected - 1} do not match the signed checkpoint at size "
                        f"{expected} (a record was altered and rehashed, or the log forked)",
                        seq=last_good_cp,
                    )
                    stopped = True
                    break
                last_good_cp = expected
                rep.signed_size = expected
            if rep.records % 4096 == 0:
                bar.update(4096)
    finally:
        bar.close()

    # 4. The tail: nothing signed or counted may be missing at the end.
    if not stopped:
        if expected != head.size or chain != head.chain:
            rep.fail(
                f"the log head says {head.size} records but {expected} follow each other "
                "(records removed at the end?)",
                seq=expected,
            )
        beyond = [s for s in signed if s > expected]
        if beyond:
            rep.fail(
                f"a checkpoint signs size {max(beyond)} but the log ends at {expected} "
                "(records removed at the end)",
                seq=expected,
            )
    if not signed and stored and expected:
        rep.fail("no valid signed checkpoint: every stored checkpoint failed to verify")
    rep.unsigned_tail = max(0, expected - max(signed, default=0)) if not stopped else 0
    rep.seconds = time.perf_counter() - started
    return rep


def verify_export_records(
    header: dict[str, Any],
    note: str | None,
    records: list[dict[str, Any]],
    public_key: Ed25519PublicKey,
    source: str,
) -> Report:
    """Check an export's checkpoint and every record's inclusion proof."""
    started = time.perf_counter()
    rep = Report(source=source)
    if note is None:
        rep.fail("the export carries no checkpoint")
        return rep
    try:
        cp = cpmod.verify(note, public_key, origin=header.get("origin"))
    except CheckpointError as exc:
        rep.fail(f"export checkpoint: {exc}")
        return rep
    rep.checkpoints = 1
    rep.size = rep.signed_size = cp.size
    cons = header.get("consistency")
    if cons is not None:
        try:
            old = cpmod.verify(cons["note"], public_key, origin=header.get("origin"))
            verify_consistency(
                old.size, cp.size, old.root, cp.root, [bytes.fromhex(h) for h in cons["proof"]]
            )
        except (CheckpointError, ProofError, ValueError, KeyError, TypeError) as exc:
            rep.fail(f"consistency with the earlier checkpoint: {exc}")
        else:
            rep.checkpoints = 2
    for rec in records:
        seq = rec.get("seq")
        if not isinstance(seq, int):
            rep.fail("a record has no sequence number")
            continue
        try:
            body = rec["body"].encode() if isinstance(rec.get("body"), str) else None
            proof = [bytes.fromhex(p) for p in rec.get("proof") or []]
            if body is None or rec.get("proof") is None:
                raise ProofError(f"record {seq} has no body or no proof", seq=seq)
            verify_inclusion(seq, cp.size, leaf_hash(body), proof, cp.root)
            _check_view(seq, body, rec.get("view"))
        except (ProofError, ValueError, StoreError) as exc:
            rep.fail(f"record {seq}: {exc}", seq=seq)
            continue
        rep.records += 1
    rep.seconds = time.perf_counter() - started
    return rep


_VIEW_KEYS = ("time", "type", "actor", "tenant", "payload")


def _check_view(seq: int, body: bytes, view: dict[str, Any] | None) -> None:
    """The readable copy of a record (jsonl ``view``, csv columns) must say what the signed bytes say."""
    if view is None:
        return
    doc = parse_body(body)
    for k in _VIEW_KEYS:
        if k in view and (view[k] or None) != (doc.get(k) or None):
            raise ProofError(f"record {seq}: the readable '{k}' differs from the signed record", seq=seq)


def verify_export(path: str | Path, public_key: Ed25519PublicKey) -> Report:
    from audit.export import read_export

    header, note, records = read_export(Path(path))
    return verify_export_records(header, note, records, public_key, str(path))
