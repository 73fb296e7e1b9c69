"""The C2SP tlog-tiles layout: tile coordinates, paths, proof reads, an in-memory tiled tree.

A tile is a row of up to 256 consecutive hashes at tree level ``8 * L`` (C2SP tlog-tiles,
"Merkle Tree"): the ``N``-th tile at level ``L`` holds, for ``i`` in ``0..W-1``::

    MTH(D[(N * 256 + i) * 256**L : (N * 256 + i + 1) * 256**L])

A full tile has ``W = 256`` hashes (8,192 bytes with SHA-256); the rightmost tile of each
level is partial (``1 <= W <= 255``) and is never hashed into the level above. Levels between
two tile levels are not stored: a node at level ``8 * L + h`` is recomputed by hashing ``2^h``
adjacent hashes of one tile (:class:`TileNodeReader`). Tiles are immutable once full; the tree
only grows (:class:`MemoryTiles` has no method that replaces or deletes a stored hash).

Paths (C2SP tlog-tiles, "Merkle Tree" and "Log entries")::

    tile/<L>/<N>[.p/<W>]          e.g. tile/0/x001/x234/067.p/8
    tile/entries/<N>[.p/<W>]      entry bundles: uint16 length-prefixed entries

C2SP fixes SHA-256 for tiles; a GM deployment uses the same layout with SM3 hashes.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from meterseal.ledger.errors import MissingTileError, TileError, TreeRangeError
from meterseal.ledger.merkle import (
    SHA256_HASHER,
    Node,
    TreeHasher,
    consistency_ranges,
    inclusion_ranges,
    range_nodes,
    subtree_consistency_proof,
    subtree_hash,
    subtree_inclusion_proof,
)

TILE_HEIGHT = 8
"""Tree levels per tile level (C2SP tlog-tiles)."""

TILE_WIDTH = 1 << TILE_HEIGHT
"""Hashes in a full tile: 256."""

MAX_TILE_LEVEL = 63
"""Largest tile level a path may name."""

MAX_ENTRY_LENGTH = 0xFFFF
"""Largest entry an entry bundle can hold (its length prefix is a uint16)."""

_INDEX_ELEMENT = re.compile(r"x[0-9]{3}")
_LAST_ELEMENT = re.compile(r"[0-9]{3}")
_DECIMAL = re.compile(r"0|[1-9][0-9]*")


# --- coordinates and paths ------------------------------------------------------------


@dataclass(frozen=True, slots=True, order=True)
class Tile:
    """Tile ``index`` at tile ``level``, holding ``width`` hashes (256 when full)."""

    level: int
    index: int
    width: int = TILE_WIDTH

    def __post_init__(self) -> None:
        if not 0 <= self.level <= MAX_TILE_LEVEL:
            raise TileError(f"tile level {self.level} outside 0..{MAX_TILE_LEVEL}")
        if self.index < 0:
            raise TileError(f"tile index {self.index} is negative")
        if not 1 <= self.width <= TILE_WIDTH:
            raise TileError(f"tile width {self.width} outside 1..{TILE_WIDTH}")

    @property
    def is_full(self) -> bool:
        return self.width == TILE_WIDTH

    @property
    def path(self) -> str:
        """``tile/<L>/<N>[.p/<W>]``."""
        return f"tile/{self.level}/{format_tile_index(self.index)}{_width_suffix(self.width)}"

    @property
    def start_leaf(self) -> int:
        """The tile's start index: the first leaf its hashes span."""
        return self.index << (TILE_HEIGHT * (self.level + 1))

    @property
    def end_leaf(self) -> int:
        """One past the last leaf its ``width`` hashes span."""
        return (self.index * TILE_WIDTH + self.width) << (TILE_HEIGHT * self.level)


def _width_suffix(width: int) -> str:
    return "" if width == TILE_WIDTH else f".p/{width}"


def format_tile_index(index: int) -> str:
    """``N`` as zero-padded 3-digit path elements, all but the last prefixed ``x``."""
    if index < 0:
        raise TileError(f"tile index {index} is negative")
    elements = [f"{index % 1000:03d}"]
    index //= 1000
    while index:
        elements.append(f"x{index % 1000:03d}")
        index //= 1000
    return "/".join(reversed(elements))


def parse_tile_index(text: str) -> int:
    """The tile index from its path elements (the inverse of :func:`format_tile_index`)."""
    *upper, last = text.split("/")
    if not _LAST_ELEMENT.fullmatch(last) or not all(_INDEX_ELEMENT.fullmatch(e) for e in upper):
        raise TileError(f"malformed tile index {text!r}")
    if upper and upper[0] == "x000":
        raise TileError(f"tile index {text!r} has a leading zero element")
    index = 0
    for element in [*(e[1:] for e in upper), last]:
        index = index * 1000 + int(element)
    return index


def _split_width(text: str) -> tuple[str, int]:
    """(index text, width) of ``<N>[.p/<W>]``."""
    index_text, dot, width_text = text.partition(".p/")
    if not dot:
        return text, TILE_WIDTH
    if not _DECIMAL.fullmatch(width_text) or not 1 <= int(width_text) < TILE_WIDTH:
        raise TileError(f"malformed partial tile width {width_text!r}")
    return index_text, int(width_text)


def parse_tile_path(path: str) -> Tile:
    """The :class:`Tile` named by ``tile/<L>/<N>[.p/<W>]``; the single valid spelling only."""
    prefix, _, rest = path.partition("/")
    level_text, _, rest = rest.partition("/")
    if prefix != "tile" or not _DECIMAL.fullmatch(level_text):
        raise TileError(f"not a tile path: {path!r}")
    index_text, width = _split_width(rest)
    return Tile(int(level_text), parse_tile_index(index_text), width)


def entry_bundle_path(index: int, width: int = TILE_WIDTH) -> str:
    """``tile/entries/<N>[.p/<W>]``: the entries hashed into level-0 tile ``index``."""
    Tile(0, index, width)  # validates index and width as for the level-0 tile
    return f"tile/entries/{format_tile_index(index)}{_width_suffix(width)}"


def parse_entry_bundle_path(path: str) -> tuple[int, int]:
    """(index, width) of an entry bundle path."""
    if not path.startswith("tile/entries/"):
        raise TileError(f"not an entry bundle path: {path!r}")
    index_text, width = _split_width(path.removeprefix("tile/entries/"))
    return parse_tile_index(index_text), width


# --- entry bundles --------------------------------------------------------------------


def encode_entry_bundle(entries: Sequence[bytes]) -> bytes:
    """Entries as big-endian uint16 length-prefixed byte strings (C2SP tlog-tiles)."""
    if not 1 <= len(entries) <= TILE_WIDTH:
        raise TileError(f"an entry bundle holds 1..{TILE_WIDTH} entries, got {len(entries)}")
    parts = []
    for entry in entries:
        if len(entry) > MAX_ENTRY_LENGTH:
            raise TileError(f"entry of {len(entry)} bytes exceeds the uint16 length prefix")
        parts.append(len(entry).to_bytes(2, "big") + entry)
    return b"".join(parts)


def decode_entry_bundle(data: bytes) -> list[bytes]:
    """The entries of a bundle; a truncated entry or more than 256 entries is an error."""
    entries, offset = [], 0
    while offset < len(data):
        end = offset + 2 + int.from_bytes(data[offset : offset + 2], "big")
        if offset + 2 > len(data) or end > len(data):
            raise TileError("entry bundle ends inside an entry")
        entries.append(data[offset + 2 : end])
        offset = end
    if not 1 <= len(entries) <= TILE_WIDTH:
        raise TileError(f"an entry bundle holds 1..{TILE_WIDTH} entries, got {len(entries)}")
    return entries


# --- which tiles a tree size has ------------------------------------------------------


def tile_width(level: int, index: int, size: int) -> int:
    """The width of tile (``level``, ``index``) in the tree of ``size``; 0 if it is empty."""
    count = size >> (TILE_HEIGHT * level)
    return max(0, min(TILE_WIDTH, count - index * TILE_WIDTH))


def new_tiles(old_size: int, new_size: int) -> list[Tile]:
    """The tiles to store when the tree grows from ``old_size`` to ``new_size``.

    Every tile that is new or wider at ``new_size``: full tiles completed by the growth and
    the partial tile of each level (C2SP tlog-tiles, "Partial Tiles").
    """
    if not 0 <= old_size <= new_size:
        raise TreeRangeError(f"cannot grow a tree from {old_size} to {new_size}")
    tiles = []
    level = 0
    while new_size >> (TILE_HEIGHT * level):
        old_count, new_count = old_size >> (TILE_HEIGHT * level), new_size >> (TILE_HEIGHT * level)
        if old_count != new_count:
            first, last = old_count // TILE_WIDTH, new_count // TILE_WIDTH
            tiles += [Tile(level, index) for index in range(first, last)]
            if new_count % TILE_WIDTH:
                tiles.append(Tile(level, last, new_count % TILE_WIDTH))
        level += 1
    return tiles


@dataclass(frozen=True, slots=True)
class NodeSlot:
    """Where a perfect node lives: ``count`` hashes from ``offset`` in ``tile``, folded."""

    tile: Tile
    offset: int
    count: int


def node_slot(node: Node, size: int) -> NodeSlot:
    """The tile read that yields ``node`` in the tree of ``size`` (C2SP tlog-tiles)."""
    if node.level < 0 or node.index < 0 or (node.index + 1) << node.level > size:
        raise TreeRangeError(f"node {node} is not complete in a tree of size {size}")
    level, height = divmod(node.level, TILE_HEIGHT)
    first = node.index << height
    index, offset = divmod(first, TILE_WIDTH)
    return NodeSlot(Tile(level, index, tile_width(level, index, size)), offset, 1 << height)


def tiles_for_nodes(nodes: Sequence[Node], size: int) -> list[Tile]:
    """The distinct tiles to read for ``nodes`` at tree ``size``, in first-use order."""
    return list(dict.fromkeys(node_slot(node, size).tile for node in nodes))


def _ranges_tiles(ranges: Sequence[tuple[int, int]], size: int) -> list[Tile]:
    nodes = [node for start, end in ranges for node in range_nodes(start, end)]
    return tiles_for_nodes(nodes, size)


def inclusion_proof_tiles(index: int, size: int) -> list[Tile]:
    """The tiles a client fetches to build PATH(index, D[size])."""
    if not 0 <= index < size:
        raise TreeRangeError(f"leaf {index} is not in a tree of size {size}")
    return _ranges_tiles(inclusion_ranges(index, 0, size), size)


def consistency_proof_tiles(size1: int, size2: int) -> list[Tile]:
    """The tiles a client fetches to build PROOF(size1, D[size2])."""
    if not 0 < size1 <= size2:
        raise TreeRangeError(f"no consistency proof from {size1} to {size2}")
    return _ranges_tiles(consistency_ranges(0, size1, size2), size2)


# --- reading nodes from tiles ---------------------------------------------------------


class TileSource(Protocol):
    """Returns the stored bytes of tiles, in the order asked, in one batch.

    A store raises :class:`~meterseal.ledger.errors.MissingTileError` for a tile it does not
    hold. The SQLite and PostgreSQL tile stores implement this.
    """

    def read_tiles(self, tiles: Sequence[Tile]) -> Sequence[bytes]: ...


class TileNodeReader:
    """A :class:`~meterseal.ledger.merkle.NodeReader` for one tree size, backed by tiles."""

    __slots__ = ("hasher", "size", "source")

    def __init__(self, source: TileSource, size: int, hasher: TreeHasher = SHA256_HASHER) -> None:
        self.source = source
        self.size = size
        self.hasher = hasher

    def read_nodes(self, nodes: Sequence[Node]) -> list[bytes]:
        slots = [node_slot(node, self.size) for node in nodes]
        tiles = list(dict.fromkeys(slot.tile for slot in slots))
        data = dict(zip(tiles, self.source.read_tiles(tiles), strict=True))
        return [self._node_hash(slot, data[slot.tile]) for slot in slots]

    def _node_hash(self, slot: NodeSlot, data: bytes) -> bytes:
        size = self.hasher.digest_size
        if len(data) != slot.tile.width * size:
            raise TileError(
                f"{slot.tile.path} holds {len(data)} bytes, not {slot.tile.width} hashes"
            )
        row = data[slot.offset * size : (slot.offset + slot.count) * size]
        while len(row) > size:
            row = self.hasher.hash_row(row)
        return bytes(row)


# --- the in-memory tiled tree ---------------------------------------------------------


class MemoryTiles:
    """An append-only tiled Merkle tree in memory: appends batches, serves tiles and proofs.

    Row ``L`` holds every hash of tile level ``L`` (the perfect nodes at tree level ``8L``)
    that the tree has so far, concatenated; full tiles are its 256-hash slices and the tail
    is the partial tile. Appending only extends rows, so a full tile never changes. Full
    tiles completed by a batch are hashed up together, level by level.
    """

    def __init__(self, hasher: TreeHasher = SHA256_HASHER) -> None:
        self.hasher = hasher
        self._rows: list[bytearray] = [bytearray()]
        self._size = 0

    @property
    def size(self) -> int:
        """The number of leaves."""
        return self._size

    def append_leaves(self, entries: Sequence[bytes]) -> int:
        """Hash ``entries`` as leaves (RFC 9162 section 2.1.1) and append them; the new size."""
        return self.append_hashes(self.hasher.hash_leaves(entries))

    def append_hashes(self, leaf_hashes: Sequence[bytes]) -> int:
        """Append a batch of leaf hashes; returns the new tree size."""
        if leaf_hashes and {len(h) for h in leaf_hashes} != {self.hasher.digest_size}:
            raise TileError(f"leaf hashes must all be {self.hasher.digest_size} bytes")
        self._extend(0, b"".join(leaf_hashes))
        self._size += len(leaf_hashes)
        return self._size

    def _extend(self, level: int, hashes: bytes) -> None:
        tile_bytes = TILE_WIDTH * self.hasher.digest_size
        row = self._rows[level]
        full_before = len(row) // tile_bytes
        row += hashes
        full_after = len(row) // tile_bytes
        if full_after == full_before:
            return
        if level + 1 == len(self._rows):
            self._rows.append(bytearray())
        completed = bytes(row[full_before * tile_bytes : full_after * tile_bytes])
        self._extend(level + 1, self._tile_roots(completed))

    def _tile_roots(self, tiles: bytes) -> bytes:
        """The MTH of each full tile in ``tiles``: eight levels of pairwise hashing."""
        for _ in range(TILE_HEIGHT):
            tiles = self.hasher.hash_row(tiles)
        return tiles

    def read_tiles(self, tiles: Sequence[Tile]) -> list[bytes]:
        """The bytes of each tile; partial tiles of any size up to the current one."""
        return [self.tile(tile) for tile in tiles]

    def tile(self, tile: Tile) -> bytes:
        """The stored hashes of ``tile``; :class:`MissingTileError` if the tree is too small."""
        size = self.hasher.digest_size
        start = tile.index * TILE_WIDTH
        row = self._rows[tile.level] if tile.level < len(self._rows) else bytearray()
        if len(row) < (start + tile.width) * size:
            raise MissingTileError(f"{tile.path} is not in a tree of size {self._size}")
        return bytes(row[start * size : (start + tile.width) * size])

    def reader(self, size: int | None = None) -> TileNodeReader:
        """A node reader for the tree at ``size`` (default: the current size)."""
        size = self._size if size is None else size
        if not 0 <= size <= self._size:
            raise TreeRangeError(f"size {size} is not a size this tree has had")
        return TileNodeReader(self, size, self.hasher)

    def root(self, size: int | None = None) -> bytes:
        """MTH(D[size]), by default of the whole tree."""
        size = self._size if size is None else size
        return subtree_hash(0, size, self.reader(size), hasher=self.hasher)

    def inclusion_proof(self, index: int, size: int | None = None) -> list[bytes]:
        """PATH(index, D[size]) (RFC 9162 section 2.1.3.1)."""
        size = self._size if size is None else size
        return subtree_inclusion_proof(index, 0, size, self.reader(size), hasher=self.hasher)

    def consistency_proof(self, size1: int, size2: int | None = None) -> list[bytes]:
        """PROOF(size1, D[size2]) (RFC 9162 section 2.1.4.1), ``0 < size1 <= size2``."""
        size2 = self._size if size2 is None else size2
        if not 0 < size1 <= size2:
            raise TreeRangeError(f"no consistency proof from {size1} to {size2}")
        return subtree_consistency_proof(0, size1, size2, self.reader(size2), hasher=self.hasher)
