"""Fixtures: every store test runs on SQLite and on PostgreSQL.

PostgreSQL comes from ``METERSEAL_TEST_PG_DSN`` (default: the local test server). Each
test gets a fresh schema, dropped afterwards; if the server is unreachable, the
PostgreSQL variants skip and say why.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from store_support import Backend, postgres_backend, sqlite_backend

from meterseal.store import Store
from meterseal.store.scratch import DEFAULT_TEST_DSN, postgres_reachable, scratch_schema

PG_DSN = os.environ.get("METERSEAL_TEST_PG_DSN", DEFAULT_TEST_DSN)


@pytest.fixture(scope="session")
def postgres_dsn() -> str:
    """The DSN of a reachable PostgreSQL server, or skip."""
    reason = postgres_reachable(PG_DSN)
    if reason is not None:
        pytest.skip(reason)
    return PG_DSN


@pytest.fixture
def sqlite_db(tmp_path: Path) -> Backend:
    """A SQLite database file in the test's temporary directory."""
    return sqlite_backend(tmp_path / "store.db")


@pytest.fixture
def postgres_db(postgres_dsn: str) -> Iterator[Backend]:
    """A fresh PostgreSQL schema, dropped after the test."""
    with scratch_schema(postgres_dsn, "test_store") as schema:
        yield postgres_backend(postgres_dsn, schema)


@pytest.fixture(params=["sqlite", "postgres"])
def backend(request: pytest.FixtureRequest) -> Backend:
    """Each backend in turn."""
    db: Backend = request.getfixturevalue(f"{request.param}_db")
    return db


@pytest.fixture
def store(backend: Backend) -> Iterator[Store]:
    """A migrated store on the backend, closed after the test."""
    opened = backend.open()
    opened.migrate()
    yield opened
    opened.close()


@pytest.fixture
def pg_store(postgres_db: Backend) -> Iterator[Store]:
    """A migrated PostgreSQL store (for PostgreSQL-only behaviour)."""
    opened = postgres_db.open()
    opened.migrate()
    yield opened
    opened.close()
