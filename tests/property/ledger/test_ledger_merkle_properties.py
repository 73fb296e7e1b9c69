"""Properties of RFC 9162 proofs over tile-built trees, checked with Hypothesis.

The reference here is RFC 9162 section 2.1 read literally (recursive MTH, PATH and PROOF
over a list), written independently of :mod:`meterseal.ledger.merkle`. An inclusion or
consistency proof fixes, for its tree sizes, the side each proof hash is hashed on; a
verifier given other sizes with the *same* sides computes the same hashes, so such a
change cannot be detected by any verifier (that is why checkpoints sign the size). The
properties below therefore say: any change of the proof, leaf or roots fails, and a change
of index or size fails exactly when it changes those sides.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from meterseal.errors import MeterSealError
from meterseal.ledger.merkle import (
    SHA256_HASHER,
    is_valid_subtree,
    subtree_hash,
    verify_consistency,
    verify_inclusion,
)
from meterseal.ledger.tiles import MemoryTiles

MAX_LEAVES = 700
SETTINGS = settings(max_examples=150, deadline=None)


def entry(index: int) -> bytes:
    return b"entry %d" % index


@cache
def tree() -> MemoryTiles:
    """One tree of MAX_LEAVES leaves; every smaller size is one of its past sizes."""
    tiles = MemoryTiles()
    tiles.append_leaves([entry(i) for i in range(MAX_LEAVES)])
    return tiles


@cache
def leaf_hash(index: int) -> bytes:
    return SHA256_HASHER.hash_leaf(entry(index))


def _split(n: int) -> int:
    k = 1
    while k * 2 < n:
        k *= 2
    return k


def reference_mth(start: int, end: int) -> bytes:
    """MTH(D[start:end]) by RFC 9162 section 2.1.1's recursion."""
    if end - start == 0:
        return SHA256_HASHER.empty_root()
    if end - start == 1:
        return leaf_hash(start)
    k = _split(end - start)
    left, right = reference_mth(start, start + k), reference_mth(start + k, end)
    return SHA256_HASHER.hash_children(left, right)


def path_sides(index: int, size: int) -> tuple[str, ...]:
    """For PATH(index, D[size]), the side of each proof hash, leaf to root."""
    if size <= 1:
        return ()
    k = _split(size)
    if index < k:
        return (*path_sides(index, k), "right")
    return (*path_sides(index - k, size - k), "left")


def proof_shape(old: int, size: int, complete: bool = True) -> tuple[str, ...]:
    """For SUBPROOF(old, D[size], complete), what each proof hash is, deepest first."""
    if old == size:
        return () if complete else ("seed",)
    k = _split(size)
    if old <= k:
        return (*proof_shape(old, k, complete), "right")
    return (*proof_shape(old - k, size - k, False), "left")


def _fails(check: Callable[..., object], *args: Any) -> bool:
    try:
        check(*args)
    except MeterSealError:
        return True
    return False


def _mutations(proof: list[bytes], data: st.DataObject) -> list[list[bytes]]:
    """Proofs that differ from ``proof``: a flipped bit, a hash dropped, added, swapped."""
    out = [[*proof, bytes(32)], [bytes(32), *proof]]
    if proof:
        i = data.draw(st.integers(0, len(proof) - 1))
        bit = data.draw(st.integers(0, 255))
        flipped = bytearray(proof[i])
        flipped[bit // 8] ^= 1 << (bit % 8)
        out += [[*proof[:i], bytes(flipped), *proof[i + 1 :]], proof[:i] + proof[i + 1 :]]
        j = data.draw(st.integers(0, len(proof) - 1))
        if proof[i] != proof[j]:
            swapped = list(proof)
            swapped[i], swapped[j] = proof[j], proof[i]
            out.append(swapped)
    return out


sizes = st.integers(1, MAX_LEAVES)


@st.composite
def size_and_index(draw: st.DrawFn) -> tuple[int, int]:
    size = draw(sizes)
    return size, draw(st.integers(0, size - 1))


@SETTINGS
@given(size_and_index(), st.data())
def test_inclusion_proofs_verify_and_every_change_fails(
    point: tuple[int, int], data: st.DataObject
) -> None:
    size, index = point
    tiles, root = tree(), tree().root(size)
    proof = tiles.inclusion_proof(index, size)
    verify_inclusion(leaf_hash(index), index, size, proof, root)
    for altered in _mutations(proof, data):
        assert _fails(verify_inclusion, leaf_hash(index), index, size, altered, root)
    other_leaf = leaf_hash(data.draw(st.integers(0, MAX_LEAVES - 1).filter(lambda i: i != index)))
    assert _fails(verify_inclusion, other_leaf, index, size, proof, root)
    assert _fails(
        verify_inclusion, leaf_hash(index), index, size, proof, reference_mth(0, size - 1)
    )


@SETTINGS
@given(size_and_index(), st.integers(0, 2 * MAX_LEAVES), st.integers(0, 2 * MAX_LEAVES))
def test_a_changed_index_or_size_fails_exactly_when_it_changes_the_path(
    point: tuple[int, int], other_index: int, other_size: int
) -> None:
    size, index = point
    proof, root, leaf = tree().inclusion_proof(index, size), tree().root(size), leaf_hash(index)
    if other_index != index:
        assert _fails(verify_inclusion, leaf, other_index, size, proof, root)
    if other_size != size:
        same_path = index < other_size and path_sides(index, other_size) == path_sides(index, size)
        assert _fails(verify_inclusion, leaf, index, other_size, proof, root) is not same_path


@st.composite
def two_sizes(draw: st.DrawFn) -> tuple[int, int]:
    size2 = draw(sizes)
    return draw(st.integers(1, size2)), size2


@SETTINGS
@given(two_sizes(), st.data())
def test_consistency_proofs_verify_and_every_change_fails(
    pair: tuple[int, int], data: st.DataObject
) -> None:
    size1, size2 = pair
    root1, root2 = tree().root(size1), tree().root(size2)
    proof = tree().consistency_proof(size1, size2)
    verify_consistency(size1, size2, proof, root1, root2)
    for altered in _mutations(proof, data):
        assert _fails(verify_consistency, size1, size2, altered, root1, root2)
    wrong = reference_mth(0, size2 + 1)
    assert _fails(verify_consistency, size1, size2, proof, wrong, root2)
    assert _fails(verify_consistency, size1, size2, proof, root1, wrong)


@SETTINGS
@given(two_sizes(), st.integers(0, 2 * MAX_LEAVES), st.integers(0, 2 * MAX_LEAVES))
def test_changed_sizes_fail_exactly_when_they_change_the_proof_shape(
    pair: tuple[int, int], other1: int, other2: int
) -> None:
    size1, size2 = pair
    root1, root2 = tree().root(size1), tree().root(size2)
    proof = tree().consistency_proof(size1, size2)
    for new1, new2 in ((other1, size2), (size1, other2)):
        if (new1, new2) == (size1, size2):
            continue
        same = 0 < new1 <= new2 and proof_shape(new1, new2) == proof_shape(size1, size2)
        same = same and (new1 == new2) == (size1 == size2)
        assert _fails(verify_consistency, new1, new2, proof, root1, root2) is not same


@SETTINGS
@given(sizes, st.data())
def test_tile_node_hashes_equal_the_naive_mth(size: int, data: st.DataObject) -> None:
    end = data.draw(st.integers(0, size))
    start = data.draw(st.integers(0, end).filter(lambda s: is_valid_subtree(s, end)))
    assert subtree_hash(start, end, tree().reader(size)) == reference_mth(start, end)
    assert tree().root(size) == reference_mth(0, size)
