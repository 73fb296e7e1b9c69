"""SQLite backend: the file, WAL, the durability setting, locking, closing."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from store_support import batch, meter

from meterseal.store import SqliteStore, StoreClosedError, StoreError, StoreUnavailable


def _migrated(path: Path, **options: object) -> SqliteStore:
    store = SqliteStore(path, **options)  # type: ignore[arg-type]  # options are keywords
    store.migrate()
    return store


def test_the_file_survives_close_and_reopen(tmp_path: Path) -> None:
    item = batch("M1", 1)
    store = _migrated(tmp_path / "store.db")
    store.add_meter(meter("M1"))
    store.store_batches([item])
    store.close()
    reopened = _migrated(tmp_path / "store.db")
    try:
        assert reopened.list_meters() == [meter("M1")]
        assert list(reopened.iter_batches()) == [item[0]]
        assert reopened.readings("M1", 0, 2**40) == item[1]
    finally:
        reopened.close()


def test_wal_mode_and_full_synchronous_by_default(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "store.db")
    try:
        assert store.pragma("journal_mode") == "wal"
        assert store.pragma("synchronous") == 2  # FULL
        assert store.pragma("foreign_keys") == 1
    finally:
        store.close()


def test_synchronous_normal_can_be_chosen(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "store.db", synchronous="normal")
    try:
        assert store.synchronous == "NORMAL"
        assert store.pragma("synchronous") == 1
    finally:
        store.close()


def test_an_unknown_synchronous_level_is_refused(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="synchronous"):
        SqliteStore(tmp_path / "store.db", synchronous="OFF")


def test_a_held_write_lock_makes_the_store_unavailable(tmp_path: Path) -> None:
    store = _migrated(tmp_path / "store.db", timeout=0.05)
    store.add_meter(meter("M1"))
    other = sqlite3.connect(tmp_path / "store.db", isolation_level=None)
    try:
        other.execute("BEGIN IMMEDIATE")
        with pytest.raises(StoreUnavailable, match="locked"):
            store.store_batches([batch("M1", 1)])
        other.execute("ROLLBACK")
        assert store.store_batches([batch("M1", 1)])
    finally:
        other.close()
        store.close()


def test_a_missing_directory_is_unavailable(tmp_path: Path) -> None:
    with pytest.raises(StoreUnavailable, match="cannot open"):
        SqliteStore(tmp_path / "no" / "such" / "store.db")


def test_an_unmigrated_database_says_so(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "store.db")
    try:
        with pytest.raises(StoreError, match="no such table"):
            store.list_meters()
    finally:
        store.close()


def test_a_closed_store_refuses_calls(tmp_path: Path) -> None:
    store = _migrated(tmp_path / "store.db")
    store.close()
    store.close()  # closing twice is harmless
    with pytest.raises(StoreClosedError):
        store.count_batches()


def test_an_in_memory_database_works_without_a_file() -> None:
    store = SqliteStore(":memory:")
    try:
        store.migrate()
        store.add_meter(meter("M1"))
        store.store_batches([batch("M1", 1)])
        assert store.count_readings() == 4
        assert store.pragma("journal_mode") == "memory"
    finally:
        store.close()
