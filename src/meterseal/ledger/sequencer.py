"""The sequencer: integrates batches of entries into the stored log and signs checkpoints.

It keeps the tree's **right edge** in memory: for every tile level the hashes of its
rightmost partial tile, and the entries of the partial entry bundle. Appending a batch
(:func:`grow`, pure) hashes the leaves onto level 0, hashes every tile the batch completes
up to the next level (eight rounds of pairwise hashing, c2sp.org/tlog-tiles "Merkle
Tree"), and yields exactly the tiles ``new_tiles(old, new)`` names plus the entry bundles.
Every node of the new root's decomposition (RFC 9162 section 2.1.1) lies in one of the new
right-edge tiles, so the root comes from the edge alone.

:meth:`Sequencer.submit` then writes bundles, tiles and the signed checkpoint in one
transaction (:meth:`~meterseal.ledger.storage.LedgerStorage.integrate`); if that raises,
the edge in memory is dropped and reloaded from the store before the next batch. On start
the edge is read back from the store's partial tiles and checked against the latest
checkpoint's root, so a restart continues the same tree.

After each integration each configured witness is asked to cosign (c2sp.org/tlog-witness),
from the size it last cosigned (persisted per witness; on a 409 the witness's own size is
used once). A witness that refuses or is down is logged and asked again at the next
integration; it never fails a submission. Cosigned notes are stored as new checkpoint rows.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

from meterseal.errors import VerificationError
from meterseal.ledger.checkpoint import Checkpoint, open_checkpoint, sign_checkpoint
from meterseal.ledger.errors import (
    LedgerError,
    LedgerStorageError,
    MissingTileError,
    NoteError,
    WitnessConflictError,
)
from meterseal.ledger.interface import Submitted, WitnessPort
from meterseal.ledger.merkle import SHA256_HASHER, TreeHasher, consistency_proof, tree_hash
from meterseal.ledger.note import NoteSigner, NoteVerifier, parse_note
from meterseal.ledger.storage import (
    Integration,
    LedgerStorage,
    LogIdentity,
    StoredBundle,
    StoredTile,
)
from meterseal.ledger.tiles import (
    TILE_HEIGHT,
    TILE_WIDTH,
    Tile,
    TileNodeReader,
    decode_entry_bundle,
    encode_entry_bundle,
)

logger = logging.getLogger(__name__)


# --- the right edge (pure) --------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RightEdge:
    """The tree's right border at ``size``: each tile level's partial tile, and the
    partial entry bundle. ``rows[L]`` is empty when level ``L``'s hash count is a multiple
    of 256."""

    size: int
    rows: tuple[bytes, ...] = ()
    bundle: tuple[bytes, ...] = ()


@dataclass(frozen=True, slots=True)
class Growth:
    """What appending a batch makes: the new edge and the rows to store."""

    edge: RightEdge
    tiles: tuple[StoredTile, ...]
    bundles: tuple[StoredBundle, ...]


def _tile_roots(completed: bytes, hasher: TreeHasher) -> bytes:
    """MTH of each full tile in ``completed``: eight levels of pairwise hashing."""
    for _ in range(TILE_HEIGHT):
        completed = hasher.hash_row(completed)
    return completed


def _grow_tiles(
    edge: RightEdge, leaf_hashes: bytes, hasher: TreeHasher
) -> tuple[list[bytes], list[StoredTile]]:
    """The new rows of every level and the tiles to store (full and partial)."""
    size, tile_bytes = hasher.digest_size, TILE_WIDTH * hasher.digest_size
    rows, tiles, carry, level = list(edge.rows), [], leaf_hashes, 0
    while carry:
        if level == len(rows):
            rows.append(b"")
        first = (edge.size >> (TILE_HEIGHT * level)) // TILE_WIDTH
        row = rows[level] + carry
        full = len(row) // tile_bytes
        tiles += [
            StoredTile(Tile(level, first + i), row[i * tile_bytes : (i + 1) * tile_bytes])
            for i in range(full)
        ]
        rows[level] = row[full * tile_bytes :]
        if rows[level]:
            tiles.append(
                StoredTile(Tile(level, first + full, len(rows[level]) // size), rows[level])
            )
        carry = _tile_roots(row[: full * tile_bytes], hasher)
        level += 1
    return rows, tiles


def _grow_bundles(
    edge: RightEdge, entries: Sequence[bytes]
) -> tuple[list[bytes], list[StoredBundle]]:
    """The new partial bundle and the bundles to store (full and partial)."""
    first = edge.size // TILE_WIDTH
    pending = [*edge.bundle, *entries]
    bundles = [
        StoredBundle(first + n, len(chunk), encode_entry_bundle(chunk))
        for n, chunk in enumerate(
            pending[i : i + TILE_WIDTH] for i in range(0, len(pending), TILE_WIDTH)
        )
    ]
    rest = len(pending) % TILE_WIDTH
    return (pending[len(pending) - rest :] if rest else []), bundles


def grow(edge: RightEdge, entries: Sequence[bytes], hasher: TreeHasher) -> Growth:
    """Append ``entries`` as leaves (RFC 9162 section 2.1.1) to the tree at ``edge``."""
    rows, tiles = _grow_tiles(edge, b"".join(hasher.hash_leaves(entries)), hasher)
    bundle, bundles = _grow_bundles(edge, entries)
    new_edge = RightEdge(edge.size + len(entries), tuple(rows), tuple(bundle))
    return Growth(new_edge, tuple(tiles), tuple(bundles))


class _EdgeTiles:
    """A :class:`~meterseal.ledger.tiles.TileSource` of the right edge's partial tiles."""

    def __init__(self, edge: RightEdge, hasher: TreeHasher) -> None:
        self._edge = edge
        self._size = hasher.digest_size

    def read_tiles(self, tiles: Sequence[Tile]) -> list[bytes]:
        out = []
        for tile in tiles:
            row = self._edge.rows[tile.level] if tile.level < len(self._edge.rows) else b""
            last = (self._edge.size >> (TILE_HEIGHT * tile.level)) // TILE_WIDTH
            if tile.index != last or len(row) < tile.width * self._size:
                raise MissingTileError(f"{tile.path} is not on the right edge")
            out.append(row[: tile.width * self._size])
        return out


def edge_root(edge: RightEdge, hasher: TreeHasher) -> bytes:
    """MTH(D[edge.size]) from the right edge alone."""
    return tree_hash(
        edge.size, TileNodeReader(_EdgeTiles(edge, hasher), edge.size, hasher), hasher=hasher
    )


def edge_tiles(size: int) -> list[Tile]:
    """The partial tiles that make up the right edge at ``size``, lowest level first."""
    tiles, level = [], 0
    while size >> (TILE_HEIGHT * level):
        count = size >> (TILE_HEIGHT * level)
        if count % TILE_WIDTH:
            tiles.append(Tile(level, count // TILE_WIDTH, count % TILE_WIDTH))
        level += 1
    return tiles


def load_edge(storage: LedgerStorage, size: int) -> RightEdge:
    """Read the right edge at ``size`` back from the stored partial tiles and bundle."""
    tiles = edge_tiles(size)
    data = dict(zip(tiles, storage.read_tiles(tiles), strict=True))
    levels = len(tiles) and tiles[-1].level + 1
    while size >> (TILE_HEIGHT * levels):
        levels += 1
    rows = [b""] * levels
    for tile, hashes in data.items():
        rows[tile.level] = hashes
    bundle: list[bytes] = []
    if size % TILE_WIDTH:
        (encoded,) = storage.read_bundles([(size // TILE_WIDTH, size % TILE_WIDTH)])
        bundle = decode_entry_bundle(encoded)
    return RightEdge(size, tuple(rows), tuple(bundle))


# --- the sequencer --------------------------------------------------------------------


class LogSigner(NoteSigner, Protocol):
    """A note signer that also names its verifier (Ed25519NoteSigner, Sm2NoteSigner)."""

    @property
    def verifier(self) -> NoteVerifier: ...


class Sequencer:
    """Integrates batches into ``storage`` and signs each new tree head with ``signers``.

    ``witnesses`` maps a witness's name (how its size is remembered) to its port. Thread
    safe: submissions run one at a time.
    """

    def __init__(
        self,
        storage: LedgerStorage,
        signers: Sequence[LogSigner],
        *,
        origin: str,
        hasher: TreeHasher = SHA256_HASHER,
        witnesses: Mapping[str, WitnessPort] | None = None,
    ) -> None:
        if not signers:
            raise LedgerError("a ledger needs at least one signing key")
        self.storage = storage
        self.origin = origin
        self.hasher = hasher
        self._signers = tuple(signers)
        self._witnesses = dict(witnesses or {})
        self._lock = threading.Lock()
        storage.create(LogIdentity(origin, hasher.name))
        self._witness_sizes = storage.witness_sizes()
        self._state: tuple[RightEdge, bytes] | None = self._load()
        self._size = self._state[0].size

    @property
    def signers(self) -> list[LogSigner]:
        """The keys that sign each checkpoint."""
        return list(self._signers)

    @property
    def size(self) -> int:
        """The size of the latest tree known integrated (every proof up to it is served)."""
        return self._size

    def checkpoint(self) -> bytes:
        """The latest signed checkpoint note, with the cosignatures it got."""
        state = self._state
        if state is not None:  # no lock: a reader never waits for an integration
            return state[1]
        with self._lock:
            return self._current()[1]

    def _current(self) -> tuple[RightEdge, bytes]:
        """The edge and note, read back from the store after a failed integration."""
        if self._state is None:
            self._state = self._load()
            self._size = self._state[0].size
        return self._state

    # --- start and restart --------------------------------------------------------------

    def _load(self) -> tuple[RightEdge, bytes]:
        """The stored edge and latest note; the empty tree's checkpoint on first start."""
        latest = self.storage.latest_checkpoint()
        if latest is None:
            edge = RightEdge(0)
            note = self._sign(edge)
            self.storage.integrate(Integration(0, 0, (), (), note))
            return edge, note
        edge = load_edge(self.storage, latest.size)
        stored = self._open_own(latest.note)
        if stored.size != edge.size or stored.root_hash != edge_root(edge, self.hasher):
            raise LedgerStorageError(
                f"the stored tiles at size {latest.size} do not match the latest checkpoint"
            )
        return edge, latest.note

    def _open_own(self, note: bytes) -> Checkpoint:
        """The checkpoint of a stored note that this log's own keys signed."""
        verifiers = [signer.verifier for signer in self._signers]
        try:
            return open_checkpoint(
                note, verifiers, origin=self.origin, hash_size=self.hasher.digest_size
            ).checkpoint
        except (NoteError, VerificationError) as exc:
            raise LedgerStorageError(
                f"the latest stored checkpoint is not one this log signed: {exc}"
            ) from exc

    def _sign(self, edge: RightEdge) -> bytes:
        checkpoint = Checkpoint(self.origin, edge.size, edge_root(edge, self.hasher))
        return sign_checkpoint(checkpoint, self._signers)

    # --- integration ----------------------------------------------------------------------

    def submit(self, entries: Sequence[bytes]) -> Submitted:
        """Append ``entries`` in one transaction, sign the new checkpoint, ask witnesses."""
        with self._lock:
            edge, latest = self._current()
            if not entries:
                return Submitted(edge.size, 0, edge.size, latest)
            growth = grow(edge, entries, self.hasher)
            note = self._sign(growth.edge)
            try:
                self.storage.integrate(
                    Integration(edge.size, growth.edge.size, growth.bundles, growth.tiles, note)
                )
            except BaseException:
                self._state = None  # committed or not: read the edge back before the next batch
                raise
            self._size = growth.edge.size
            self._state = (growth.edge, note)
            cosigned = self._cosign(note, growth.edge.size)
            self._state = (growth.edge, cosigned)
            return Submitted(edge.size, len(entries), growth.edge.size, cosigned)

    # --- witnesses ------------------------------------------------------------------------

    def _cosign(self, note: bytes, size: int) -> bytes:
        """``note`` with the cosignature lines of every witness that cosigned it."""
        cosigned = note
        for name, port in self._witnesses.items():
            try:
                lines = self._ask(name, port, note, size)
                parse_note(cosigned + lines)
            except Exception as exc:  # noqa: BLE001 - a witness never fails a committed batch
                logger.warning("witness %s did not cosign size %d: %s", name, size, exc)
                continue
            cosigned += lines
            self._remember(name, size)
        if cosigned != note:
            try:
                self.storage.add_checkpoint(size, cosigned)
            except LedgerError as exc:
                logger.warning("cosigned checkpoint of size %d not stored: %s", size, exc)
                return note
        return cosigned

    def _ask(self, name: str, port: WitnessPort, note: bytes, size: int) -> bytes:
        old = self._witness_sizes.get(name, 0)
        try:
            return port.add_checkpoint(old, self._proof(old, size), note)
        except WitnessConflictError as exc:
            logger.info("witness %s is at size %d, not %d", name, exc.witness_size, old)
            old = exc.witness_size
            return port.add_checkpoint(old, self._proof(old, size), note)

    def _proof(self, old: int, size: int) -> list[bytes]:
        if old > size:
            raise LedgerError(f"the witness has cosigned size {old}, beyond this log's {size}")
        if old in (0, size):
            return []
        reader = TileNodeReader(self.storage, size, self.hasher)
        return consistency_proof(old, size, reader, hasher=self.hasher)

    def _remember(self, name: str, size: int) -> None:
        try:
            self.storage.record_witness(name, size)
        except LedgerError as exc:
            logger.warning("size %d cosigned by %s not stored: %s", size, name, exc)
        self._witness_sizes[name] = size
