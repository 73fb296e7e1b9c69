"""Fixtures of the reliability tests: the store each head-end runs on.

Test modules load them with ``pytest_plugins = ["reliability_fixtures"]`` (not a
conftest: mypy checks the whole tree, where module names must be unique).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from meterseal.store import sqlite_url
from meterseal.store.scratch import DEFAULT_TEST_DSN, postgres_reachable, scratch_schema

PG_DSN = os.environ.get("METERSEAL_TEST_PG_DSN", DEFAULT_TEST_DSN)


@pytest.fixture(params=["sqlite", "postgres"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A store URL: SQLite in the test's directory, or a scratch PostgreSQL schema
    (dropped afterwards; skipped, with the reason, if no server is reachable)."""
    if request.param == "sqlite":
        yield sqlite_url(tmp_path)
        return
    reason = postgres_reachable(PG_DSN)
    if reason is not None:
        pytest.skip(reason)
    with scratch_schema(PG_DSN, "test_reliability") as schema:
        yield f"{PG_DSN} options=-csearch_path={schema}"


@pytest.fixture
def sqlite_store_url(tmp_path: Path) -> str:
    """SQLite in the test's directory (the embedded default)."""
    return sqlite_url(tmp_path)
