"""An in-memory ledger for the outbox and forwarder tests, and helpers to read outboxes.

:class:`MemoryLedger` implements :class:`~meterseal.ledger.interface.Ledger` over
:class:`~meterseal.ledger.tiles.MemoryTiles` with real signed checkpoints (Ed25519). It
can be taken down (every call raises ``LedgerUnavailableError``), made to lose its
answer after integrating a submission (what a crash between ``submit`` and the store's
``mark_submitted`` looks like to the forwarder), or made to refuse a submission holding a
leaf that does not parse, as the ledger's HTTP service does (``validate``).
"""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator, Iterator, Sequence
from contextlib import asynccontextmanager
from typing import Any

from headend_support import Backend, Harness

from meterseal.crypto.international import ED25519
from meterseal.headend import HeadendConfig, start_headend
from meterseal.headend.testing import sample_keys, seeded
from meterseal.ledger.checkpoint import Checkpoint, sign_checkpoint
from meterseal.ledger.errors import LedgerUnavailableError, TreeRangeError
from meterseal.ledger.interface import Ledger, Submitted
from meterseal.ledger.keys import Ed25519NoteSigner
from meterseal.ledger.leaves import BatchAccepted, LeafEntry, leaf_data, parse_leaf
from meterseal.ledger.tiles import MemoryTiles
from meterseal.store import Store
from meterseal.store.outbox import SubmissionRow

ORIGIN = "test.meterseal/ledger"


class MemoryLedger:
    """A ledger in memory (thread-safe: the forwarder calls it from its own thread)."""

    def __init__(self) -> None:
        self._tiles = MemoryTiles()
        self._entries: list[bytes] = []
        self._signer = Ed25519NoteSigner(ORIGIN, ED25519.generate(seeded("memory-ledger")))
        self._lock = threading.Lock()
        self.down = False
        self.validate = False
        self.lose_answers = 0  # integrate, then raise, this many times
        self.submits = 0
        self.closed = False

    @property
    def entries_now(self) -> list[bytes]:
        """Every entry, in log order."""
        with self._lock:
            return list(self._entries)

    def _check(self) -> None:
        if self.down:
            raise LedgerUnavailableError("the test ledger is down")

    def submit(self, entries: Sequence[bytes]) -> Submitted:
        with self._lock:
            self._check()
            if self.validate:
                for entry in entries:
                    parse_leaf(entry)  # MalformedLeafError: nothing is integrated
            first = len(self._entries)
            self._tiles.append_leaves(entries)
            self._entries.extend(entries)
            self.submits += 1
            submitted = Submitted(first, len(entries), len(self._entries), self._sign())
            if self.lose_answers:
                self.lose_answers -= 1
                raise LedgerUnavailableError("the answer was lost after integrating")
            return submitted

    def _sign(self) -> bytes:
        size = len(self._entries)
        return sign_checkpoint(Checkpoint(ORIGIN, size, self._tiles.root(size)), [self._signer])

    def checkpoint(self) -> bytes:
        with self._lock:
            self._check()
            return self._sign()

    def entries(self, start: int, end: int) -> Iterator[bytes]:
        with self._lock:
            self._check()
            if not 0 <= start <= end <= len(self._entries):
                raise TreeRangeError(f"no entries {start}..{end}")
            return iter(self._entries[start:end])

    def inclusion_proof(self, index: int, tree_size: int) -> list[bytes]:
        with self._lock:
            return self._tiles.inclusion_proof(index, tree_size)

    def consistency_proof(self, old_size: int, new_size: int) -> list[bytes]:
        with self._lock:
            return self._tiles.consistency_proof(old_size, new_size)

    def close(self) -> None:
        self.closed = True


def stored_batch_leaves(store: Store) -> list[bytes]:
    """The BatchAccepted leaf of every stored batch, sorted."""
    return sorted(
        leaf_data(BatchAccepted(row.meter_id, row.batch_seq, row.batch_hash))
        for row in store.iter_batches()
    )


def stored_after(backend: Backend) -> tuple[list[bytes], list[SubmissionRow], int]:
    """After the head-end stopped: the stored batches' leaves, the recorded submissions
    and the number of leaves still queued."""
    store = backend.factory()
    try:
        return stored_batch_leaves(store), store.ledger_submissions(), store.count_pending_leaves()
    finally:
        store.close()


def entries_of_kind(entries: Sequence[bytes], kind: type[LeafEntry]) -> list[LeafEntry]:
    """The entries of one kind, parsed, in log order."""
    return [entry for entry in map(parse_leaf, entries) if isinstance(entry, kind)]


def batch_leaves(entries: Sequence[bytes]) -> list[bytes]:
    """The BatchAccepted entries, sorted (the log's order is the order of commits)."""
    return sorted(leaf for leaf in entries if isinstance(parse_leaf(leaf), BatchAccepted))


@asynccontextmanager
async def running_with_ledger(
    backend: Backend, to: Ledger | None, **settings: Any
) -> AsyncIterator[Harness]:
    """A head-end on ``backend`` forwarding its outbox to ``to`` (or, if None, to the
    ledger ``settings["ledger"]`` names), on a free loopback port."""
    config = HeadendConfig(store_url=backend.url, port=0, **settings)
    store = backend.factory()
    keys = sample_keys if config.workers > 1 else sample_keys()
    handle = await start_headend(config, keys, store_factory=backend.factory, ledger=to)
    harness = Harness(handle, store)
    try:
        yield harness
    finally:
        for link in harness.links:
            await link.close()
        await handle.close()
        store.close()
