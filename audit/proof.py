"""Inclusion and consistency proofs (RFC 6962 / RFC 9162 section 2.1).

Building a proof asks a :class:`NodeSource` for subtree hashes; this module never
touches a database. Verifying is pure: the functions take hashes and return
nothing, raising :class:`audit.errors.ProofError` on any mismatch, so a caller
cannot forget to check a boolean.
"""

from __future__ import annotations

from typing import Protocol

from audit.errors import ProofError
from audit.hashing import node_hash


class NodeSource(Protocol):
    def subtree(self, start: int, end: int) -> bytes: ...


def _split(n: int) -> int:
    """Largest power of two strictly below n (n >= 2)."""
    return 1 << ((n - 1).bit_length() - 1)


def inclusion_proof(index: int, size: int, nodes: NodeSource) -> list[bytes]:
    if not 0 <= index < size:
        raise ProofError(f"leaf {index} is not in a tree of size {size}")
    path: list[bytes] = []
    start, end, m = 0, size, index
    # Iterative form of PATH(m, D[start:end]); siblings are collected top-down, so reverse at the end.
    while end - start > 1:
        k = _split(end - start)
        if m < k:
            path.append(nodes.subtree(start + k, end))
            end = start + k
        else:
            path.append(nodes.subtree(start, start + k))
            start, m = start + k, m - k
    path.reverse()
    return path


def consistency_proof(old_size: int, new_size: int, nodes: NodeSource) -> list[bytes]:
    if not 0 <= old_size <= new_size:
        raise ProofError(f"no consistency proof from size {old_size} to {new_size}")
    if old_size == 0 or old_size == new_size:
        return []
    out: list[bytes] = []
    start, end, m, whole = 0, new_size, old_size, True
    while m != end - start:
        k = _split(end - start)
        if m <= k:
            out.append(nodes.subtree(start + k, end))
            end = start + k
        else:
            out.append(nodes.subtree(start, start + k))
            start, m, whole = start + k, m - k, False
    if not whole:
        out.append(nodes.subtree(start, end))
    out.reverse()
    return out


def verify_inclusion(index: int, size: int, leaf: bytes, proof: list[bytes], root: bytes) -> None:
    if not 0 <= index < size:
        raise ProofError(f"leaf {index} is not in a tree of size {size}", seq=index)
    fn, sn, r = index, size - 1, leaf
    for p in proof:
        if sn == 0:
            raise ProofError(f"inclusion proof for leaf {index} is too long", seq=index)
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            if not fn & 1:
                while not fn & 1 and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise ProofError(f"inclusion proof for leaf {index} is too short", seq=index)
    if r != root:
        raise ProofError(f"leaf {index} is not included under root {root.hex()[:16]}...", seq=index)


def verify_consistency(
    old_size: int, new_size: int, old_root: bytes, new_root: bytes, proof: list[bytes]
) -> None:
    if not 0 <= old_size <= new_size:
        raise ProofError(f"tree shrank from size {old_size} to {new_size}")
    if old_size == new_size:
        if proof:
            raise ProofError("consistency proof between equal sizes must be empty")
        if old_root != new_root:
            raise ProofError(f"two different roots for size {old_size}: the log forked")
        return
    if old_size == 0:
        if proof:
            raise ProofError("consistency proof from the empty tree must be empty")
        return
    if not proof:
        raise ProofError(f"empty consistency proof from size {old_size} to {new_size}")
    path = list(proof)
    if old_size & (old_size - 1) == 0:
        path.insert(0, old_root)
    fn, sn = old_size - 1, new_size - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            raise ProofError(f"consistency proof {old_size}->{new_size} is too long")
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            if not fn & 1:
                while not fn & 1 and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise ProofError(f"consistency proof {old_size}->{new_size} is too short")
    if fr != old_root:
        raise ProofError(
            f"the tree of size {new_size} does not extend the tree of size {old_size} (old root differs)"
        )
    if sr != new_root:
        raise ProofError(f"consistency proof {old_size}->{new_size} does not lead to the new root")
