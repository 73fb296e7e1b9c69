"""PostgreSQL backend: a broken connection raises StoreUnavailable, then reconnects."""

from __future__ import annotations

import psycopg
import pytest
from store_support import batch, meter

from meterseal.store import (
    PostgresStore,
    Store,
    StoreClosedError,
    StoreError,
    StoreOutcome,
    StoreUnavailable,
)


def _terminate(dsn: str, store: Store) -> None:
    """Kill the store's server process from a second connection."""
    assert isinstance(store, PostgresStore)
    pid = store.backend_pid
    assert pid is not None
    with psycopg.connect(dsn, autocommit=True) as admin:
        row = admin.execute("SELECT pg_terminate_backend(%s)", (pid,)).fetchone()
    assert row == (True,)


@pytest.fixture
def filled(pg_store: Store) -> Store:
    pg_store.add_meter(meter("M1"))
    pg_store.store_batches([batch("M1", 1), batch("M1", 2)])
    return pg_store


def test_a_killed_connection_raises_unavailable_then_reconnects(
    filled: Store, postgres_dsn: str
) -> None:
    assert isinstance(filled, PostgresStore)
    old_pid = filled.backend_pid
    _terminate(postgres_dsn, filled)
    with pytest.raises(StoreUnavailable, match="next call reconnects"):
        filled.count_batches()
    assert filled.count_batches() == 2
    assert filled.backend_pid not in (None, old_pid)
    assert [b.signed_batch for b in filled.iter_batches()] == [
        batch("M1", 1)[0].signed_batch,
        batch("M1", 2)[0].signed_batch,
    ]


def test_explicit_reconnect(filled: Store, postgres_dsn: str) -> None:
    assert isinstance(filled, PostgresStore)
    _terminate(postgres_dsn, filled)
    filled.reconnect()
    assert filled.last_batch_seq("M1") == 2


def test_a_write_on_a_killed_connection_can_be_retried(filled: Store, postgres_dsn: str) -> None:
    _terminate(postgres_dsn, filled)
    with pytest.raises(StoreUnavailable):
        filled.store_batches([batch("M1", 3)])
    assert filled.store_batches([batch("M1", 3), batch("M1", 2)]) == [
        StoreOutcome.STORED,
        StoreOutcome.DUPLICATE,
    ]
    assert filled.count_readings() == 12


def test_an_unreachable_server_is_unavailable() -> None:
    with pytest.raises(StoreUnavailable, match="cannot connect"):
        PostgresStore("host=127.0.0.1 port=1 dbname=test user=postgres", connect_timeout=1)


def test_a_bad_schema_name_is_refused(postgres_dsn: str) -> None:
    with pytest.raises(StoreError, match="schema name"):
        PostgresStore(postgres_dsn, schema="x; DROP TABLE meters")


def test_a_closed_store_refuses_calls_and_does_not_reconnect(filled: Store) -> None:
    filled.close()
    with pytest.raises(StoreClosedError):
        filled.count_batches()
    assert isinstance(filled, PostgresStore)
    with pytest.raises(StoreClosedError):
        filled.reconnect()
