"""Fixtures of the ledger verification tests: an empty store on SQLite and PostgreSQL, and a
small filled one.

Test modules load them with ``pytest_plugins = ["ledger_verify_fixtures"]``.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from pathlib import Path

import pytest
from ledger_verify_support import PG_DSN, Filled, filled_store

from meterseal.ledger.verify import StoreOpener
from meterseal.store.postgres import PostgresStore
from meterseal.store.scratch import postgres_reachable, scratch_schema
from meterseal.store.sqlite import SqliteStore


@pytest.fixture(params=["sqlite", "postgres"])
def opener(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[StoreOpener]:
    """A migrated, empty store: SQLite in the test's directory or a scratch PostgreSQL
    schema (dropped afterwards; skipped, with the reason, if no server is reachable)."""
    if request.param == "sqlite":
        make: StoreOpener = functools.partial(SqliteStore, tmp_path / "store.db")
        _migrate(make)
        yield make
        return
    reason = postgres_reachable(PG_DSN)
    if reason is not None:
        pytest.skip(reason)
    with scratch_schema(PG_DSN, "verify") as schema:
        make = functools.partial(PostgresStore, PG_DSN, schema=schema)
        _migrate(make)
        yield make


def _migrate(make: StoreOpener) -> None:
    store = make()
    try:
        store.migrate()
    finally:
        store.close()


@pytest.fixture
def small(opener: StoreOpener) -> Filled:
    """4 meters x 6 batches of 8 intervals each."""
    return filled_store(opener, 4, 6, intervals=8)
