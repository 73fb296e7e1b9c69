"""Properties of the tiled tree (C2SP tlog-tiles), checked with Hypothesis.

However a sequence of leaves is cut into append batches, the tiles and roots are the same;
the tiles listed by :func:`new_tiles` after each batch are exactly what a store must write
to serve that size; and no full tile ever changes once written.
"""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from meterseal.ledger.merkle import SHA256_HASHER, SM3_HASHER, TreeHasher, root_from_leaf_hashes
from meterseal.ledger.tiles import MemoryTiles, Tile, new_tiles

MAX_LEAVES = 1400
SETTINGS = settings(max_examples=60, deadline=None)


def leaf_hashes(count: int, hasher: TreeHasher) -> list[bytes]:
    return hasher.hash_leaves(i.to_bytes(3, "big") for i in range(count))


@st.composite
def batches(draw: st.DrawFn) -> tuple[int, list[int]]:
    """A number of leaves and the sorted cut points of its append batches."""
    count = draw(st.integers(0, MAX_LEAVES))
    cuts = draw(st.lists(st.integers(0, count), max_size=12))
    return count, sorted(cuts)


def build(hashes: list[bytes], cuts: list[int], hasher: TreeHasher) -> MemoryTiles:
    tiles = MemoryTiles(hasher)
    for start, end in zip([0, *cuts], [*cuts, len(hashes)], strict=True):
        tiles.append_hashes(hashes[start:end])
    return tiles


def all_tiles(tiles: MemoryTiles) -> dict[Tile, bytes]:
    return {tile: tiles.tile(tile) for tile in new_tiles(0, tiles.size)}


@SETTINGS
@given(batches(), st.lists(st.integers(0, MAX_LEAVES), max_size=12), st.booleans())
def test_any_batch_split_gives_the_same_tiles_and_roots(
    plan: tuple[int, list[int]], other_cuts: list[int], sm3: bool
) -> None:
    hasher = SM3_HASHER if sm3 else SHA256_HASHER
    count, cuts = plan
    hashes = leaf_hashes(count, hasher)
    one = build(hashes, cuts, hasher)
    other = build(hashes, sorted(c % (count + 1) for c in other_cuts), hasher)
    assert all_tiles(one) == all_tiles(other)
    assert one.root() == other.root() == root_from_leaf_hashes(hashes, hasher=hasher)
    for size in {0, *cuts, count}:
        assert one.root(size) == root_from_leaf_hashes(hashes[:size], hasher=hasher)


@SETTINGS
@given(batches())
def test_new_tiles_after_each_batch_are_what_the_store_writes(plan: tuple[int, list[int]]) -> None:
    count, cuts = plan
    hashes = leaf_hashes(count, SHA256_HASHER)
    tiles = MemoryTiles()
    written: dict[Tile, bytes] = {}
    for start, end in zip([0, *cuts], [*cuts, count], strict=True):
        old_size = tiles.size
        tiles.append_hashes(hashes[start:end])
        for tile in new_tiles(old_size, tiles.size):
            assert tile not in written or not tile.is_full  # full tiles are written once
            written[tile] = tiles.tile(tile)
        for tile, data in written.items():
            assert tiles.tile(tile) == data  # nothing written before has changed
    assert {t: d for t, d in written.items() if t in new_tiles(0, count)} == all_tiles(tiles)
