"""PostgreSQL backend (psycopg 3): the store at scale, DSN in the configuration.

Write path. ``store_batches`` runs in one transaction: the batch rows go in with one
``INSERT ... SELECT FROM unnest(...) ON CONFLICT DO NOTHING RETURNING``, the hashes of
the keys that were already there are read back to tell DUPLICATE from CONFLICT, and the
wide ``interval_readings`` rows of the STORED batches stream in with binary ``COPY``,
packed a batch at a time straight from the batches' columns
(:mod:`meterseal.store.pg_copy`). ``ON CONFLICT`` makes the check safe against other
writers too: a concurrent insert of the same key either commits first (and we see its
hash) or waits for ours.

Durability. A returned call has committed; with the server's default
``synchronous_commit = on`` the commit is flushed to the server's WAL before it returns,
so an ack survives a crash of the head-end and of the database server. The store does not
change that setting.

Broken connections. Any failure of the connection raises :class:`StoreUnavailable` and
drops the connection; the next call reconnects by itself (or call :meth:`reconnect`).
The failed call is not retried automatically, because only the caller knows whether to;
retrying ``store_batches`` is safe, as a batch that did commit comes back DUPLICATE.

Threads. One connection in autocommit mode (explicit transactions only where a call
writes); a lock serialises the calls of all threads.

Schemas. ``schema=`` puts every table in that PostgreSQL schema (via ``search_path``,
re-applied on every reconnect); the tests use it to give each test a fresh schema.
"""

from __future__ import annotations

import contextlib
import re
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from functools import lru_cache
from typing import Any

import psycopg
from psycopg.conninfo import make_conninfo

from meterseal.store.base import Query, Row, SqlStore
from meterseal.store.batching import (
    INTERVAL_COLUMNS,
    BatchKey,
    IntervalBlock,
    LatestTuple,
    batch_keys,
    batch_tuple,
    first_occurrences,
    plan_batches,
)
from meterseal.store.errors import (
    InvalidRowError,
    StoreClosedError,
    StoreError,
    StoreUnavailable,
)
from meterseal.store.events import EventTuple, event_tuples
from meterseal.store.migrations import (
    POSTGRES_BOOTSTRAP,
    POSTGRES_LOCK_KEY,
    POSTGRES_MIGRATIONS,
    POSTGRES_RECORD,
    pending,
)
from meterseal.store.outbox import batch_leaf
from meterseal.store.pg_copy import copy_data
from meterseal.store.rows import BatchItem, BatchRow, StoreOutcome

Connection = psycopg.Connection[Any]

_SCHEMA_NAME = re.compile(r"[a-z_][a-z0-9_]{0,62}")

_INSERT_BATCHES = (
    "INSERT INTO batches (meter_ref, batch_seq, interval_start, interval_seconds,"
    " signed_batch, batch_hash, received_at, reading_count)"
    " SELECT * FROM unnest(%s::int8[], %s::int8[], %s::int8[], %s::int4[], %s::bytea[],"
    " %s::bytea[], %s::int8[], %s::int4[])"
    " ON CONFLICT (meter_ref, batch_seq) DO NOTHING RETURNING meter_ref, batch_seq"
)
_BATCH_HASHES = (
    "SELECT b.meter_ref, b.batch_seq, b.batch_hash FROM batches b"
    " JOIN unnest(%s::int8[], %s::int8[]) AS k (meter_ref, batch_seq)"
    " ON b.meter_ref = k.meter_ref AND b.batch_seq = k.batch_seq"
)
_COPY_INTERVALS = "COPY interval_readings ({}) FROM STDIN (FORMAT BINARY)".format(
    ", ".join(INTERVAL_COLUMNS)
)
_UPSERT_LATEST = (
    "INSERT INTO meter_latest (meter_ref, register, at, value)"
    " SELECT * FROM unnest(%s::int8[], %s::int2[], %s::int8[], %s::int8[])"
    " ON CONFLICT (meter_ref, register) DO UPDATE SET at = excluded.at, value = excluded.value"
    " WHERE excluded.at >= meter_latest.at"
)

_INSERT_EVENTS = (
    "INSERT INTO meter_events (meter_ref, batch_seq, idx, at, kind, detail)"
    " SELECT * FROM unnest(%s::int8[], %s::int8[], %s::int4[], %s::int8[], %s::int4[],"
    " %s::int8[])"
)
_INSERT_LEAVES = (
    "INSERT INTO ledger_outbox (leaf, created_at) SELECT * FROM unnest(%s::bytea[], %s::int8[])"
)


@lru_cache(maxsize=64)
def _pg(sql: str) -> str:
    """The shared ``?``-placeholder SQL in psycopg's ``%s`` style."""
    return sql.replace("?", "%s")


class _PostgresQuery:
    """:class:`~meterseal.store.base.Query` over a psycopg connection."""

    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def all(self, sql: str, params: Sequence[object] = ()) -> list[Row]:
        return self._conn.execute(_pg(sql), params).fetchall()

    def one(self, sql: str, params: Sequence[object] = ()) -> Row | None:
        row: Row | None = self._conn.execute(_pg(sql), params).fetchone()
        return row

    def run(self, sql: str, params: Sequence[object] = ()) -> int:
        return self._conn.execute(_pg(sql), params).rowcount


def conninfo_for(dsn: str, schema: str | None, connect_timeout: int) -> str:
    """The libpq connection string: ``dsn`` plus timeout and, if given, the search path."""
    extra: dict[str, Any] = {"connect_timeout": connect_timeout}
    if schema is not None:
        if not _SCHEMA_NAME.fullmatch(schema):
            raise StoreError(f"not a plain lower-case schema name: {schema!r}")
        extra["options"] = f"-c search_path={schema}"
    try:
        return make_conninfo(dsn, **extra)
    except psycopg.ProgrammingError as exc:
        raise StoreError(f"not a PostgreSQL DSN or URL: {exc}") from exc


class PostgresStore(SqlStore):
    """The :class:`~meterseal.store.interface.Store` in a PostgreSQL database."""

    DAY_LASTS_SQL = (
        "SELECT DISTINCT ON (day) (at - 1) / 86400 AS day, {0} FROM interval_readings"
        " WHERE meter_ref = ? AND {0} IS NOT NULL AND at > ? AND at <= ?"
        " ORDER BY day, at DESC, batch_seq DESC"
    )

    def __init__(self, dsn: str, *, schema: str | None = None, connect_timeout: int = 5) -> None:
        super().__init__()
        self._conninfo = conninfo_for(dsn, schema, connect_timeout)
        self._lock = threading.RLock()
        self._closed = False
        self._conn: Connection | None = self._connect()

    def _connect(self) -> Connection:
        try:
            return psycopg.connect(self._conninfo, autocommit=True)
        except psycopg.Error as exc:
            raise StoreUnavailable(f"cannot connect to PostgreSQL: {exc}") from exc

    @property
    def backend_pid(self) -> int | None:
        """The server process of the current connection (None while disconnected)."""
        with self._lock:
            conn = self._conn
            if conn is None or conn.broken or conn.closed:
                return None
            return conn.info.backend_pid

    def reconnect(self) -> None:
        """Drop the current connection, if any, and open a new one."""
        with self._lock:
            self._check_open()
            self._drop()
            self._conn = self._connect()

    def close(self) -> None:
        """Close the connection; later calls raise :class:`StoreClosedError`."""
        with self._lock:
            self._closed = True
            self._drop()

    # --- connection, transactions, errors ----------------------------------------------

    def _check_open(self) -> None:
        if self._closed:
            raise StoreClosedError("PostgreSQL store is closed")

    def _drop(self) -> None:
        if self._conn is not None:
            with contextlib.suppress(psycopg.Error):
                self._conn.close()
            self._conn = None

    def _live(self) -> Connection:
        """The connection, reconnecting first if the last one broke."""
        self._check_open()
        if self._conn is None or self._conn.broken or self._conn.closed:
            self._drop()
            self._conn = self._connect()
        return self._conn

    def _translate(self, exc: psycopg.Error, conn: Connection) -> StoreError:
        if conn.broken or conn.closed or isinstance(exc, psycopg.OperationalError):
            self._drop()
            return StoreUnavailable(
                f"PostgreSQL connection failed ({exc}); whatever was committed is safe, "
                "the next call reconnects, and retrying the call is safe"
            )
        if isinstance(exc, psycopg.IntegrityError | psycopg.DataError):
            return InvalidRowError(
                f"PostgreSQL refused a row ({exc}); nothing of the call was written"
            )
        return StoreError(f"PostgreSQL: {exc}")

    @contextmanager
    def _session(self) -> Iterator[Connection]:
        with self._lock:
            conn = self._live()
            try:
                yield conn
            except psycopg.Error as exc:
                raise self._translate(exc, conn) from exc

    @contextmanager
    def _transaction(self) -> Iterator[Connection]:
        with self._session() as conn, conn.transaction():
            yield conn

    @contextmanager
    def _reading(self) -> Iterator[Query]:
        with self._session() as conn:
            yield _PostgresQuery(conn)

    @contextmanager
    def _writing(self) -> Iterator[Query]:
        with self._transaction() as conn:
            yield _PostgresQuery(conn)

    # --- schema -------------------------------------------------------------------------

    def migrate(self, target: int | None = None) -> list[int]:
        """Apply the pending migrations up to ``target`` in one transaction; idempotent.

        An advisory lock serialises concurrent ``migrate()`` calls on the same server.
        """
        with self._transaction() as conn:
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (POSTGRES_LOCK_KEY,))
            conn.execute(POSTGRES_BOOTSTRAP)
            applied = {row[0] for row in conn.execute("SELECT version FROM schema_migrations")}
            steps = pending(POSTGRES_MIGRATIONS, applied, target)
            for step in steps:
                for statement in step.statements:
                    conn.execute(statement)
                if step.after is not None:
                    step.after(_PostgresQuery(conn))
                conn.execute(POSTGRES_RECORD, (step.version, step.description))
        return [step.version for step in steps]

    # --- the write path -------------------------------------------------------------------

    def store_batches(self, items: Sequence[BatchItem]) -> list[StoreOutcome]:
        """Store batches and readings in one transaction; see the Store protocol."""
        if not items:
            return []
        with self._transaction() as conn:
            refs = self._meter_refs(_PostgresQuery(conn), items)
            keys = batch_keys(items, refs)
            firsts = first_occurrences(keys)
            inserted = _insert_batches(conn, [batch_tuple(refs[i], items[i][0]) for i in firsts])
            existing = _hashes(conn, [keys[i] for i in firsts if keys[i] not in inserted])
            plan = plan_batches(items, refs, existing)
            _copy_intervals(conn, plan.intervals)
            _upsert_latest(conn, plan.latest)
            _queue_leaves(conn, [items[i][0] for i in plan.stored])
            _insert_events(conn, event_tuples(items, refs, plan.stored))
        return plan.outcomes


def _columns(rows: Sequence[tuple[Any, ...]], width: int) -> list[list[Any]]:
    """Rows turned into ``width`` column lists, for ``unnest`` of array parameters."""
    if not rows:
        return [[] for _ in range(width)]
    return [list(column) for column in zip(*rows, strict=True)]


def _insert_batches(conn: Connection, rows: Sequence[tuple[Any, ...]]) -> set[BatchKey]:
    """Insert the batch rows whose key is new; return the keys inserted."""
    cursor = conn.execute(_INSERT_BATCHES, _columns(rows, 8))
    return {(ref, seq) for ref, seq in cursor.fetchall()}


def _hashes(conn: Connection, keys: Sequence[BatchKey]) -> dict[BatchKey, bytes]:
    """The stored hashes of ``keys`` (all of which are stored)."""
    if not keys:
        return {}
    cursor = conn.execute(_BATCH_HASHES, _columns(keys, 2))
    return {(ref, seq): bytes(digest) for ref, seq, digest in cursor.fetchall()}


def _copy_intervals(conn: Connection, blocks: Sequence[IntervalBlock]) -> None:
    """Stream the wide rows into ``interval_readings`` with one binary COPY."""
    if not blocks:
        return
    data = copy_data(blocks)
    with conn.cursor() as cursor, cursor.copy(_COPY_INTERVALS) as copy:
        copy.write(data)


def _upsert_latest(conn: Connection, rows: Sequence[LatestTuple]) -> None:
    """Move each (meter, register) latest value forward where the new one is later."""
    if rows:
        conn.execute(_UPSERT_LATEST, _columns(rows, 4))


def _queue_leaves(conn: Connection, batches: Sequence[BatchRow]) -> None:
    """Queue the stored batches' BatchAccepted leaves for the ledger in one statement
    (:mod:`meterseal.store.outbox`), each dated when its batch was received."""
    if batches:
        leaves = [batch_leaf(b.meter_id, b.batch_seq, b.batch_hash) for b in batches]
        conn.execute(_INSERT_LEAVES, (leaves, [b.received_at for b in batches]))


def _insert_events(conn: Connection, rows: Sequence[EventTuple]) -> None:
    """Write the stored batches' event rows in one statement (none for most calls)."""
    if rows:
        conn.execute(_INSERT_EVENTS, _columns(rows, 6))
