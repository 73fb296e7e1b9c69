"""The ledger's own store: what the sequencer writes and what the readers ask of it.

The log is kept in the C2SP tlog-tiles layout (docs/ledger.md, section 10), append-only:

* ``ledger_tiles (level, idx, width, data)``: every tile the tree has had. A full tile is
  width 256; a partial tile is stored once per width the tree passed through, keyed by
  ``(level, idx, width)``, so growing a partial tile inserts a new row and never updates
  one (c2sp.org/tlog-tiles, "Partial Tiles");
* ``ledger_entries (idx, width, data)``: entry bundles, the same way;
* ``ledger_checkpoints (id, size, note)``: every signed checkpoint, the cosigned ones as
  new rows; the latest is the highest ``id``;
* ``ledger_witnesses (id, witness, size)``: the size each witness last cosigned;
* ``ledger_meta (key, value)``: the log's origin and tree hash, written once at creation.

No code path updates or deletes a row, and the database refuses to: triggers raise on
``UPDATE`` and ``DELETE`` (and ``TRUNCATE`` on PostgreSQL) of every table.

One integration is one transaction (:meth:`LedgerStorage.integrate`): the entry bundles,
the tiles of every level and the new checkpoint commit together or not at all, and only
if the stored latest checkpoint still has the size the sequencer started from (two
sequencers on one log cannot fork it).

A store that cannot be reached raises :class:`~meterseal.ledger.errors.LedgerUnavailableError`;
one that refuses a write (a trigger, a duplicate key, a stale size) raises
:class:`~meterseal.ledger.errors.LedgerStorageError`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from meterseal.ledger.tiles import TILE_WIDTH, Tile


@dataclass(frozen=True, slots=True)
class LogIdentity:
    """What a store is the log *of*: its origin line and its tree hash (``SHA-256``/``SM3``)."""

    origin: str
    hash_name: str


@dataclass(frozen=True, slots=True)
class StoredCheckpoint:
    """One checkpoint row: the tree ``size`` and the signed ``note`` (with cosignatures)."""

    size: int
    note: bytes


@dataclass(frozen=True, slots=True)
class StoredTile:
    """A tile to insert: its coordinates (width included) and its concatenated hashes."""

    tile: Tile
    data: bytes


@dataclass(frozen=True, slots=True)
class StoredBundle:
    """An entry bundle to insert: level-0 tile ``index``, ``width`` entries, encoded."""

    index: int
    width: int
    data: bytes


@dataclass(frozen=True, slots=True)
class Integration:
    """Everything one batch adds, written in one transaction.

    ``old_size`` is the size the sequencer grew the tree from; the store refuses the
    integration if its latest checkpoint is not at that size.
    """

    old_size: int
    new_size: int
    bundles: tuple[StoredBundle, ...]
    tiles: tuple[StoredTile, ...]
    checkpoint: bytes


class LedgerStorage(Protocol):
    """The ledger's tables, implemented over SQLite and PostgreSQL."""

    def create(self, identity: LogIdentity) -> None:
        """Create the tables and triggers if missing and record ``identity`` once.

        An existing log with another identity raises LedgerStorageError.
        """
        ...

    def identity(self) -> LogIdentity:
        """The origin and hash the log was created with (LedgerStorageError if none)."""
        ...

    def latest_checkpoint(self) -> StoredCheckpoint | None:
        """The newest checkpoint row, or None for a log that has none yet."""
        ...

    def integrate(self, integration: Integration) -> None:
        """Insert the bundles, tiles and checkpoint of one batch in one transaction."""
        ...

    def add_checkpoint(self, size: int, note: bytes) -> None:
        """Insert a checkpoint row (a cosigned note for a size already integrated)."""
        ...

    def witness_sizes(self) -> dict[str, int]:
        """The size each witness last cosigned, by witness name."""
        ...

    def record_witness(self, witness: str, size: int) -> None:
        """Append ``witness`` having cosigned the checkpoint of ``size``."""
        ...

    def read_tiles(self, tiles: Sequence[Tile]) -> list[bytes]:
        """The hashes of each tile, in one query (a :class:`~meterseal.ledger.tiles.TileSource`).

        A partial tile is served from its row or as the prefix of any wider row of the same
        tile (a tile only grows); MissingTileError if none is stored.
        """
        ...

    def read_bundles(self, bundles: Sequence[tuple[int, int]]) -> list[bytes]:
        """The encoded entry bundles ``(index, width)``, in one query, prefixes as for tiles."""
        ...

    def close(self) -> None:
        """Close the connection; later calls raise LedgerUnavailableError."""
        ...


def full_width(width: int) -> bool:
    """Whether a stored row of ``width`` is a full tile or bundle (immutable forever)."""
    return width == TILE_WIDTH
