"""C2SP tlog-tiles: coordinates, paths, entry bundles, proof reads and MemoryTiles."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from meterseal.ledger.errors import MissingTileError, TileError, TreeRangeError
from meterseal.ledger.merkle import (
    SHA256_HASHER,
    SM3_HASHER,
    LeafHashReader,
    Node,
    inclusion_proof,
    root_from_leaf_hashes,
    verify_consistency,
    verify_inclusion,
)
from meterseal.ledger.tiles import (
    TILE_WIDTH,
    MemoryTiles,
    Tile,
    TileNodeReader,
    consistency_proof_tiles,
    decode_entry_bundle,
    encode_entry_bundle,
    entry_bundle_path,
    format_tile_index,
    inclusion_proof_tiles,
    new_tiles,
    node_slot,
    parse_entry_bundle_path,
    parse_tile_path,
    tile_width,
    tiles_for_nodes,
)


def hashes(n: int, start: int = 0) -> list[bytes]:
    return SHA256_HASHER.hash_leaves(i.to_bytes(4, "big") for i in range(start, start + n))


# --- paths ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("index", "text"),
    [(0, "000"), (5, "005"), (999, "999"), (1000, "x001/000"), (1234067, "x001/x234/067")],
)
def test_tile_index_path_elements(index: int, text: str) -> None:
    assert format_tile_index(index) == text
    assert Tile(0, index).path == f"tile/0/{text}"


@pytest.mark.parametrize(
    ("path", "tile"),
    [
        ("tile/0/x001/x234/067", Tile(0, 1234067)),
        ("tile/1/000.p/17", Tile(1, 0, 17)),
        ("tile/2/000.p/1", Tile(2, 0, 1)),
        ("tile/63/x123/456", Tile(63, 123456)),
    ],
)
def test_tile_paths_round_trip(path: str, tile: Tile) -> None:
    assert parse_tile_path(path) == tile
    assert tile.path == path


@pytest.mark.parametrize(
    "path",
    [
        "tile/0/5",  # not zero-padded
        "tile/0/x000/005",  # leading zero element
        "tile/0/001/005",  # upper element without x
        "tile/00/005",  # level with a leading zero
        "tile/64/005",  # level above 63
        "tile/0/005.p/256",  # a full tile has no width suffix
        "tile/0/005.p/0",
        "tile/0/005.p/07",
        "tiles/0/005",
        "tile/0/x005",
        "tile/0/\u0665\u0660\u0660",  # Arabic-Indic digits are not ASCII digits
    ],
)
def test_malformed_tile_paths_are_refused(path: str) -> None:
    with pytest.raises(TileError):
        parse_tile_path(path)


def test_entry_bundle_paths() -> None:
    assert entry_bundle_path(1234067) == "tile/entries/x001/x234/067"
    assert entry_bundle_path(3, 17) == "tile/entries/003.p/17"
    assert parse_entry_bundle_path("tile/entries/003.p/17") == (3, 17)
    with pytest.raises(TileError):
        parse_entry_bundle_path("tile/0/003")


def test_tile_span_in_leaves() -> None:
    assert (Tile(0, 2).start_leaf, Tile(0, 2).end_leaf) == (512, 768)
    assert (Tile(1, 0, 17).start_leaf, Tile(1, 0, 17).end_leaf) == (0, 17 * 256)
    with pytest.raises(TileError):
        Tile(0, 0, 0)


# --- entry bundles --------------------------------------------------------------------


def test_entry_bundles_are_uint16_length_prefixed() -> None:
    bundle = encode_entry_bundle([b"", b"ab", b"x" * 300])
    assert bundle[:6] == b"\x00\x00\x00\x02ab"
    assert bundle[6:8] == (300).to_bytes(2, "big")
    assert decode_entry_bundle(bundle) == [b"", b"ab", b"x" * 300]


@pytest.mark.parametrize("bundle", [b"", b"\x00", b"\x00\x05abc"])
def test_truncated_or_empty_entry_bundles_are_refused(bundle: bytes) -> None:
    with pytest.raises(TileError):
        decode_entry_bundle(bundle)


def test_entries_too_long_for_the_prefix_are_refused() -> None:
    with pytest.raises(TileError):
        encode_entry_bundle([b"x" * 0x10000])


# --- which tiles a size has -----------------------------------------------------------


def test_tiles_of_the_spec_example_tree_of_70000() -> None:
    tiles = new_tiles(0, 70_000)
    level0 = [t for t in tiles if t.level == 0]
    assert len([t for t in level0 if t.is_full]) == 273
    assert [t for t in level0 if not t.is_full] == [Tile(0, 273, 112)]
    assert [t for t in tiles if t.level == 1] == [Tile(1, 0), Tile(1, 1, 17)]
    assert [t for t in tiles if t.level == 2] == [Tile(2, 0, 1)]


def test_a_tree_of_256_has_one_full_tile_and_a_partial_level_1_tile() -> None:
    assert new_tiles(0, 256) == [Tile(0, 0), Tile(1, 0, 1)]


def test_growth_lists_only_new_or_wider_tiles() -> None:
    assert new_tiles(256, 256) == []
    assert new_tiles(256, 300) == [Tile(0, 1, 44)]
    assert new_tiles(300, 600) == [Tile(0, 1), Tile(0, 2, 88), Tile(1, 0, 2)]
    with pytest.raises(TreeRangeError):
        new_tiles(10, 5)


def test_tile_width_at_a_size() -> None:
    assert tile_width(0, 0, 300) == 256
    assert tile_width(0, 1, 300) == 44
    assert tile_width(0, 2, 300) == 0
    assert tile_width(1, 0, 70_000) == 256
    assert tile_width(1, 1, 70_000) == 17


def test_node_slots_name_the_tile_and_the_hashes_to_fold() -> None:
    slot = node_slot(Node(3, 5), 300)  # leaves 40..48: hashes 40..48 of tile 0/0
    assert (slot.tile, slot.offset, slot.count) == (Tile(0, 0), 40, 8)
    slot = node_slot(Node(8, 1), 600)  # the hash of full tile 0/1, in tile 1/0 (width 2)
    assert (slot.tile, slot.offset, slot.count) == (Tile(1, 0, 2), 1, 1)
    slot = node_slot(Node(5, 8), 300)  # leaves 256..288 sit in the partial tile 0/1.p/44
    assert (slot.tile, slot.offset, slot.count) == (Tile(0, 1, 44), 0, 32)
    with pytest.raises(TreeRangeError):
        node_slot(Node(3, 37), 300)


def test_proof_tile_reads() -> None:
    assert tiles_for_nodes([Node(0, 1), Node(1, 1), Node(8, 0)], 600) == [Tile(0, 0), Tile(1, 0, 2)]
    # the level-8 node [256, 512) is one hash of tile 1/0, not a fold of tile 0/1
    assert inclusion_proof_tiles(5, 600) == [Tile(0, 0), Tile(1, 0, 2), Tile(0, 2, 88)]
    assert consistency_proof_tiles(256, 600) == [Tile(1, 0, 2), Tile(0, 2, 88)]
    with pytest.raises(TreeRangeError):
        inclusion_proof_tiles(600, 600)


# --- MemoryTiles ----------------------------------------------------------------------


def test_memory_tiles_serve_proofs_that_verify() -> None:
    leaf_hashes = hashes(70_000)
    tiles = MemoryTiles()
    for start in range(0, 70_000, 4096):
        tiles.append_hashes(leaf_hashes[start : start + 4096])
    root = tiles.root()
    assert root == root_from_leaf_hashes(leaf_hashes)
    for index in (0, 255, 256, 65_535, 65_536, 69_999):
        verify_inclusion(leaf_hashes[index], index, 70_000, tiles.inclusion_proof(index), root)
    for size1 in (1, 256, 65_536, 69_999):
        proof = tiles.consistency_proof(size1)
        verify_consistency(size1, 70_000, proof, tiles.root(size1), root)


def test_memory_tiles_proofs_equal_the_reference_reader() -> None:
    leaf_hashes = hashes(600)
    tiles = MemoryTiles()
    tiles.append_hashes(leaf_hashes)
    reference = LeafHashReader(leaf_hashes)
    for index in (0, 300, 599):
        assert tiles.inclusion_proof(index) == inclusion_proof(index, 600, reference)


def test_full_tiles_never_change_and_partial_tiles_stay_readable() -> None:
    tiles = MemoryTiles()
    tiles.append_hashes(hashes(300))
    full, partial = tiles.tile(Tile(0, 0)), tiles.tile(Tile(0, 1, 44))
    tiles.append_hashes(hashes(1000, 300))
    assert tiles.tile(Tile(0, 0)) == full
    assert tiles.tile(Tile(0, 1, 44)) == partial
    assert tiles.tile(Tile(0, 1))[: len(partial)] == partial


def test_tile_reads_beyond_the_tree_are_missing() -> None:
    tiles = MemoryTiles()
    tiles.append_hashes(hashes(300))
    with pytest.raises(MissingTileError):
        tiles.tile(Tile(0, 1))
    with pytest.raises(MissingTileError):
        tiles.tile(Tile(2, 0, 1))
    with pytest.raises(TreeRangeError):
        tiles.reader(301)


def test_old_sizes_stay_provable() -> None:
    tiles = MemoryTiles()
    tiles.append_hashes(hashes(300))
    old_root = tiles.root()
    tiles.append_hashes(hashes(300, 300))
    assert tiles.root(300) == old_root
    assert tiles.inclusion_proof(10, 300) == inclusion_proof(10, 300, LeafHashReader(hashes(300)))


def test_leaf_hashes_of_the_wrong_length_are_refused() -> None:
    tiles = MemoryTiles()
    with pytest.raises(TileError):
        tiles.append_hashes([b"\x00" * 31, b"\x00" * 33])
    assert tiles.size == 0


def test_append_leaves_hashes_entries_first() -> None:
    tiles = MemoryTiles()
    assert tiles.append_leaves([b"a", b"b", b"c"]) == 3
    assert tiles.root() == root_from_leaf_hashes(SHA256_HASHER.hash_leaves([b"a", b"b", b"c"]))


def test_sm3_tiles() -> None:
    tiles = MemoryTiles(SM3_HASHER)
    entries = [bytes([i % 256, i // 256]) for i in range(TILE_WIDTH + 3)]
    tiles.append_leaves(entries)
    leaf_hashes = SM3_HASHER.hash_leaves(entries)
    assert tiles.root() == root_from_leaf_hashes(leaf_hashes, hasher=SM3_HASHER)
    proof = tiles.inclusion_proof(7)
    verify_inclusion(leaf_hashes[7], 7, len(entries), proof, tiles.root(), hasher=SM3_HASHER)


class _CorruptSource:
    def read_tiles(self, tiles: Sequence[Tile]) -> list[bytes]:
        return [b"\x00" * 31 for _ in tiles]


def test_a_tile_of_the_wrong_length_is_an_error() -> None:
    with pytest.raises(TileError):
        TileNodeReader(_CorruptSource(), 5).read_nodes([Node(0, 1)])
