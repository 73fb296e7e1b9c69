"""Throw-away stores for tests and benchmarks: a temporary SQLite file, a fresh schema.

A scratch PostgreSQL store lives in its own schema, ``<prefix>_<random>``, created on entry
and dropped (with everything in it) on exit, so parallel runs and reruns never collide
and nothing is left behind in the database.
"""

from __future__ import annotations

import secrets
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg
from psycopg import sql

from meterseal.store.errors import StoreUnavailable

DEFAULT_TEST_DSN = "host=127.0.0.1 port=5432 dbname=test user=postgres"


def postgres_reachable(dsn: str, timeout: int = 2) -> str | None:
    """None if the server at ``dsn`` accepts a connection, else the reason it does not."""
    try:
        with psycopg.connect(dsn, connect_timeout=timeout):
            return None
    except psycopg.Error as exc:
        return f"PostgreSQL not reachable at {dsn!r}: {str(exc).strip()}"


@contextmanager
def scratch_schema(dsn: str, prefix: str = "scratch") -> Iterator[str]:
    """A new, empty schema on the server at ``dsn``; dropped with its contents on exit."""
    name = f"{prefix}_{secrets.token_hex(6)}"
    _admin(dsn, sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(name)))
    try:
        yield name
    finally:
        _admin(dsn, sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(name)))


def _admin(dsn: str, statement: sql.Composed) -> None:
    try:
        with psycopg.connect(dsn, autocommit=True, connect_timeout=5) as conn:
            conn.execute(statement)
    except psycopg.Error as exc:
        raise StoreUnavailable(f"PostgreSQL administration failed: {exc}") from exc


@contextmanager
def scratch_sqlite_path(name: str = "store.db") -> Iterator[Path]:
    """A database file path in a new temporary directory, removed on exit."""
    with tempfile.TemporaryDirectory(prefix="meterseal-store-") as directory:
        yield Path(directory) / name
