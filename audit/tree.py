"""Merkle tree state: the compact range kept while appending, and an in-memory tree for proofs.

A log of size n is, in RFC 6962's shape, a row of perfect subtrees whose sizes
are the binary digits of n (the "frontier" or compact range). Appending needs
only that row: O(log n) memory, so every writer stores it next to the chain
head and never rereads old leaves. Proofs need interior nodes;
:class:`MemoryTree` computes them once from the leaf hashes a store hands over.
After pruning, the leaves before the prune point are gone; their frontier
stands in for them, which is enough for every proof about later records.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence

from audit.errors import ProofError
from audit.hashing import HASH_SIZE, node_hash

EMPTY_ROOT = hashlib.sha256(b"").digest()


def frontier_shape(size: int) -> list[tuple[int, int]]:
    """(start, height) of each perfect subtree in the compact range of ``size`` leaves, left to right."""
    out = []
    start = 0
    for h in range(size.bit_length() - 1, -1, -1):
        if size >> h & 1:
            out.append((start, h))
            start += 1 << h
    return out


class CompactRange:
    """The frontier of a growing tree: append leaves, read the root, serialise to bytes."""

    __slots__ = ("size", "_hashes")

    def __init__(self, size: int = 0, hashes: Sequence[bytes] = ()) -> None:
        if len(hashes) != bin(size).count("1"):
            raise ValueError(
                f"a compact range of size {size} holds {bin(size).count('1')} hashes, got {len(hashes)}"
            )
        self.size = size
        self._hashes = list(hashes)

    @classmethod
    def from_bytes(cls, size: int, blob: bytes) -> CompactRange:
        if len(blob) % HASH_SIZE:
            raise ValueError("frontier blob is not a whole number of hashes")
        return cls(size, [bytes(blob[i : i + HASH_SIZE]) for i in range(0, len(blob), HASH_SIZE)])

    def to_bytes(self) -> bytes:
        return b"".join(self._hashes)

    def copy(self) -> CompactRange:
        return CompactRange(self.size, self._hashes)

    @property
    def hashes(self) -> list[bytes]:
        return list(self._hashes)

    def append(self, leaf: bytes) -> None:
        hashes = self._hashes
        hashes.append(leaf)
        size = self.size
        # Merge while the new subtree has a left sibling of the same height (trailing one bits of size).
        while size & 1:
            right = hashes.pop()
            hashes[-1] = node_hash(hashes[-1], right)
            size >>= 1
        self.size += 1

    def extend(self, leaves: Iterable[bytes]) -> None:
        for leaf in leaves:
            self.append(leaf)

    def root(self) -> bytes:
        if not self._hashes:
            return EMPTY_ROOT
        it = reversed(self._hashes)
        r = next(it)
        for h in it:
            r = node_hash(h, r)
        return r


class MemoryTree:
    """Every node of a tree built from leaf hashes (optionally above a pruned prefix).

    ``base`` is the compact range of the pruned prefix: its subtrees stand in for
    the leaves that are no longer stored. A node that lies strictly inside one of
    them cannot be produced; asking for it raises :class:`ProofError`.
    """

    def __init__(self, leaves: Sequence[bytes], base: CompactRange | None = None) -> None:
        base = base or CompactRange()
        self.offset = base.size
        self.size = base.size + len(leaves)
        level: list[bytes | None] = [None] * base.size + list(leaves)
        known = {
            (start, h): hsh for (start, h), hsh in zip(frontier_shape(base.size), base.hashes, strict=True)
        }
        for (start, h), hsh in known.items():
            if h == 0:
                level[start] = hsh
        self.levels: list[list[bytes | None]] = [level]
        h = 0
        while len(level) > 1:
            h += 1
            nxt: list[bytes | None] = []
            for i in range(len(level) // 2):
                pre = known.get((i << h, h))
                if pre is not None:
                    nxt.append(pre)
                    continue
                a, b = level[2 * i], level[2 * i + 1]
                nxt.append(node_hash(a, b) if a is not None and b is not None else None)
            self.levels.append(nxt)
            level = nxt

    def leaf(self, index: int) -> bytes:
        return self.subtree(index, index + 1)

    def subtree(self, start: int, end: int) -> bytes:
        """MTH(D[start:end]) as RFC 6962 defines it (left part always a perfect aligned subtree)."""
        n = end - start
        if n <= 0 or end > self.size:
            raise ProofError(f"no subtree [{start}, {end}) in a tree of size {self.size}")
        if n & (n - 1) == 0 and start % n == 0:
            h = n.bit_length() - 1
            got = self.levels[h][start >> h]
            if got is None:
                raise ProofError(f"subtree [{start}, {end}) lies in the pruned part of the log")
            return got
        k = 1 << ((n - 1).bit_length() - 1)
        return node_hash(self.subtree(start, start + k), self.subtree(start + k, end))

    def root(self, size: int | None = None) -> bytes:
        size = self.size if size is None else size
        return EMPTY_ROOT if size == 0 else self.subtree(0, size)
