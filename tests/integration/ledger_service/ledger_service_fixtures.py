"""Fixtures of the ledger service tests: the ledger's own store on SQLite and PostgreSQL.

Test modules load them with ``pytest_plugins = ["ledger_service_fixtures"]``.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from ledger_service_support import PG_DSN, Backend

from meterseal.store.scratch import postgres_reachable, scratch_schema


@pytest.fixture(params=["sqlite", "postgres"])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Backend]:
    """The ledger store on SQLite, then on a scratch PostgreSQL schema."""
    if request.param == "sqlite":
        chosen = Backend("sqlite", path=tmp_path / "ledger.db")
        yield chosen
        chosen.close_all()
        return
    reason = postgres_reachable(PG_DSN)
    if reason is not None:
        pytest.skip(reason)
    with scratch_schema(PG_DSN, "test_ledger") as schema:
        chosen = Backend("postgres", schema=schema)
        yield chosen
        chosen.close_all()


@pytest.fixture
def postgres_schema() -> Iterator[str]:
    """A scratch PostgreSQL schema (skipped, with the reason, if no server is reachable)."""
    reason = postgres_reachable(PG_DSN)
    if reason is not None:
        pytest.skip(reason)
    with scratch_schema(PG_DSN, "test_ledger") as schema:
        yield schema
