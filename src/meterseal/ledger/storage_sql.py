"""The SQL both ledger stores share: tables, reads in one query, the one-transaction write.

The backends (:mod:`meterseal.ledger.storage_sqlite`, :mod:`meterseal.ledger.storage_postgres`)
supply a connection, their triggers and their error translation; the statements here are
written with ``?`` placeholders and the PostgreSQL backend rewrites them to ``%s``. See
:mod:`meterseal.ledger.storage` for the layout and the append-only rules.
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import AbstractContextManager
from typing import Any, Protocol

from meterseal.ledger.errors import LedgerStorageError, MissingTileError
from meterseal.ledger.storage import Integration, LogIdentity, StoredCheckpoint
from meterseal.ledger.tiles import Tile, decode_entry_bundle, encode_entry_bundle

TABLES = ("ledger_meta", "ledger_tiles", "ledger_entries", "ledger_checkpoints", "ledger_witnesses")
"""Every table of the ledger; each is append-only (triggers refuse UPDATE and DELETE)."""

MAX_READS_PER_QUERY = 64
"""Tiles or bundles read by one statement (a proof needs at most a handful)."""

_INSERT_TILE = "INSERT INTO ledger_tiles (level, idx, width, data) VALUES (?, ?, ?, ?)"
_INSERT_BUNDLE = "INSERT INTO ledger_entries (idx, width, data) VALUES (?, ?, ?)"
_INSERT_CHECKPOINT = "INSERT INTO ledger_checkpoints (size, note) VALUES (?, ?)"
_INSERT_WITNESS = "INSERT INTO ledger_witnesses (witness, size) VALUES (?, ?)"
_LATEST_CHECKPOINT = "SELECT size, note FROM ledger_checkpoints ORDER BY id DESC LIMIT 1"
_META = "SELECT key, value FROM ledger_meta"
_INSERT_META = "INSERT INTO ledger_meta (key, value) VALUES (?, ?)"
_WITNESS_SIZES = (
    "SELECT w.witness, w.size FROM ledger_witnesses w JOIN"
    " (SELECT witness, max(id) AS id FROM ledger_witnesses GROUP BY witness) latest"
    " ON w.id = latest.id"
)
# The narrowest stored row of one tile that is at least as wide as asked (index range scan).
_TILE_PART = (
    "SELECT * FROM (SELECT CAST(? AS INTEGER) AS pos, width, data FROM ledger_tiles"
    " WHERE level = ? AND idx = ? AND width >= ? ORDER BY width LIMIT 1) AS t{0}"
)
_BUNDLE_PART = (
    "SELECT * FROM (SELECT CAST(? AS INTEGER) AS pos, width, data FROM ledger_entries"
    " WHERE idx = ? AND width >= ? ORDER BY width LIMIT 1) AS t{0}"
)

Row = tuple[Any, ...]


class Db(Protocol):
    """The few operations the shared SQL needs from a backend connection."""

    def all(self, sql: str, params: Sequence[object] = ()) -> list[Row]: ...

    def run(self, sql: str, params: Sequence[object] = ()) -> None: ...

    def many(self, sql: str, rows: Sequence[Sequence[object]]) -> None: ...


class SqlLedgerStorage:
    """:class:`~meterseal.ledger.storage.LedgerStorage` over a backend's :class:`Db`."""

    def _reading(self) -> AbstractContextManager[Db]:
        raise NotImplementedError

    def _writing(self) -> AbstractContextManager[Db]:
        """One transaction, committed when the block ends, rolled back if it raises."""
        raise NotImplementedError

    def _has_tables(self, db: Db) -> bool:
        raise NotImplementedError

    def _schema(self) -> Sequence[str]:
        """The backend's CREATE statements: tables, then append-only triggers."""
        raise NotImplementedError

    def _lock_log(self, db: Db) -> None:
        """Serialise writers of the log for the rest of the transaction (the backend's way;
        SQLite's ``BEGIN IMMEDIATE`` already does)."""
        del db

    # --- schema and identity --------------------------------------------------------------

    def create(self, identity: LogIdentity) -> None:
        with self._writing() as db:
            if not self._has_tables(db):
                for statement in self._schema():
                    db.run(statement)
            stored = _identity(db.all(_META))
            if stored is None:
                db.many(_INSERT_META, [("origin", identity.origin), ("hash", identity.hash_name)])
            elif stored != identity:
                raise LedgerStorageError(
                    f"this store holds the log {stored.origin!r} ({stored.hash_name}), "
                    f"not {identity.origin!r} ({identity.hash_name})"
                )

    def identity(self) -> LogIdentity:
        with self._reading() as db:
            if not self._has_tables(db):
                raise LedgerStorageError("no ledger here: run `meterseal ledger init` first")
            stored = _identity(db.all(_META))
        if stored is None:
            raise LedgerStorageError("the ledger store has no origin recorded")
        return stored

    # --- checkpoints and witnesses --------------------------------------------------------

    def latest_checkpoint(self) -> StoredCheckpoint | None:
        with self._reading() as db:
            rows = db.all(_LATEST_CHECKPOINT)
        return StoredCheckpoint(int(rows[0][0]), bytes(rows[0][1])) if rows else None

    def add_checkpoint(self, size: int, note: bytes) -> None:
        with self._writing() as db:
            db.run(_INSERT_CHECKPOINT, (size, note))

    def witness_sizes(self) -> dict[str, int]:
        with self._reading() as db:
            return {str(name): int(size) for name, size in db.all(_WITNESS_SIZES)}

    def record_witness(self, witness: str, size: int) -> None:
        with self._writing() as db:
            db.run(_INSERT_WITNESS, (witness, size))

    # --- the write path -------------------------------------------------------------------

    def integrate(self, integration: Integration) -> None:
        with self._writing() as db:
            self._lock_log(db)
            rows = db.all(_LATEST_CHECKPOINT)
            stored_size = int(rows[0][0]) if rows else 0
            if stored_size != integration.old_size:
                raise LedgerStorageError(
                    f"the log is at size {stored_size}, not {integration.old_size}: "
                    "another sequencer wrote to it"
                )
            db.many(_INSERT_BUNDLE, [(b.index, b.width, b.data) for b in integration.bundles])
            db.many(
                _INSERT_TILE,
                [(t.tile.level, t.tile.index, t.tile.width, t.data) for t in integration.tiles],
            )
            db.run(_INSERT_CHECKPOINT, (integration.new_size, integration.checkpoint))

    # --- reads ------------------------------------------------------------------------------

    def read_tiles(self, tiles: Sequence[Tile]) -> list[bytes]:
        found = self._read_parts(
            _TILE_PART, [(t.level, t.index, t.width) for t in tiles], [t.path for t in tiles]
        )
        return [
            data[: tile.width * (len(data) // width)]
            for tile, (width, data) in zip(tiles, found, strict=True)
        ]

    def read_bundles(self, bundles: Sequence[tuple[int, int]]) -> list[bytes]:
        found = self._read_parts(
            _BUNDLE_PART, list(bundles), [f"entry bundle {i}.p/{w}" for i, w in bundles]
        )
        return [
            data if width == asked else encode_entry_bundle(decode_entry_bundle(data)[:asked])
            for (_, asked), (width, data) in zip(bundles, found, strict=True)
        ]

    def _read_parts(
        self, part: str, keys: Sequence[tuple[int, ...]], names: Sequence[str]
    ) -> list[tuple[int, bytes]]:
        """(stored width, data) for each key, ``MAX_READS_PER_QUERY`` keys per statement."""
        found: dict[int, tuple[int, bytes]] = {}
        with self._reading() as db:
            for first in range(0, len(keys), MAX_READS_PER_QUERY):
                chunk = range(first, min(len(keys), first + MAX_READS_PER_QUERY))
                sql = " UNION ALL ".join(part.format(n) for n in range(len(chunk)))
                params = [value for pos in chunk for value in (pos, *keys[pos])]
                for pos, width, data in db.all(sql, params):
                    found[int(pos)] = (int(width), bytes(data))
        missing = [names[pos] for pos in range(len(keys)) if pos not in found]
        if missing:
            raise MissingTileError(f"not stored: {', '.join(missing[:4])}")
        return [found[pos] for pos in range(len(keys))]


def _identity(rows: Sequence[Row]) -> LogIdentity | None:
    meta = {str(key): str(value) for key, value in rows}
    if not meta:
        return None
    return LogIdentity(meta.get("origin", ""), meta.get("hash", ""))
