"""The witness's persistent state: its own SQLite file, advanced by compare-and-swap.

C2SP tlog-witness requires the witness to persist the new (size, root) of a log *before*
it returns the cosignature. :class:`WitnessStore` keeps, per origin, the latest cosigned
``(size, root)`` and an append-only history of every checkpoint it cosigned, in one file
of its own (never the collection store or the ledger's store)::

    witness_logs    (origin PRIMARY KEY, size, root)                    latest, per log
    witness_history (id, origin, size, root, checkpoint, cosignatures,  append-only:
                     cosigned_at)                                       triggers refuse
                                                                        UPDATE and DELETE

:meth:`WitnessStore.advance` moves a log from the state a request was checked against to
the new one only if the stored state is still the old one (compare-and-swap, in one
``BEGIN IMMEDIATE`` transaction with the history row): two concurrent requests, in threads
or in processes, cannot both advance from the same old size. :class:`PersistentWitness`
runs the sans-IO :class:`~meterseal.ledger.witness.Witness` over it, retrying against the
fresh state when it loses a race (the retry then answers 409 as the spec requires).
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from types import MappingProxyType

from meterseal.ledger.errors import LedgerStorageError, LedgerUnavailableError
from meterseal.ledger.witness import LogState, Witness, WitnessResult, WitnessState

MAX_RACES = 8
"""Times :class:`PersistentWitness` re-checks a request that lost a compare-and-swap."""

_SCHEMA = (
    """CREATE TABLE IF NOT EXISTS witness_logs (
        origin TEXT PRIMARY KEY,
        size INTEGER NOT NULL CHECK (size >= 0),
        root BLOB NOT NULL)""",
    """CREATE TABLE IF NOT EXISTS witness_history (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        origin TEXT NOT NULL,
        size INTEGER NOT NULL,
        root BLOB NOT NULL,
        checkpoint BLOB NOT NULL,
        cosignatures BLOB NOT NULL,
        cosigned_at INTEGER NOT NULL)""",
    """CREATE TRIGGER IF NOT EXISTS witness_history_no_update
        BEFORE UPDATE ON witness_history
        BEGIN SELECT RAISE(ABORT, 'witness history is append-only'); END""",
    """CREATE TRIGGER IF NOT EXISTS witness_history_no_delete
        BEFORE DELETE ON witness_history
        BEGIN SELECT RAISE(ABORT, 'witness history is append-only'); END""",
)
_MOVE = "UPDATE witness_logs SET size = ?, root = ? WHERE origin = ? AND size = ? AND root = ?"
_FIRST = "INSERT INTO witness_logs (origin, size, root) VALUES (?, ?, ?) ON CONFLICT DO NOTHING"
_RECORD = (
    "INSERT INTO witness_history (origin, size, root, checkpoint, cosignatures, cosigned_at)"
    " VALUES (?, ?, ?, ?, ?, ?)"
)


@dataclass(frozen=True, slots=True)
class Cosigned:
    """One history row: a checkpoint the witness cosigned, and when."""

    origin: str
    size: int
    root_hash: bytes
    checkpoint: bytes
    cosignatures: bytes
    cosigned_at: int


class WitnessStore:
    """The witness's state in one SQLite file (WAL, synchronous FULL)."""

    def __init__(self, path: str | os.PathLike[str], *, timeout: float = 5.0) -> None:
        self._path = os.fspath(path)
        self._lock = threading.Lock()
        try:
            self._conn: sqlite3.Connection | None = sqlite3.connect(
                self._path, timeout=timeout, isolation_level=None, check_same_thread=False
            )
            self._conn.execute("PRAGMA journal_mode=WAL")
            self._conn.execute("PRAGMA synchronous=FULL")
            for statement in _SCHEMA:
                self._conn.execute(statement)
        except sqlite3.Error as exc:
            raise LedgerUnavailableError(f"cannot open witness state {self._path}: {exc}") from exc

    @contextmanager
    def _session(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            if self._conn is None:
                raise LedgerStorageError(f"witness state {self._path} is closed")
            try:
                yield self._conn
            except sqlite3.Error as exc:
                raise LedgerStorageError(f"witness state {self._path}: {exc}") from exc

    def state(self) -> WitnessState:
        """The latest cosigned (size, root) of every log."""
        with self._session() as conn:
            rows = conn.execute("SELECT origin, size, root FROM witness_logs").fetchall()
        logs = {origin: LogState(size, bytes(root)) for origin, size, root in rows}
        return WitnessState(MappingProxyType(logs))

    def advance(self, origin: str, old: LogState | None, new: LogState, record: Cosigned) -> bool:
        """Move ``origin`` from ``old`` (None: no state yet) to ``new`` and append
        ``record``, atomically; False (and nothing written) if the state is no longer
        ``old``."""
        with self._session() as conn:
            conn.execute("BEGIN IMMEDIATE")
            try:
                if old is None:
                    moved = conn.execute(_FIRST, (origin, new.size, new.root_hash)).rowcount
                else:
                    params = (new.size, new.root_hash, origin, old.size, old.root_hash)
                    moved = conn.execute(_MOVE, params).rowcount
                if moved != 1:
                    conn.execute("ROLLBACK")
                    return False
                conn.execute(_RECORD, _history_params(record))
                conn.execute("COMMIT")
            except BaseException:
                if conn.in_transaction:
                    with contextlib.suppress(sqlite3.Error):
                        conn.execute("ROLLBACK")
                raise
        return True

    def history(self, origin: str | None = None) -> list[Cosigned]:
        """Every checkpoint cosigned (for ``origin``, if given), oldest first."""
        sql = (
            "SELECT origin, size, root, checkpoint, cosignatures, cosigned_at FROM witness_history"
        )
        with self._session() as conn:
            if origin is None:
                rows = conn.execute(sql + " ORDER BY id").fetchall()
            else:
                rows = conn.execute(sql + " WHERE origin = ? ORDER BY id", (origin,)).fetchall()
        return [Cosigned(o, s, bytes(r), bytes(c), bytes(sig), at) for o, s, r, c, sig, at in rows]

    def close(self) -> None:
        """Close the file; later calls raise."""
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None


def _history_params(record: Cosigned) -> tuple[object, ...]:
    return (
        record.origin,
        record.size,
        record.root_hash,
        record.checkpoint,
        record.cosignatures,
        record.cosigned_at,
    )


class PersistentWitness:
    """A :class:`Witness` whose state lives in a :class:`WitnessStore`.

    :meth:`handle` is the add-checkpoint endpoint without HTTP: a request body in, the
    cosignature lines out (or a :class:`~meterseal.ledger.errors.WitnessError` whose
    ``wire_code`` is the status), with the new state durable before it returns.
    """

    def __init__(self, witness: Witness, store: WitnessStore, clock: Callable[[], int]) -> None:
        self.witness = witness
        self.store = store
        self.clock = clock

    def handle(self, body: bytes) -> bytes:
        """Check, persist (compare-and-swap) and cosign; see the module docstring."""
        for _ in range(MAX_RACES):
            state = self.store.state()
            now = self.clock()
            result = self.witness.handle_request(state, body, now=now)
            if self._persist(state, result, body, now):
                return result.response_body
        raise LedgerUnavailableError("the witness state kept changing; retry later")

    def _persist(self, state: WitnessState, result: WitnessResult, body: bytes, now: int) -> bool:
        origin = result.checkpoint.origin
        new = result.state.latest(origin)
        if new is None:  # pragma: no cover - an accepted checkpoint always sets its log
            raise LedgerStorageError("the witness accepted a checkpoint without a state")
        checkpoint = body.partition(b"\n\n")[2]
        record = Cosigned(origin, new.size, new.root_hash, checkpoint, result.response_body, now)
        return self.store.advance(origin, state.latest(origin), new, record)
