"""The ledger's store in its own SQLite file (the embedded default: DATA_DIR/ledger/ledger.db).

WAL mode with ``synchronous=FULL``: an integration that returned survives a power loss,
as the head-end's acknowledgements need. One connection shared by the threads of one
process under a lock; writes start with ``BEGIN IMMEDIATE`` so a second process writing
the same file waits for the first (and is then refused if the log moved under it, see
:meth:`~meterseal.ledger.storage_sql.SqlLedgerStorage.integrate`).

Append-only in the database too: ``BEFORE UPDATE`` and ``BEFORE DELETE`` triggers on every
table ``RAISE(ABORT, ...)``.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

from meterseal.ledger.errors import LedgerError, LedgerStorageError, LedgerUnavailableError
from meterseal.ledger.storage_sql import TABLES, Db, Row, SqlLedgerStorage

_UNAVAILABLE_CODES = frozenset(
    {
        sqlite3.SQLITE_BUSY,
        sqlite3.SQLITE_LOCKED,
        sqlite3.SQLITE_NOMEM,
        sqlite3.SQLITE_IOERR,
        sqlite3.SQLITE_FULL,
        sqlite3.SQLITE_CANTOPEN,
        sqlite3.SQLITE_PROTOCOL,
        sqlite3.SQLITE_READONLY,
    }
)

SQLITE_TABLES = (
    "CREATE TABLE ledger_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
    (
        "CREATE TABLE ledger_tiles (level INTEGER NOT NULL, idx INTEGER NOT NULL,"
        " width INTEGER NOT NULL CHECK (width BETWEEN 1 AND 256), data BLOB NOT NULL,"
        " PRIMARY KEY (level, idx, width)) WITHOUT ROWID"
    ),
    (
        "CREATE TABLE ledger_entries (idx INTEGER NOT NULL,"
        " width INTEGER NOT NULL CHECK (width BETWEEN 1 AND 256), data BLOB NOT NULL,"
        " PRIMARY KEY (idx, width)) WITHOUT ROWID"
    ),
    (
        "CREATE TABLE ledger_checkpoints (id INTEGER PRIMARY KEY AUTOINCREMENT,"
        " size INTEGER NOT NULL CHECK (size >= 0), note BLOB NOT NULL)"
    ),
    (
        "CREATE TABLE ledger_witnesses (id INTEGER PRIMARY KEY AUTOINCREMENT,"
        " witness TEXT NOT NULL, size INTEGER NOT NULL CHECK (size >= 0))"
    ),
)


def _triggers() -> list[str]:
    return [
        f"CREATE TRIGGER {table}_no_{verb.lower()} BEFORE {verb} ON {table}"
        f" BEGIN SELECT RAISE(ABORT, '{table} is append-only'); END"
        for table in TABLES
        for verb in ("UPDATE", "DELETE")
    ]


class _SqliteDb:
    """:class:`~meterseal.ledger.storage_sql.Db` over a ``sqlite3`` connection."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn

    def all(self, sql: str, params: Sequence[object] = ()) -> list[Row]:
        return self._conn.execute(sql, params).fetchall()

    def run(self, sql: str, params: Sequence[object] = ()) -> None:
        self._conn.execute(sql, params)

    def many(self, sql: str, rows: Sequence[Sequence[object]]) -> None:
        self._conn.executemany(sql, rows)


def translate(exc: sqlite3.Error, path: str) -> LedgerError:
    """The ledger error for a ``sqlite3`` error: unavailable, or a refused operation."""
    code = getattr(exc, "sqlite_errorcode", None)
    if not isinstance(exc, sqlite3.IntegrityError) and code and code & 0xFF in _UNAVAILABLE_CODES:
        return LedgerUnavailableError(f"ledger database {path} is unavailable: {exc}")
    return LedgerStorageError(f"ledger database {path} refused the operation: {exc}")


class SqliteLedgerStorage(SqlLedgerStorage):
    """The ledger's tables in one SQLite file (WAL, ``synchronous=FULL``)."""

    def __init__(self, path: str | os.PathLike[str], *, timeout: float = 10.0) -> None:
        self._path = os.fspath(path)
        self._lock = threading.RLock()
        try:
            conn = sqlite3.connect(
                self._path, timeout=timeout, isolation_level=None, check_same_thread=False
            )
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=FULL")
        except sqlite3.Error as exc:
            raise LedgerUnavailableError(
                f"cannot open ledger database {self._path}: {exc}"
            ) from exc
        self._conn: sqlite3.Connection | None = conn

    @property
    def path(self) -> str:
        return self._path

    @contextmanager
    def _session(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            if self._conn is None:
                raise LedgerUnavailableError(f"ledger database {self._path} is closed")
            try:
                yield self._conn
            except sqlite3.Error as exc:
                raise translate(exc, self._path) from exc

    @contextmanager
    def _reading(self) -> Iterator[Db]:
        with self._session() as conn:
            yield _SqliteDb(conn)

    @contextmanager
    def _writing(self) -> Iterator[Db]:
        with self._session() as conn:
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield _SqliteDb(conn)
                conn.execute("COMMIT")
            except BaseException:
                if conn.in_transaction:
                    with contextlib.suppress(sqlite3.Error):
                        conn.execute("ROLLBACK")
                raise

    def _has_tables(self, db: Db) -> bool:
        rows = db.all("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'ledger_meta'")
        return bool(rows)

    def _schema(self) -> Sequence[str]:
        return (*SQLITE_TABLES, *_triggers())

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None
