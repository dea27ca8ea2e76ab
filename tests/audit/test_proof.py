import hashlib

import pytest

from audit.errors import ProofError
from audit.hashing import leaf_hash, node_hash
from audit.proof import consistency_proof, inclusion_proof, verify_consistency, verify_inclusion
from audit.tree import CompactRange, MemoryTree


def mth(leaves: list[bytes]) -> bytes:
    """RFC 6962 section 2.1, written straight from the definition."""
    if not leaves:
        return hashlib.sha256(b"").digest()
    if len(leaves) == 1:
        return leaves[0]
    k = 1
    while k * 2 < len(leaves):
        k *= 2
    return node_hash(mth(leaves[:k]), mth(leaves[k:]))


LEAVES = [leaf_hash(f"record {i}".encode()) for i in range(37)]
TREE = MemoryTree(LEAVES)


def test_compact_range_root_matches_definition_and_round_trips() -> None:
    cr = CompactRange()
    for n in range(len(LEAVES) + 1):
        assert cr.root() == mth(LEAVES[:n])
        again = CompactRange.from_bytes(cr.size, cr.to_bytes())
        assert again.root() == cr.root()
        if n < len(LEAVES):
            cr.append(LEAVES[n])


@pytest.mark.parametrize("size", [1, 2, 3, 7, 8, 9, 16, 31, 37])
def test_inclusion_proofs_verify_for_every_leaf(size: int) -> None:
    root = mth(LEAVES[:size])
    assert TREE.root(size) == root
    for i in range(size):
        verify_inclusion(i, size, LEAVES[i], inclusion_proof(i, size, TREE), root)


@pytest.mark.parametrize("new", [1, 2, 5, 8, 13, 32, 37])
def test_consistency_proofs_verify_for_every_older_size(new: int) -> None:
    for old in range(0, new + 1):
        verify_consistency(old, new, mth(LEAVES[:old]), mth(LEAVES[:new]), consistency_proof(old, new, TREE))


def test_a_wrong_leaf_index_or_node_fails_inclusion() -> None:
    size, root = 21, mth(LEAVES[:21])
    proof = inclusion_proof(6, size, TREE)
    with pytest.raises(ProofError):
        verify_inclusion(6, size, LEAVES[7], proof, root)
    with pytest.raises(ProofError):
        verify_inclusion(7, size, LEAVES[6], proof, root)
    bad = list(proof)
    bad[1] = bytes(32)
    with pytest.raises(ProofError):
        verify_inclusion(6, size, LEAVES[6], bad, root)
    with pytest.raises(ProofError):
        verify_inclusion(6, size, LEAVES[6], proof[:-1], root)


def test_a_forked_history_fails_consistency() -> None:
    forked = list(LEAVES[:20])
    forked[3] = leaf_hash(b"rewritten")
    proof = consistency_proof(10, 20, MemoryTree(forked))
    with pytest.raises(ProofError):
        verify_consistency(10, 20, mth(LEAVES[:10]), mth(forked[:20]), proof)
    with pytest.raises(ProofError):
        verify_consistency(12, 12, mth(LEAVES[:12]), mth(forked[:12]), [])


@pytest.mark.parametrize("pruned", [1, 5, 8, 13])
def test_proofs_after_pruning_use_the_frontier(pruned: int) -> None:
    base = CompactRange()
    base.extend(LEAVES[:pruned])
    tree = MemoryTree(LEAVES[pruned:], base)
    size = len(LEAVES)
    root = mth(LEAVES)
    assert tree.root() == root
    for i in range(pruned, size):
        verify_inclusion(i, size, LEAVES[i], inclusion_proof(i, size, tree), root)
    verify_consistency(
        max(pruned, 16),
        size,
        mth(LEAVES[: max(pruned, 16)]),
        root,
        consistency_proof(max(pruned, 16), size, tree),
    )
