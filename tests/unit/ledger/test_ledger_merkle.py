"""RFC 9162 section 2.1 hashing, tree shape, proof generation and verification errors."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

import pytest

from meterseal.errors import VerificationError
from meterseal.ledger.errors import MalformedProofError, RootMismatchError, TreeRangeError
from meterseal.ledger.merkle import (
    SHA256_HASHER,
    SM3_HASHER,
    LeafHashReader,
    Node,
    TreeHasher,
    consistency_proof,
    consistency_proof_length,
    consistency_ranges,
    inclusion_proof,
    inclusion_proof_length,
    is_valid_subtree,
    range_nodes,
    root_from_inclusion_proof,
    root_from_leaf_hashes,
    split_point,
    subtree_hash,
    tree_hash,
    verify_consistency,
    verify_inclusion,
)


def reference_mth(leaves: list[bytes], hasher: TreeHasher = SHA256_HASHER) -> bytes:
    """MTH straight from RFC 9162 section 2.1.1's recursion, over leaf data."""
    if not leaves:
        return hasher.empty_root()
    if len(leaves) == 1:
        return hasher.hash_leaf(leaves[0])
    k = 1 << ((len(leaves) - 1).bit_length() - 1)
    return hasher.hash_children(
        reference_mth(leaves[:k], hasher), reference_mth(leaves[k:], hasher)
    )


def leaves(n: int) -> list[bytes]:
    return [f"leaf {i}".encode() for i in range(n)]


def reader_for(n: int, hasher: TreeHasher = SHA256_HASHER) -> LeafHashReader:
    return LeafHashReader(hasher.hash_leaves(leaves(n)), hasher)


# --- hashing --------------------------------------------------------------------------


@pytest.mark.parametrize(("hasher", "name"), [(SHA256_HASHER, "sha256"), (SM3_HASHER, "sm3")])
def test_leaf_and_node_hashes_prefix_the_domain_byte(hasher: TreeHasher, name: str) -> None:
    assert hasher.empty_root() == hashlib.new(name, b"").digest()
    assert hasher.hash_leaf(b"abc") == hashlib.new(name, b"\x00abc").digest()
    assert (
        hasher.hash_children(b"L" * 32, b"R" * 32)
        == hashlib.new(name, b"\x01" + b"L" * 32 + b"R" * 32).digest()
    )


def test_sm3_and_sha256_trees_differ() -> None:
    data = leaves(5)
    assert reference_mth(data, SM3_HASHER) != reference_mth(data)
    assert SM3_HASHER.name == "SM3"
    assert SM3_HASHER.digest_size == 32


def test_hash_row_hashes_adjacent_pairs() -> None:
    a, b, c, d = (bytes([i]) * 32 for i in range(4))
    row = SHA256_HASHER.hash_row(a + b + c + d)
    assert row == SHA256_HASHER.hash_children(a, b) + SHA256_HASHER.hash_children(c, d)


@pytest.mark.parametrize("n", [0, 1, 2, 3, 4, 5, 7, 8, 9, 31, 33, 100])
def test_bottom_up_root_equals_the_rfc_recursion(n: int) -> None:
    data = leaves(n)
    assert root_from_leaf_hashes(SHA256_HASHER.hash_leaves(data)) == reference_mth(data)
    assert tree_hash(n, reader_for(n)) == reference_mth(data)


# --- tree shape -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("n", "k"), [(2, 1), (3, 2), (4, 2), (5, 4), (8, 4), (9, 8), (1 << 40, 1 << 39)]
)
def test_split_point_is_the_largest_power_of_two_below_n(n: int, k: int) -> None:
    assert split_point(n) == k


@pytest.mark.parametrize(
    ("start", "end", "valid"),
    [(0, 0, True), (0, 7, True), (5, 5, True), (4, 8, True), (4, 7, True), (4, 9, False),
     (6, 8, True), (6, 9, False), (3, 4, True), (8, 16, True), (8, 17, False), (5, 4, False)],
)  # fmt: skip
def test_valid_subtrees_are_aligned_to_their_bit_ceiling(start: int, end: int, valid: bool) -> None:
    assert is_valid_subtree(start, end) is valid


def test_range_nodes_decompose_into_perfect_subtrees() -> None:
    assert range_nodes(0, 13) == [Node(3, 0), Node(2, 2), Node(0, 12)]
    assert range_nodes(8, 11) == [Node(1, 4), Node(0, 10)]
    with pytest.raises(TreeRangeError):
        range_nodes(4, 9)
    with pytest.raises(TreeRangeError):
        range_nodes(3, 3)


def test_consistency_ranges_follow_rfc_subproof() -> None:
    # PROOF(3, D[7]) = [h(2), h(3), MTH(0,2)... ]: RFC 9162 section 2.1.5's worked example
    assert consistency_ranges(0, 3, 7) == [(2, 3), (3, 4), (0, 2), (4, 7)]
    assert consistency_ranges(0, 4, 7) == [(4, 7)]
    assert consistency_ranges(0, 6, 7) == [(4, 6), (6, 7), (0, 4)]
    assert consistency_ranges(0, 7, 7) == []


def test_proof_lengths_match_generated_proofs() -> None:
    reader = reader_for(40)
    for size in range(1, 41):
        for index in range(size):
            assert len(inclusion_proof(index, size, reader)) == inclusion_proof_length(index, size)
        for size1 in range(1, size):
            proof = consistency_proof(size1, size, reader)
            assert len(proof) == consistency_proof_length(size1, size)


# --- generation errors ----------------------------------------------------------------


def test_generation_refuses_leaves_and_sizes_the_tree_lacks() -> None:
    reader = reader_for(8)
    with pytest.raises(TreeRangeError):
        inclusion_proof(8, 8, reader)
    with pytest.raises(TreeRangeError):
        inclusion_proof(3, 9, reader)  # node (0, 8) is not in the tree
    with pytest.raises(TreeRangeError):
        consistency_proof(0, 8, reader)
    with pytest.raises(TreeRangeError):
        consistency_proof(5, 4, reader)
    with pytest.raises(TreeRangeError):
        tree_hash(-1, reader)


def test_subtree_hash_of_an_empty_range_is_the_empty_root() -> None:
    assert subtree_hash(3, 3, reader_for(4)) == SHA256_HASHER.empty_root()


class _ShortReader:
    def read_nodes(self, nodes: Sequence[Node]) -> list[bytes]:
        return [b"\x00" * 32 for _ in nodes[1:]]


def test_a_reader_that_returns_too_few_hashes_is_an_error() -> None:
    with pytest.raises(TreeRangeError):
        tree_hash(3, _ShortReader())


# --- verification errors --------------------------------------------------------------


@pytest.fixture
def tree() -> tuple[list[bytes], LeafHashReader]:
    reader = reader_for(13)
    return list(reader.leaf_hashes), reader


def test_inclusion_failures_are_typed(tree: tuple[list[bytes], LeafHashReader]) -> None:
    hashes, reader = tree
    root, proof = tree_hash(13, reader), inclusion_proof(6, 13, reader)
    verify_inclusion(hashes[6], 6, 13, proof, root)
    with pytest.raises(RootMismatchError):
        verify_inclusion(hashes[7], 6, 13, proof, root)
    with pytest.raises(MalformedProofError):
        verify_inclusion(hashes[6], 6, 13, proof[:-1], root)
    with pytest.raises(MalformedProofError):
        verify_inclusion(hashes[6][:31], 6, 13, proof, root)
    with pytest.raises(MalformedProofError):
        verify_inclusion(hashes[6], 13, 13, proof, root)
    with pytest.raises(MalformedProofError):
        verify_inclusion(hashes[6], 6, 13, [proof[0][:16], *proof[1:]], root)


def test_verification_errors_are_verification_errors(
    tree: tuple[list[bytes], LeafHashReader],
) -> None:
    hashes, reader = tree
    with pytest.raises(VerificationError):
        verify_inclusion(hashes[0], 0, 13, inclusion_proof(0, 13, reader), b"\x00" * 32)


def test_root_from_inclusion_proof_is_the_root(tree: tuple[list[bytes], LeafHashReader]) -> None:
    hashes, reader = tree
    proof = inclusion_proof(12, 13, reader)
    assert root_from_inclusion_proof(hashes[12], 12, 13, proof) == tree_hash(13, reader)


def test_consistency_failures_are_typed(tree: tuple[list[bytes], LeafHashReader]) -> None:
    _, reader = tree
    root5, root13 = tree_hash(5, reader), tree_hash(13, reader)
    proof = consistency_proof(5, 13, reader)
    verify_consistency(5, 13, proof, root5, root13)
    with pytest.raises(RootMismatchError):
        verify_consistency(5, 13, proof, root13, root13)
    with pytest.raises(RootMismatchError):
        verify_consistency(5, 13, proof, root5, root5)
    with pytest.raises(MalformedProofError):
        verify_consistency(5, 13, [*proof, root5], root5, root13)
    with pytest.raises(MalformedProofError):
        verify_consistency(0, 13, [], root5, root13)
    with pytest.raises(MalformedProofError):
        verify_consistency(13, 5, proof, root13, root5)
    with pytest.raises(MalformedProofError):
        verify_consistency(5, 5, proof, root5, root5)
    with pytest.raises(RootMismatchError):
        verify_consistency(5, 5, [], root5, root13)


@pytest.mark.parametrize("size1", [1, 2, 4, 8])
def test_consistency_from_a_power_of_two_uses_the_old_root_as_seed(size1: int) -> None:
    reader = reader_for(9)
    proof = consistency_proof(size1, 9, reader)
    verify_consistency(size1, 9, proof, tree_hash(size1, reader), tree_hash(9, reader))
    assert tree_hash(size1, reader) not in proof


def test_sm3_proofs_verify_only_with_sm3() -> None:
    reader = reader_for(11, SM3_HASHER)
    root = tree_hash(11, reader, hasher=SM3_HASHER)
    proof = inclusion_proof(4, 11, reader, hasher=SM3_HASHER)
    verify_inclusion(reader.leaf_hashes[4], 4, 11, proof, root, hasher=SM3_HASHER)
    with pytest.raises(RootMismatchError):
        verify_inclusion(reader.leaf_hashes[4], 4, 11, proof, root)
