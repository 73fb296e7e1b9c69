"""Fixtures of the head-end integration tests: the store each test runs on.

Test modules load them with ``pytest_plugins = ["headend_fixtures"]`` (not a conftest:
mypy checks the whole tree, where module names must be unique).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from headend_support import Backend, postgres_backend, sqlite_backend

from meterseal.store.scratch import DEFAULT_TEST_DSN, postgres_reachable, scratch_schema

PG_DSN = os.environ.get("METERSEAL_TEST_PG_DSN", DEFAULT_TEST_DSN)


@pytest.fixture(params=["sqlite", "postgres"])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Backend]:
    """The store to run the head-end on: a SQLite file, or a scratch PostgreSQL schema
    (skipped, with the reason, if no PostgreSQL server is reachable)."""
    if request.param == "sqlite":
        yield sqlite_backend(tmp_path)
        return
    reason = postgres_reachable(PG_DSN)
    if reason is not None:
        pytest.skip(reason)
    with scratch_schema(PG_DSN, "test_headend") as schema:
        yield postgres_backend(PG_DSN, schema)


@pytest.fixture
def sqlite(tmp_path: Path) -> Backend:
    """A SQLite store file in the test's directory."""
    return sqlite_backend(tmp_path)
