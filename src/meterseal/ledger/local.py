"""The ledger in process: :class:`LocalLedger` (the embedded demo) and :class:`LedgerReader`.

Both read the ledger's own store: proofs are generated from the stored tiles
(:class:`~meterseal.ledger.tiles.TileNodeReader` over the store, one query per batch of
tiles; RFC 9162 sections 2.1.3 and 2.1.4), entries from the stored entry bundles.
:class:`LocalLedger` adds the :class:`~meterseal.ledger.sequencer.Sequencer`, and so
``submit``; it implements :class:`~meterseal.ledger.interface.Ledger`. A
:class:`LedgerReader` alone needs no key (``meterseal ledger checkpoint --data-dir``).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence

from meterseal.hsm import CryptoMachine
from meterseal.ledger.config import (
    DEFAULT_GM_ORIGIN,
    DEFAULT_ORIGIN,
    LedgerConfig,
    hasher_named,
    note_signers,
    open_keystore,
    open_storage,
    verifier_keys,
)
from meterseal.ledger.errors import LedgerError, LedgerStorageError, TreeRangeError
from meterseal.ledger.interface import Submitted, WitnessPort
from meterseal.ledger.merkle import SHA256_HASHER, SM3_HASHER, TreeHasher
from meterseal.ledger.merkle import consistency_proof as make_consistency_proof
from meterseal.ledger.merkle import inclusion_proof as make_inclusion_proof
from meterseal.ledger.sequencer import Sequencer
from meterseal.ledger.storage import LedgerStorage, LogIdentity
from meterseal.ledger.tiles import TILE_WIDTH, Tile, TileNodeReader, decode_entry_bundle

BUNDLES_PER_READ = 16
"""Entry bundles fetched by one query when iterating entries."""


class LedgerReader:
    """The read side of the ledger over its store: checkpoints, tiles, entries, proofs."""

    def __init__(self, storage: LedgerStorage, hasher: TreeHasher = SHA256_HASHER) -> None:
        self.storage = storage
        self.hasher = hasher
        self._closed = False

    @classmethod
    def open(cls, url: str) -> LedgerReader:
        """A reader of the store ``url`` names, with the tree hash the log was created with."""
        storage = open_storage(url, create=False)
        try:
            hasher = hasher_named(storage.identity().hash_name)
        except LedgerError:
            storage.close()
            raise
        return cls(storage, hasher)

    def _check_open(self) -> None:
        if self._closed:
            raise LedgerError("the ledger is closed")

    def size(self) -> int:
        """The size of the latest checkpoint."""
        self._check_open()
        latest = self.storage.latest_checkpoint()
        return 0 if latest is None else latest.size

    def checkpoint(self) -> bytes:
        """The latest signed checkpoint note (with the cosignatures it has)."""
        self._check_open()
        latest = self.storage.latest_checkpoint()
        if latest is None:
            raise LedgerStorageError("the ledger has no checkpoint yet")
        return latest.note

    def read_tiles(self, tiles: Sequence[Tile]) -> list[bytes]:
        """Stored tile bytes (tiles beyond the latest checkpoint are refused)."""
        size = self.size()
        for tile in tiles:
            if tile.end_leaf > size:
                raise TreeRangeError(f"{tile.path} is beyond the tree of size {size}")
        return self.storage.read_tiles(tiles)

    def read_bundle(self, index: int, width: int) -> bytes:
        """The encoded entry bundle ``index`` of ``width`` entries."""
        size = self.size()
        if index * TILE_WIDTH + width > size:
            raise TreeRangeError(f"entry bundle {index}.p/{width} is beyond size {size}")
        return self.storage.read_bundles([(index, width)])[0]

    def entries(self, start: int, end: int) -> Iterator[bytes]:
        """Leaf data of entries ``start <= index < end``, bundle by bundle."""
        size = self.size()
        if not 0 <= start <= end <= size:
            raise TreeRangeError(f"entries [{start}, {end}) are not in a tree of size {size}")
        return self._entries(start, end)

    def _entries(self, start: int, end: int) -> Iterator[bytes]:
        first, last = start // TILE_WIDTH, (end - 1) // TILE_WIDTH if end > start else -1
        for group in range(first, last + 1, BUNDLES_PER_READ):
            keys = [
                (n, min(TILE_WIDTH, end - n * TILE_WIDTH))
                for n in range(group, min(last + 1, group + BUNDLES_PER_READ))
            ]
            for (n, _), data in zip(keys, self.storage.read_bundles(keys), strict=True):
                for offset, entry in enumerate(decode_entry_bundle(data)):
                    if start <= n * TILE_WIDTH + offset < end:
                        yield entry

    def _tree_size(self, tree_size: int) -> int:
        size = self.size()
        if not 0 <= tree_size <= size:
            raise TreeRangeError(f"tree size {tree_size} is beyond the log's size {size}")
        return tree_size

    def inclusion_proof(self, index: int, tree_size: int) -> list[bytes]:
        """PATH(index, D[tree_size]) from the stored tiles (RFC 9162 section 2.1.3.1)."""
        size = self._tree_size(tree_size)
        reader = TileNodeReader(self.storage, size, self.hasher)
        return make_inclusion_proof(index, size, reader, hasher=self.hasher)

    def consistency_proof(self, old_size: int, new_size: int) -> list[bytes]:
        """PROOF(old_size, D[new_size]) from the stored tiles (RFC 9162 section 2.1.4.1)."""
        size = self._tree_size(new_size)
        reader = TileNodeReader(self.storage, size, self.hasher)
        return make_consistency_proof(old_size, size, reader, hasher=self.hasher)

    def close(self) -> None:
        """Close the store; later calls raise."""
        self._closed = True
        self.storage.close()


class LocalLedger(LedgerReader):
    """The :class:`~meterseal.ledger.interface.Ledger` in process: sequencer and store.

    ``machine``, if given, is the ledger's own crypto machine, closed with the ledger.
    """

    def __init__(self, sequencer: Sequencer, machine: CryptoMachine | None = None) -> None:
        super().__init__(sequencer.storage, sequencer.hasher)
        self.sequencer = sequencer
        self._machine = machine

    @property
    def origin(self) -> str:
        return self.sequencer.origin

    def size(self) -> int:
        self._check_open()
        return self.sequencer.size

    def checkpoint(self) -> bytes:
        self._check_open()
        return self.sequencer.checkpoint()

    def submit(self, entries: Sequence[bytes]) -> Submitted:
        """Append ``entries`` in one transaction and sign the new checkpoint."""
        self._check_open()
        return self.sequencer.submit(entries)

    def verifier_keys(self) -> list[str]:
        """The log's verifier keys (C2SP vkey strings): Ed25519, and SM2 for a GM log."""
        return verifier_keys(self.sequencer.signers)

    def close(self) -> None:
        super().close()
        if self._machine is not None:
            self._machine.close()


def open_local_ledger(
    config: LedgerConfig,
    *,
    create: bool = False,
    gm: bool = False,
    origin: str | None = None,
    witnesses: Mapping[str, WitnessPort] | None = None,
) -> LocalLedger:
    """Open the ledger of ``config``: its own keystore, its own store.

    With ``create``, a missing store and missing keys are made (``ledger init``); the log's
    origin and hash come from ``origin`` and ``gm`` then, and from the store afterwards.
    """
    storage = open_storage(config.store, create=create)
    try:
        machine = open_keystore(config, create=create)
    except BaseException:
        storage.close()
        raise
    try:
        identity = _identity(storage, create=create, gm=gm, origin=origin)
        hasher = hasher_named(identity.hash_name)
        signers = note_signers(machine, identity.origin, gm=hasher is SM3_HASHER, create=create)
        sequencer = Sequencer(
            storage, signers, origin=identity.origin, hasher=hasher, witnesses=witnesses
        )
    except BaseException:
        storage.close()
        machine.close()
        raise
    return LocalLedger(sequencer, machine)


def _identity(storage: LedgerStorage, *, create: bool, gm: bool, origin: str | None) -> LogIdentity:
    wanted = LogIdentity(
        origin or (DEFAULT_GM_ORIGIN if gm else DEFAULT_ORIGIN),
        (SM3_HASHER if gm else SHA256_HASHER).name,
    )
    try:
        stored = storage.identity()
    except LedgerStorageError:
        if not create:
            raise
        return wanted
    if create and (origin is not None or gm) and stored != wanted:
        raise LedgerStorageError(
            f"this store already holds the log {stored.origin!r} ({stored.hash_name})"
        )
    return stored
