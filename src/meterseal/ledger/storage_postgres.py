"""The ledger's store in PostgreSQL, in its own schema (default ``ledger``).

One connection in autocommit mode, explicit transactions where a call writes, a lock
serialising the calls of all threads; a broken connection raises
:class:`~meterseal.ledger.errors.LedgerUnavailableError` and the next call reconnects. With
the server's default ``synchronous_commit = on`` a returned integration is durable.

Append-only in the database too: one trigger function raises, and ``BEFORE UPDATE OR
DELETE`` (per row) and ``BEFORE TRUNCATE`` (per statement) triggers call it on every table.
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
from psycopg import sql
from psycopg.conninfo import make_conninfo

from meterseal.ledger.errors import LedgerError, LedgerStorageError, LedgerUnavailableError
from meterseal.ledger.storage import LogIdentity
from meterseal.ledger.storage_sql import TABLES, Db, Row, SqlLedgerStorage

DEFAULT_SCHEMA = "ledger"

Connection = psycopg.Connection[Any]

_SCHEMA_NAME = re.compile(r"[a-z_][a-z0-9_]{0,62}")

POSTGRES_TABLES = (
    "CREATE TABLE ledger_meta (key text PRIMARY KEY, value text NOT NULL)",
    (
        "CREATE TABLE ledger_tiles (level int4 NOT NULL, idx int8 NOT NULL,"
        " width int4 NOT NULL CHECK (width BETWEEN 1 AND 256), data bytea NOT NULL,"
        " PRIMARY KEY (level, idx, width))"
    ),
    (
        "CREATE TABLE ledger_entries (idx int8 NOT NULL,"
        " width int4 NOT NULL CHECK (width BETWEEN 1 AND 256), data bytea NOT NULL,"
        " PRIMARY KEY (idx, width))"
    ),
    (
        "CREATE TABLE ledger_checkpoints (id int8 GENERATED ALWAYS AS IDENTITY PRIMARY KEY,"
        " size int8 NOT NULL CHECK (size >= 0), note bytea NOT NULL)"
    ),
    (
        "CREATE TABLE ledger_witnesses (id int8 GENERATED ALWAYS AS IDENTITY PRIMARY KEY,"
        " witness text NOT NULL, size int8 NOT NULL CHECK (size >= 0))"
    ),
    (
        "CREATE FUNCTION ledger_append_only() RETURNS trigger LANGUAGE plpgsql AS $$"
        " BEGIN RAISE EXCEPTION '% is append-only', TG_TABLE_NAME"
        " USING ERRCODE = 'integrity_constraint_violation'; END $$"
    ),
)


def _triggers() -> list[str]:
    return [
        statement
        for table in TABLES
        for statement in (
            (
                f"CREATE TRIGGER {table}_no_change BEFORE UPDATE OR DELETE ON {table}"
                " FOR EACH ROW EXECUTE FUNCTION ledger_append_only()"
            ),
            (
                f"CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table}"
                " FOR EACH STATEMENT EXECUTE FUNCTION ledger_append_only()"
            ),
        )
    ]


@lru_cache(maxsize=64)
def _pg(statement: str) -> str:
    """The shared ``?``-placeholder SQL in psycopg's ``%s`` style."""
    return statement.replace("?", "%s")


class _PostgresDb:
    """:class:`~meterseal.ledger.storage_sql.Db` over a psycopg connection."""

    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def all(self, statement: str, params: Sequence[object] = ()) -> list[Row]:
        return self._conn.execute(_pg(statement), params or None).fetchall()

    def run(self, statement: str, params: Sequence[object] = ()) -> None:
        self._conn.execute(_pg(statement), params or None)

    def many(self, statement: str, rows: Sequence[Sequence[object]]) -> None:
        if rows:
            with self._conn.cursor() as cursor:
                cursor.executemany(_pg(statement), rows)


def conninfo(dsn: str, schema: str, connect_timeout: int) -> str:
    """``dsn`` plus the connect timeout and ``search_path = schema``."""
    if not _SCHEMA_NAME.fullmatch(schema):
        raise LedgerStorageError(f"not a plain lower-case schema name: {schema!r}")
    try:
        return make_conninfo(
            dsn, connect_timeout=connect_timeout, options=f"-c search_path={schema}"
        )
    except psycopg.ProgrammingError as exc:
        raise LedgerStorageError(f"not a PostgreSQL DSN or URL: {exc}") from exc


class PostgresLedgerStorage(SqlLedgerStorage):
    """The ledger's tables in schema ``schema`` of the database ``dsn`` names."""

    def __init__(self, dsn: str, *, schema: str = DEFAULT_SCHEMA, connect_timeout: int = 5) -> None:
        self._conninfo = conninfo(dsn, schema, connect_timeout)
        self._schema_name = schema
        self._lock = threading.RLock()
        self._closed = False
        self._conn: Connection | None = None
        with self._lock:
            self._live()

    @property
    def schema(self) -> str:
        return self._schema_name

    def _live(self) -> Connection:
        if self._closed:
            raise LedgerUnavailableError("the ledger's PostgreSQL store is closed")
        if self._conn is None or self._conn.broken or self._conn.closed:
            self._drop()
            try:
                self._conn = psycopg.connect(self._conninfo, autocommit=True)
            except psycopg.Error as exc:
                raise LedgerUnavailableError(f"cannot connect to PostgreSQL: {exc}") from exc
        return self._conn

    def _drop(self) -> None:
        if self._conn is not None:
            with contextlib.suppress(psycopg.Error):
                self._conn.close()
            self._conn = None

    def _translate(self, exc: psycopg.Error, conn: Connection) -> LedgerError:
        if conn.broken or conn.closed or isinstance(exc, psycopg.OperationalError):
            self._drop()
            return LedgerUnavailableError(
                f"PostgreSQL connection failed ({exc}); what was committed is safe"
            )
        return LedgerStorageError(f"PostgreSQL refused the operation: {exc}")

    @contextmanager
    def _session(self) -> Iterator[Connection]:
        with self._lock:
            conn = self._live()
            try:
                yield conn
            except psycopg.Error as exc:
                raise self._translate(exc, conn) from exc

    @contextmanager
    def _reading(self) -> Iterator[Db]:
        with self._session() as conn:
            yield _PostgresDb(conn)

    @contextmanager
    def _writing(self) -> Iterator[Db]:
        with self._session() as conn, conn.transaction():
            yield _PostgresDb(conn)

    def _has_tables(self, db: Db) -> bool:
        return db.all("SELECT to_regclass('ledger_meta')")[0][0] is not None

    def _schema(self) -> Sequence[str]:
        return (*POSTGRES_TABLES, *_triggers())

    def _lock_log(self, db: Db) -> None:
        """Under READ COMMITTED two integrations could both see the same latest size; the
        EXCLUSIVE lock (readers still read) makes the second wait, then see the first's."""
        db.run("LOCK TABLE ledger_checkpoints IN EXCLUSIVE MODE")

    def create(self, identity: LogIdentity) -> None:
        """Create the schema (if missing), then the tables and triggers; see the base class."""
        statement = sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(
            sql.Identifier(self._schema_name)
        )
        with self._session() as conn:
            conn.execute(statement)
        super().create(identity)

    def close(self) -> None:
        with self._lock:
            self._closed = True
            self._drop()
