"""SQLite backend: the embedded default, one database file in the data directory.

Durability before the ack. The file runs in WAL mode. ``synchronous`` decides what a
returned ``store_batches`` (and so an ack) survives:

* ``FULL`` (the default): the WAL is fsynced at every commit, so a stored batch survives
  a process crash, an OS crash and a power loss. The meter deletes a batch once it is
  acknowledged, so anything weaker could lose readings that exist nowhere else.
* ``NORMAL``: no fsync at commit; a stored batch survives a process crash (the WAL is
  in the OS page cache) but the last commits can be lost on power loss or an OS crash.
  Choose it only where the meters keep acknowledged batches long enough to resend.
* ``EXTRA``: FULL plus an fsync of the directory after the WAL is reset.

The cost of FULL is one fsync per commit, and ``store_batches`` commits once per call
however many batches it carries, so callers that pass many batches at once pay it rarely
(measured by :mod:`meterseal.store.bench`). Inside the transaction the rows go in with
multi-row statements (:mod:`meterseal.store.sqlite_bulk`): few statement steps, so few
waits for the GIL while the write lock is held.

Threads and processes. One connection, opened with ``check_same_thread=False``; every
method holds the store's lock while it uses it, so a store may be shared between threads
(the calls run one at a time). Writes begin with ``BEGIN IMMEDIATE``, so other processes
using the same file are serialised by SQLite itself; MeterSeal's writers first queue on
an advisory lock beside the file (:mod:`meterseal.store.writer_lock`), so that one starts
as soon as the other commits. A writer that waits longer than ``timeout`` seconds for
either lock gets :class:`StoreUnavailable`.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

from meterseal.store.base import Query, Row, SqlStore
from meterseal.store.batching import INTERVAL_COLUMNS, batch_keys, batch_tuple, plan_batches
from meterseal.store.errors import (
    InvalidRowError,
    StoreClosedError,
    StoreError,
    StoreUnavailable,
)
from meterseal.store.events import EVENT_COLUMNS, event_tuples
from meterseal.store.migrations import SQLITE_BOOTSTRAP, SQLITE_MIGRATIONS, SQLITE_RECORD, pending
from meterseal.store.outbox import batch_leaf
from meterseal.store.rows import BatchItem, BatchRow, StoreOutcome
from meterseal.store.sqlite_bulk import MultiRowInsert, stored_hashes
from meterseal.store.writer_lock import WriterLock

SYNCHRONOUS_LEVELS = ("NORMAL", "FULL", "EXTRA")
DEFAULT_SYNCHRONOUS = "FULL"

# Primary result codes that mean "the database cannot be used right now", not "bad SQL".
_UNAVAILABLE_CODES = frozenset(
    {
        sqlite3.SQLITE_BUSY,
        sqlite3.SQLITE_LOCKED,
        sqlite3.SQLITE_NOMEM,
        sqlite3.SQLITE_IOERR,
        sqlite3.SQLITE_FULL,
        sqlite3.SQLITE_CANTOPEN,
        sqlite3.SQLITE_PROTOCOL,
    }
)

_INSERT_BATCHES = MultiRowInsert(
    "batches",
    (
        "meter_ref",
        "batch_seq",
        "interval_start",
        "interval_seconds",
        "signed_batch",
        "batch_hash",
        "received_at",
        "reading_count",
    ),
)
_INSERT_INTERVALS = MultiRowInsert("interval_readings", INTERVAL_COLUMNS)
_INSERT_LEAVES = MultiRowInsert("ledger_outbox", ("leaf", "created_at"))
_INSERT_EVENTS = MultiRowInsert("meter_events", EVENT_COLUMNS)
_UPSERT_LATEST = MultiRowInsert(
    "meter_latest",
    ("meter_ref", "register", "at", "value"),
    " ON CONFLICT (meter_ref, register) DO UPDATE SET at = excluded.at, value = excluded.value"
    " WHERE excluded.at >= meter_latest.at",
)


class _SqliteQuery:
    """:class:`~meterseal.store.base.Query` over a ``sqlite3`` connection."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn

    def all(self, sql: str, params: Sequence[object] = ()) -> list[Row]:
        return self._conn.execute(sql, params).fetchall()

    def one(self, sql: str, params: Sequence[object] = ()) -> Row | None:
        row: Row | None = self._conn.execute(sql, params).fetchone()
        return row

    def run(self, sql: str, params: Sequence[object] = ()) -> int:
        return self._conn.execute(sql, params).rowcount


def translate(exc: sqlite3.Error | OverflowError, path: str) -> StoreError:
    """The store error for a ``sqlite3`` error (or an integer SQLite cannot hold)."""
    if isinstance(exc, OverflowError | sqlite3.IntegrityError):
        return InvalidRowError(f"SQLite refused a row ({exc}); nothing of the call was written")
    # errors raised by the sqlite3 module itself (a column it cannot decode) carry no code
    if getattr(exc, "sqlite_errorcode", 0) & 0xFF in _UNAVAILABLE_CODES:
        return StoreUnavailable(f"SQLite database {path} is unavailable: {exc}")
    return StoreError(f"SQLite database {path}: {exc}")


class SqliteStore(SqlStore):
    """The :class:`~meterseal.store.interface.Store` in one SQLite file (WAL mode).

    ``path`` may be ``":memory:"`` for a private, non-durable database (no WAL there).
    """

    # SQLite takes the bare column {0} from the row holding max(at).
    DAY_LASTS_SQL = (
        "SELECT day, value FROM ("
        " SELECT (at - 1) / 86400 AS day, {0} AS value, max(at) FROM interval_readings"
        " WHERE meter_ref = ? AND {0} IS NOT NULL AND at > ? AND at <= ? GROUP BY day"
        ") ORDER BY day"
    )

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        synchronous: str = DEFAULT_SYNCHRONOUS,
        timeout: float = 5.0,
    ) -> None:
        super().__init__()
        self._path = os.fspath(path)
        self._synchronous = synchronous.upper()
        if self._synchronous not in SYNCHRONOUS_LEVELS:
            raise StoreError(
                f"synchronous must be one of {SYNCHRONOUS_LEVELS}, not {synchronous!r}"
            )
        self._lock = threading.RLock()
        in_memory = self._path in ("", ":memory:")
        self._writers = None if in_memory else WriterLock(self._path, timeout)
        self._conn: sqlite3.Connection | None = self._open(timeout)

    @property
    def path(self) -> str:
        """The database file."""
        return self._path

    @property
    def synchronous(self) -> str:
        """The ``synchronous`` level in force: NORMAL, FULL or EXTRA."""
        return self._synchronous

    def _open(self, timeout: float) -> sqlite3.Connection:
        try:
            conn = sqlite3.connect(
                self._path, timeout=timeout, isolation_level=None, check_same_thread=False
            )
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute(f"PRAGMA synchronous={self._synchronous}")
            conn.execute("PRAGMA foreign_keys=ON")
        except sqlite3.Error as exc:
            raise StoreUnavailable(f"cannot open SQLite database {self._path}: {exc}") from exc
        return conn

    def pragma(self, name: str) -> object:
        """The value of a read-only PRAGMA (``journal_mode``, ``synchronous``, ...)."""
        if not name.isidentifier():
            raise StoreError(f"not a PRAGMA name: {name!r}")
        with self._reading() as query:
            row = query.one(f"PRAGMA {name}")
        return None if row is None else row[0]

    # --- connection, transactions, errors ----------------------------------------------

    @contextmanager
    def _session(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            if self._conn is None:
                raise StoreClosedError(f"SQLite store {self._path} is closed")
            try:
                yield self._conn
            except (sqlite3.Error, OverflowError) as exc:
                raise translate(exc, self._path) from exc

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        queue = contextlib.nullcontext() if self._writers is None else self._writers.held()
        with self._session() as conn, queue:
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
                conn.execute("COMMIT")
            except BaseException:
                if conn.in_transaction:
                    with contextlib.suppress(sqlite3.Error):
                        conn.execute("ROLLBACK")
                raise

    @contextmanager
    def _reading(self) -> Iterator[Query]:
        with self._session() as conn:
            yield _SqliteQuery(conn)

    @contextmanager
    def _writing(self) -> Iterator[Query]:
        with self._transaction() as conn:
            yield _SqliteQuery(conn)

    def close(self) -> None:
        """Close the connection (SQLite checkpoints the WAL); later calls raise."""
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None
            if self._writers is not None:
                self._writers.close()

    # --- schema -------------------------------------------------------------------------

    def migrate(self, target: int | None = None) -> list[int]:
        """Apply the pending migrations up to ``target`` in one transaction; idempotent."""
        with self._transaction() as conn:
            conn.execute(SQLITE_BOOTSTRAP)
            applied = {row[0] for row in conn.execute("SELECT version FROM schema_migrations")}
            steps = pending(SQLITE_MIGRATIONS, applied, target)
            for step in steps:
                for statement in step.statements:
                    conn.execute(statement)
                if step.after is not None:
                    step.after(_SqliteQuery(conn))
                conn.execute(SQLITE_RECORD, (step.version, step.description))
        return [step.version for step in steps]

    # --- the write path -------------------------------------------------------------------

    def store_batches(self, items: Sequence[BatchItem]) -> list[StoreOutcome]:
        """Store batches and readings in one transaction; see the Store protocol."""
        if not items:
            return []
        with self._transaction() as conn:
            refs = self._meter_refs(_SqliteQuery(conn), items)
            plan = plan_batches(items, refs, stored_hashes(conn, batch_keys(items, refs)))
            _INSERT_BATCHES.run(conn, (batch_tuple(refs[i], items[i][0]) for i in plan.stored))
            _INSERT_INTERVALS.run_flat(conn, plan.interval_values())
            _UPSERT_LATEST.run(conn, plan.latest)
            _INSERT_LEAVES.run(conn, (_leaf_row(items[i][0]) for i in plan.stored))
            _INSERT_EVENTS.run(conn, event_tuples(items, refs, plan.stored))
        return plan.outcomes


def _leaf_row(batch: BatchRow) -> tuple[bytes, int]:
    """The ``ledger_outbox`` row of a stored batch: its BatchAccepted leaf, queued when
    it was received (:mod:`meterseal.store.outbox`)."""
    return batch_leaf(batch.meter_id, batch.batch_seq, batch.batch_hash), batch.received_at
