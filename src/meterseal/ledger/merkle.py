"""Merkle tree hashing, inclusion and consistency proofs (RFC 9162 section 2.1). Pure, no I/O.

Hashing (RFC 9162 section 2.1.1), over SHA-256 or, for GM deployments, SM3::

    MTH({})   = HASH()
    leaf hash = HASH(0x00 || d)
    node hash = HASH(0x01 || left || right)

A tree of ``n`` leaves splits at ``k``, the largest power of two strictly below ``n``.

Proofs are generated from stored hashes of *perfect* subtrees, :class:`Node` ``(level,
index)`` covering leaves ``[index * 2^level, (index + 1) * 2^level)``, read through a
:class:`NodeReader` in one batch per proof. Any hash a proof needs (a sibling, or the hash
of a right border that is not a perfect subtree) is the fold of a few such nodes, so a
store that keeps perfect-subtree hashes (the C2SP tlog-tiles layout, see
:mod:`meterseal.ledger.tiles`) can serve every proof.

Verification (RFC 9162 sections 2.1.3.2 and 2.1.4.2) raises, never returns ``False``, and
applies the edge rules of transparency-dev/merkle (commit 8c666a7 and later):

* inclusion: ``index < size``; the leaf hash has the hash's length; the proof has exactly
  the expected number of hashes, each of the hash's length; roots compare byte for byte;
* consistency: ``size1 <= size2``; ``size1 == 0`` is an error, even ``0 -> 0``; equal sizes
  need an empty proof and equal roots (compared byte for byte, whatever their length);
  ``0 < size1 < size2`` needs exactly the expected, non-empty proof.

The subtree functions (``subtree_*``) generalize RFC 9162 to the subtrees ``[start, end)``
of draft-ietf-plants-merkle-tree-certs (section "Subtrees"); with ``start == 0`` they are
exactly RFC 9162's MTH, PATH and PROOF.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Protocol

from meterseal.crypto.hashes import SHA_256, SM3, OpenSslHash
from meterseal.ledger.errors import MalformedProofError, RootMismatchError, TreeRangeError

LEAF_PREFIX = b"\x00"
"""Domain separation byte of leaf hashes (RFC 9162 section 2.1.1)."""

NODE_PREFIX = b"\x01"
"""Domain separation byte of interior node hashes (RFC 9162 section 2.1.1)."""

MAX_TREE_SIZE = (1 << 63) - 1
"""Largest tree size accepted (it must fit a signed 64-bit SQL column)."""


class _HashObject(Protocol):
    def digest(self) -> bytes: ...


class TreeHasher:
    """RFC 9162 section 2.1.1 leaf and node hashing over one hash function."""

    __slots__ = ("_new", "digest_size", "name")

    def __init__(self, name: str, new: Callable[[bytes], _HashObject], digest_size: int) -> None:
        self.name = name
        self._new = new
        self.digest_size = digest_size

    def __repr__(self) -> str:
        return f"TreeHasher({self.name!r})"

    @classmethod
    def from_hash(cls, hash_alg: OpenSslHash) -> TreeHasher:
        """The tree hasher of an OpenSSL hash, with hashlib's direct constructor if it has one."""
        new = getattr(hashlib, hash_alg.openssl_name, None)
        if new is None:
            new = partial(hashlib.new, hash_alg.openssl_name)
        return cls(hash_alg.name, new, hash_alg.digest_size)

    def empty_root(self) -> bytes:
        """MTH({}) = HASH(), the root of the empty tree."""
        return self._new(b"").digest()

    def hash_leaf(self, data: bytes) -> bytes:
        """MTH({d}) = HASH(0x00 || d)."""
        return self._new(LEAF_PREFIX + data).digest()

    def hash_children(self, left: bytes, right: bytes) -> bytes:
        """HASH(0x01 || left || right)."""
        return self._new(NODE_PREFIX + left + right).digest()

    def hash_leaves(self, entries: Iterable[bytes]) -> list[bytes]:
        """The leaf hashes of ``entries``, in order."""
        new = self._new
        return [new(LEAF_PREFIX + data).digest() for data in entries]

    def hash_row(self, row: bytes) -> bytes:
        """One level up: the node hashes of the adjacent pairs in ``row``, concatenated.

        ``row`` is an even number of concatenated hashes; a pair is one contiguous slice.
        """
        new, pair = self._new, 2 * self.digest_size
        return b"".join(
            [new(NODE_PREFIX + row[i : i + pair]).digest() for i in range(0, len(row), pair)]
        )

    def fold(self, hashes: Sequence[bytes]) -> bytes:
        """MTH of consecutive perfect subtrees of strictly decreasing size, left to right.

        That is ``H(h0, H(h1, ... H(h[-2], h[-1])))``: the hash of a range whose binary
        decomposition is ``hashes`` (RFC 9162 section 2.1.1 applied to the split points).
        """
        result = hashes[-1]
        for left in reversed(hashes[:-1]):
            result = self.hash_children(left, result)
        return result


SHA256_HASHER = TreeHasher.from_hash(SHA_256)
"""RFC 9162 hashing with SHA-256: the default, and the only hash of C2SP tlog-tiles."""

SM3_HASHER = TreeHasher.from_hash(SM3)
"""RFC 9162 hashing with SM3 (GB/T 32905) for GM deployments."""


@dataclass(frozen=True, slots=True)
class Node:
    """The perfect subtree of ``2^level`` leaves starting at leaf ``index * 2^level``."""

    level: int
    index: int


class NodeReader(Protocol):
    """Returns the stored hashes of perfect subtrees, in the order asked, in one batch.

    A reader serves a fixed tree size; it must fail (not guess) for a node that is not
    complete at that size. The tile store answers with tile reads
    (:class:`meterseal.ledger.tiles.TileNodeReader`).
    """

    def read_nodes(self, nodes: Sequence[Node]) -> Sequence[bytes]: ...


# --- tree shape -----------------------------------------------------------------------


def split_point(n: int) -> int:
    """k, the largest power of two strictly less than ``n`` (RFC 9162 section 2.1.1), n > 1."""
    return 1 << ((n - 1).bit_length() - 1)


def is_valid_subtree(start: int, end: int) -> bool:
    """Whether ``[start, end)`` is a subtree: empty, a prefix, or aligned to BIT_CEIL(end-start)."""
    if not 0 <= start <= end:
        return False
    return start in (0, end) or start % (1 << (end - start - 1).bit_length()) == 0


def range_nodes(start: int, end: int) -> list[Node]:
    """The perfect subtrees whose fold is MTH(D[start:end]), largest first.

    ``[start, end)`` must be a non-empty subtree (see :func:`is_valid_subtree`); every
    sibling and border range of an RFC 9162 proof is one.
    """
    if not (start < end and is_valid_subtree(start, end)):
        raise TreeRangeError(f"[{start}, {end}) is not a non-empty subtree")
    nodes = []
    while start < end:
        level = (end - start).bit_length() - 1
        nodes.append(Node(level, start >> level))
        start += 1 << level
    return nodes


def inclusion_ranges(index: int, start: int, end: int) -> list[tuple[int, int]]:
    """The ranges whose MTHs form PATH(index - start, D[start:end]), leaf to root.

    RFC 9162 section 2.1.3.1: descend from ``[start, end)`` towards the leaf, taking the
    other half at each split as the sibling.
    """
    ranges = []
    while end - start > 1:
        middle = start + split_point(end - start)
        if index < middle:
            ranges.append((middle, end))
            end = middle
        else:
            ranges.append((start, middle))
            start = middle
    ranges.reverse()
    return ranges


def consistency_ranges(start: int, end: int, size: int) -> list[tuple[int, int]]:
    """The ranges whose MTHs form the consistency proof of subtree ``[start, end)`` in ``size``.

    With ``start == 0`` this is PROOF(end, D[size]) = SUBPROOF(end, D[size], true) of RFC
    9162 section 2.1.4.1; for ``start > 0`` it is the subtree consistency proof of
    draft-ietf-plants-merkle-tree-certs. An empty subtree has an empty proof.
    """
    if start == end:
        return []
    ranges = []
    low, high, known = 0, size, True
    while not (start == low and end == high):
        middle = low + split_point(high - low)
        if end <= middle:
            ranges.append((middle, high))
            high = middle
        else:
            ranges.append((low, middle))
            if start < middle:  # the subtree straddles the split: it starts at ``low``
                start, known = middle, False
            low = middle
    if not known:
        ranges.append((low, high))
    ranges.reverse()
    return ranges


# --- generation -----------------------------------------------------------------------


def _check_size(size: int) -> None:
    if not 0 <= size <= MAX_TREE_SIZE:
        raise TreeRangeError(f"tree size {size} outside 0..2^63-1")


def _check_subtree(start: int, end: int, size: int) -> None:
    _check_size(size)
    if not is_valid_subtree(start, end) or end > size:
        raise TreeRangeError(f"[{start}, {end}) is not a subtree of a tree of size {size}")


def range_hashes(
    ranges: Sequence[tuple[int, int]], reader: NodeReader, *, hasher: TreeHasher = SHA256_HASHER
) -> list[bytes]:
    """MTH(D[start:end]) of each range, from one batched read of the perfect subtrees."""
    plans = [range_nodes(start, end) for start, end in ranges]
    nodes = [node for plan in plans for node in plan]
    stored = reader.read_nodes(nodes)
    if len(stored) != len(nodes):
        raise TreeRangeError(f"node reader returned {len(stored)} hashes for {len(nodes)} nodes")
    hashes, offset = [], 0
    for plan in plans:
        hashes.append(hasher.fold(stored[offset : offset + len(plan)]))
        offset += len(plan)
    return hashes


def subtree_hash(
    start: int, end: int, reader: NodeReader, *, hasher: TreeHasher = SHA256_HASHER
) -> bytes:
    """MTH(D[start:end]) for a subtree; HASH() for an empty one."""
    if start == end:
        return hasher.empty_root()
    return range_hashes([(start, end)], reader, hasher=hasher)[0]


def tree_hash(size: int, reader: NodeReader, *, hasher: TreeHasher = SHA256_HASHER) -> bytes:
    """The root hash MTH(D[size]) of the tree of ``size`` leaves (RFC 9162 section 2.1.1)."""
    _check_size(size)
    return subtree_hash(0, size, reader, hasher=hasher)


def subtree_inclusion_proof(
    index: int, start: int, end: int, reader: NodeReader, *, hasher: TreeHasher = SHA256_HASHER
) -> list[bytes]:
    """PATH(index - start, D[start:end]): the inclusion proof of a leaf in a subtree."""
    _check_subtree(start, end, end)
    if not start <= index < end:
        raise TreeRangeError(f"leaf {index} is not in [{start}, {end})")
    return range_hashes(inclusion_ranges(index, start, end), reader, hasher=hasher)


def inclusion_proof(
    index: int, size: int, reader: NodeReader, *, hasher: TreeHasher = SHA256_HASHER
) -> list[bytes]:
    """PATH(index, D[size]), RFC 9162 section 2.1.3.1, leaf to root."""
    _check_size(size)
    return subtree_inclusion_proof(index, 0, size, reader, hasher=hasher)


def subtree_consistency_proof(
    start: int, end: int, size: int, reader: NodeReader, *, hasher: TreeHasher = SHA256_HASHER
) -> list[bytes]:
    """The consistency proof of subtree ``[start, end)`` with the tree of ``size`` leaves."""
    _check_subtree(start, end, size)
    return range_hashes(consistency_ranges(start, end, size), reader, hasher=hasher)


def consistency_proof(
    size1: int, size2: int, reader: NodeReader, *, hasher: TreeHasher = SHA256_HASHER
) -> list[bytes]:
    """PROOF(size1, D[size2]), RFC 9162 section 2.1.4.1; ``0 < size1 <= size2``."""
    if size1 == 0:
        raise TreeRangeError("a consistency proof from the empty tree is meaningless")
    if size1 > size2:
        raise TreeRangeError(f"size1 {size1} exceeds size2 {size2}")
    return subtree_consistency_proof(0, size1, size2, reader, hasher=hasher)


# --- in-memory reference --------------------------------------------------------------


def root_from_leaf_hashes(
    leaf_hashes: Sequence[bytes], *, hasher: TreeHasher = SHA256_HASHER
) -> bytes:
    """MTH of a list of leaf hashes, bottom-up; an odd last node is carried up unchanged.

    This builds the same tree as RFC 9162 section 2.1.1's recursive split.
    """
    if not leaf_hashes:
        return hasher.empty_root()
    row = list(leaf_hashes)
    while len(row) > 1:
        pairs = [hasher.hash_children(row[i], row[i + 1]) for i in range(0, len(row) - 1, 2)]
        row = pairs + row[len(row) - 1 :] if len(row) % 2 else pairs
    return row[0]


@dataclass(frozen=True, slots=True)
class LeafHashReader:
    """A :class:`NodeReader` over a list of leaf hashes: every node is recomputed.

    For tests and small trees; the tile store is the real reader.
    """

    leaf_hashes: Sequence[bytes]
    hasher: TreeHasher = SHA256_HASHER

    def read_nodes(self, nodes: Sequence[Node]) -> list[bytes]:
        return [self._node(node) for node in nodes]

    def _node(self, node: Node) -> bytes:
        start, end = node.index << node.level, (node.index + 1) << node.level
        if end > len(self.leaf_hashes):
            raise TreeRangeError(
                f"node {node} is not complete in a tree of {len(self.leaf_hashes)}"
            )
        return root_from_leaf_hashes(self.leaf_hashes[start:end], hasher=self.hasher)


# --- verification ---------------------------------------------------------------------


def _decompose(index: int, size: int) -> tuple[int, int]:
    """(inner, border): proof hashes below and above where the paths to ``index`` and
    ``size - 1`` meet; their sum is the length of PATH(index, D[size])."""
    inner = (index ^ (size - 1)).bit_length()
    return inner, (index >> inner).bit_count()


def inclusion_proof_length(index: int, size: int) -> int:
    """The exact number of hashes in PATH(index, D[size]), ``0 <= index < size``."""
    inner, border = _decompose(index, size)
    return inner + border


def consistency_proof_length(size1: int, size2: int) -> int:
    """The exact number of hashes in PROOF(size1, D[size2]), ``0 < size1 < size2``."""
    inner, border = _decompose(size1 - 1, size2)
    shift = (size1 & -size1).bit_length() - 1
    seeded = size1 == 1 << shift
    return inner - shift + border + (0 if seeded else 1)


def _check_hashes(proof: Sequence[bytes], hasher: TreeHasher) -> None:
    for position, node in enumerate(proof):
        if len(node) != hasher.digest_size:
            raise MalformedProofError(
                f"proof hash {position} has {len(node)} bytes, not {hasher.digest_size}"
            )


def root_from_inclusion_proof(
    leaf_hash: bytes,
    index: int,
    size: int,
    proof: Sequence[bytes],
    *,
    hasher: TreeHasher = SHA256_HASHER,
) -> bytes:
    """The root that PATH ``proof`` of leaf ``index`` leads to, RFC 9162 section 2.1.3.2."""
    if not 0 <= index < size:
        raise MalformedProofError(f"leaf index {index} not below tree size {size}")
    if len(leaf_hash) != hasher.digest_size:
        raise MalformedProofError(f"leaf hash has {len(leaf_hash)} bytes")
    if len(proof) != inclusion_proof_length(index, size):
        raise MalformedProofError(f"inclusion proof has {len(proof)} hashes")
    _check_hashes(proof, hasher)
    fn, sn, result = index, size - 1, leaf_hash
    for node in proof:
        if fn & 1 or fn == sn:
            result = hasher.hash_children(node, result)
            while not fn & 1 and fn:
                fn, sn = fn >> 1, sn >> 1
        else:
            result = hasher.hash_children(result, node)
        fn, sn = fn >> 1, sn >> 1
    return result


def verify_inclusion(
    leaf_hash: bytes,
    index: int,
    size: int,
    proof: Sequence[bytes],
    root: bytes,
    *,
    hasher: TreeHasher = SHA256_HASHER,
) -> None:
    """Check that leaf ``index`` with ``leaf_hash`` is in the tree (``size``, ``root``).

    RFC 9162 section 2.1.3.2. Raises :class:`MalformedProofError` or
    :class:`RootMismatchError`.
    """
    if root_from_inclusion_proof(leaf_hash, index, size, proof, hasher=hasher) != root:
        raise RootMismatchError(f"inclusion proof of leaf {index} does not lead to the root")


def _check_consistency_shape(size1: int, size2: int, proof: Sequence[bytes]) -> None:
    if size1 > size2:
        raise MalformedProofError(f"size1 {size1} exceeds size2 {size2}")
    if size1 == 0:
        raise MalformedProofError("a consistency proof from the empty tree is meaningless")
    if size1 == size2 and proof:
        raise MalformedProofError("equal sizes need an empty consistency proof")
    if size1 < size2 and len(proof) != consistency_proof_length(size1, size2):
        raise MalformedProofError(f"consistency proof has {len(proof)} hashes")


def _consistency_roots(
    size1: int, size2: int, proof: Sequence[bytes], root1: bytes, hasher: TreeHasher
) -> tuple[bytes, bytes]:
    """(first root, second root) computed from the proof, RFC 9162 section 2.1.4.2 steps 2-6."""
    path = list(proof)
    if size1 & (size1 - 1) == 0:  # step 2: size1 is a power of two
        path.insert(0, root1)
    fn, sn = size1 - 1, size2 - 1
    while fn & 1:
        fn, sn = fn >> 1, sn >> 1
    first = second = path[0]
    for node in path[1:]:
        if fn & 1 or fn == sn:
            first = hasher.hash_children(node, first)
            second = hasher.hash_children(node, second)
            while not fn & 1 and fn:
                fn, sn = fn >> 1, sn >> 1
        else:
            second = hasher.hash_children(second, node)
        fn, sn = fn >> 1, sn >> 1
    return first, second


def verify_consistency(
    size1: int,
    size2: int,
    proof: Sequence[bytes],
    root1: bytes,
    root2: bytes,
    *,
    hasher: TreeHasher = SHA256_HASHER,
) -> None:
    """Check that the tree (``size2``, ``root2``) extends the tree (``size1``, ``root1``).

    RFC 9162 section 2.1.4.2 with the edge rules in the module docstring. Raises
    :class:`MalformedProofError` or :class:`RootMismatchError`.
    """
    _check_consistency_shape(size1, size2, proof)
    if size1 == size2:
        if root1 != root2:
            raise RootMismatchError("equal sizes with different roots")
        return
    _check_hashes(proof, hasher)
    first, second = _consistency_roots(size1, size2, proof, root1, hasher)
    if first != root1:
        raise RootMismatchError("consistency proof does not lead to the first root")
    if second != root2:
        raise RootMismatchError("consistency proof does not lead to the second root")
