"""The insert benchmark helpers measure what they say: every timed reading is stored."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from meterseal.store import SqliteStore, Store
from meterseal.store.bench import (
    insert_rate,
    meter_refs,
    sqlite_baseline_rate,
    synthetic_items,
    wide_rows,
)


def _migrated(path: Path) -> Store:
    store = SqliteStore(path)
    store.migrate()
    return store


def test_insert_rate_stores_every_interval_reading_it_counts(tmp_path: Path) -> None:
    rate = insert_rate(lambda: _migrated(tmp_path / "s.db"), 30, 12, chunk=7, meters=4)
    store = _migrated(tmp_path / "s.db")
    try:
        counts = (store.count_batches(), store.count_intervals(), store.count_readings())
    finally:
        store.close()
    assert counts == (30, 360, 360 * 5)
    assert rate > 0


def test_baseline_inserts_the_same_wide_rows_as_the_store(tmp_path: Path) -> None:
    rate = sqlite_baseline_rate(30, 12, chunk=7, meters=4, path=tmp_path / "b.db")
    assert rate > 0
    baseline = sqlite3.connect(tmp_path / "b.db")
    try:
        bare = sorted(baseline.execute("SELECT * FROM interval_readings").fetchall())
    finally:
        baseline.close()
    insert_rate(lambda: _migrated(tmp_path / "s.db"), 30, 12, chunk=7, meters=4)
    store = sqlite3.connect(tmp_path / "s.db")
    try:
        stored = sorted(store.execute("SELECT * FROM interval_readings").fetchall())
    finally:
        store.close()
    assert len(bare) == 360
    items = synthetic_items(30, 12, 4)
    assert bare == stored == sorted(wide_rows(items, meter_refs(items)))
