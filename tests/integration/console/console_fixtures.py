"""Fixtures for the console and REST API tests: the seeded console on SQLite and on
PostgreSQL (skipped, saying why, when the server is not there)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from console_support import PG_DSN, Clock, Console, build_console

from meterseal.api.context import ConsoleStore, console_store
from meterseal.store import PostgresStore, SqliteStore
from meterseal.store.scratch import postgres_reachable, scratch_schema


@pytest.fixture(scope="session")
def console_pg_dsn() -> str:
    """A reachable PostgreSQL server, or skip saying why."""
    reason = postgres_reachable(PG_DSN)
    if reason is not None:
        pytest.skip(reason)
    return PG_DSN


def _sqlite(path: Path) -> Iterator[ConsoleStore]:
    store = SqliteStore(path)
    store.migrate()
    try:
        yield console_store(store)
    finally:
        store.close()


def _postgres(dsn: str) -> Iterator[ConsoleStore]:
    with scratch_schema(dsn, "test_console") as schema:
        store = PostgresStore(dsn, schema=schema)
        store.migrate()
        try:
            yield console_store(store)
        finally:
            store.close()


@pytest.fixture(params=["sqlite", "postgres"])
def any_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[ConsoleStore]:
    """A migrated, empty store on each backend in turn."""
    if request.param == "sqlite":
        yield from _sqlite(tmp_path / "console.db")
    else:
        yield from _postgres(request.getfixturevalue("console_pg_dsn"))


@pytest.fixture
def sqlite_store(tmp_path: Path) -> Iterator[ConsoleStore]:
    """A migrated, empty SQLite store."""
    yield from _sqlite(tmp_path / "console.db")


@pytest.fixture
def console(any_store: ConsoleStore) -> Console:
    """The seeded console on each backend in turn."""
    return build_console(any_store, Clock())


@pytest.fixture
def sqlite_console(sqlite_store: ConsoleStore) -> Console:
    """The seeded console on SQLite only (for tests about the app, not the database)."""
    return build_console(sqlite_store, Clock())


@pytest.fixture
def postgres_store(console_pg_dsn: str) -> Iterator[ConsoleStore]:
    """A migrated, empty PostgreSQL store (skips without the server)."""
    yield from _postgres(console_pg_dsn)
