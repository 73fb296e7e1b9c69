"""An in-memory :class:`~meterseal.ledger.interface.Ledger` and a store filler, for tests and
benchmarks of verification (NEVER a ledger to run: nothing is durable).

:class:`MemoryLedger` keeps its entries and a :class:`~meterseal.ledger.tiles.MemoryTiles`
tree, and signs a checkpoint after each submission with the note signers it is given.
:func:`fill_store` writes signed electricity batches into a store the way ingest does and
returns the ``BatchAccepted`` leaf data to log for them.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from meterseal.crypto.hashes import SHA_256, OpenSslHash
from meterseal.crypto.interfaces import SigningKey
from meterseal.crypto.international import ED25519
from meterseal.crypto.suites import SUITE_0
from meterseal.headend.ingest import batch_item
from meterseal.headend.testing import electricity_batch, make_meter, seeded
from meterseal.ledger.checkpoint import Checkpoint, sign_checkpoint
from meterseal.ledger.errors import LedgerError, TreeRangeError
from meterseal.ledger.interface import Submitted
from meterseal.ledger.keys import Ed25519NoteSigner, Sm2NoteSigner
from meterseal.ledger.leaves import batch_accepted, leaf_data
from meterseal.ledger.merkle import SHA256_HASHER, TreeHasher
from meterseal.ledger.note import NoteVerifier
from meterseal.ledger.tiles import MemoryTiles
from meterseal.store.interface import Store

ORIGIN = "meterseal.test/ledger"


def log_test_key(seed: str = "verify-log") -> SigningKey:
    """A deterministic Ed25519 key for a test log (NEVER for a real log)."""
    return ED25519.from_private_bytes(seeded(seed)(32))


class MemoryLedger:
    """The :class:`Ledger` protocol over memory: entries, tiles and a signed checkpoint."""

    def __init__(
        self,
        signers: Sequence[Ed25519NoteSigner | Sm2NoteSigner],
        origin: str = ORIGIN,
        hasher: TreeHasher = SHA256_HASHER,
    ) -> None:
        self.origin = origin
        self.signers = list(signers)
        self.tiles = MemoryTiles(hasher)
        self.stored: list[bytes] = []
        self.note = self._sign()
        self.closed = False

    @property
    def verifiers(self) -> list[NoteVerifier]:
        """The verifiers of the log's keys (what a verifier is configured with)."""
        return [signer.verifier for signer in self.signers]

    @classmethod
    def with_test_key(
        cls, origin: str = ORIGIN, hasher: TreeHasher = SHA256_HASHER
    ) -> MemoryLedger:
        return cls([Ed25519NoteSigner(origin, log_test_key())], origin, hasher)

    def _sign(self) -> bytes:
        point = Checkpoint(self.origin, self.tiles.size, self.tiles.root())
        return sign_checkpoint(point, self.signers)

    def _open(self) -> None:
        if self.closed:
            raise LedgerError("the ledger is closed")

    def submit(self, entries: Sequence[bytes]) -> Submitted:
        self._open()
        first = self.tiles.size
        self.stored.extend(entries)
        self.tiles.append_leaves(list(entries))
        self.note = self._sign()
        return Submitted(first, len(entries), self.tiles.size, self.note)

    def checkpoint(self) -> bytes:
        self._open()
        return self.note

    def entries(self, start: int, end: int) -> Iterator[bytes]:
        self._open()
        if not 0 <= start <= end <= self.tiles.size:
            raise TreeRangeError(f"entries [{start}, {end}) outside the tree")
        return iter(self.stored[start:end])

    def inclusion_proof(self, index: int, tree_size: int) -> list[bytes]:
        self._open()
        return self.tiles.inclusion_proof(index, tree_size)

    def consistency_proof(self, old_size: int, new_size: int) -> list[bytes]:
        self._open()
        return self.tiles.consistency_proof(old_size, new_size)

    def close(self) -> None:
        self.closed = True


def fill_store(
    store: Store,
    meters: int,
    batches_per_meter: int,
    *,
    intervals: int = 96,
    prefix: str = "VM",
    hash_alg: OpenSslHash = SHA_256,
) -> list[bytes]:
    """Register ``meters`` electricity meters (Ed25519 data keys) and store
    ``batches_per_meter`` signed batches of each; the BatchAccepted leaf data, in order."""
    leaves = []
    for number in range(meters):
        meter_id = f"{prefix}{number:06d}"
        meter = make_meter(meter_id, suite=SUITE_0, rng=seeded(meter_id))
        store.add_meter(meter.record())
        items = []
        for seq in range(batches_per_meter):
            batch = electricity_batch(meter_id, seq, intervals)
            signed = meter.signed(batch)
            items.append(batch_item(batch, signed, 1_000_000 + seq))
            leaves.append(leaf_data(batch_accepted(meter_id, seq, signed, hash_alg)))
        store.store_batches(items)
    return leaves
