"""Store insert benchmarks: readings per second through ``store_batches``, and the baseline.

The baseline of the ingest benchmark (docs: "SQLite inserting the same decoded rows with
no crypto and no network") is :func:`sqlite_baseline_rate`: plain ``sqlite3``
``executemany`` of the same reading rows, as ready-made tuples, into a bare table with no
key or index, one transaction per chunk, in a WAL file with the same ``synchronous``
level as the store. :func:`insert_rate` measures a real store doing everything it does for
ingest: meter lookup, duplicate check, the signed batch rows (evidence), the readings
with their primary key, and the latest-value upserts, also one transaction per chunk.

A "reading" here is one :class:`ReadingRow` (one register value of one interval).
"""

from __future__ import annotations

import gc
import hashlib
import os
import sqlite3
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from meterseal.bench.report import BenchResult
from meterseal.store.errors import StoreError
from meterseal.store.interface import Store
from meterseal.store.postgres import PostgresStore
from meterseal.store.rows import BatchItem, BatchRow, MeterRecord, ReadingRow, Register
from meterseal.store.scratch import postgres_reachable, scratch_schema, scratch_sqlite_path
from meterseal.store.sqlite import DEFAULT_SYNCHRONOUS, SYNCHRONOUS_LEVELS, SqliteStore

DEFAULT_CHUNK = 50
"""Batches per ``store_batches`` call (per transaction)."""

INTERVAL_SECONDS = 900
SIGNED_BATCH_BYTES = 700  # about the size of a COSE_Sign1 over 96 CBOR interval readings
_T0 = 1_700_000_000 - 1_700_000_000 % 86_400  # a UTC midnight


def meter_records(meters: int) -> list[MeterRecord]:
    """``meters`` registered electricity meters, M00000000 upwards."""
    return [
        MeterRecord(f"M{m:08d}", "electricity", 2, "bench", b"\x04" * 65, b"cred", "registered", 0)
        for m in range(meters)
    ]


def synthetic_items(batches: int, readings_per_batch: int, meters: int) -> list[BatchItem]:
    """Signed-batch rows and their readings: meters take turns, each batch one period."""
    return [_item(index, readings_per_batch, meters) for index in range(batches)]


def _item(index: int, count: int, meters: int) -> BatchItem:
    meter_id, seq = f"M{index % meters:08d}", index // meters
    start = _T0 + seq * count * INTERVAL_SECONDS
    signed = index.to_bytes(8, "big") * (SIGNED_BATCH_BYTES // 8)
    batch = BatchRow(
        meter_id, seq, start, INTERVAL_SECONDS, signed, hashlib.sha256(signed).digest(), 0, count
    )
    readings = [
        ReadingRow(
            meter_id, seq, start + (i + 1) * INTERVAL_SECONDS, Register.ENERGY_IMPORT_WH, i * 25
        )
        for i in range(count)
    ]
    return batch, readings


def insert_rate(
    store_factory: Callable[[], Store],
    batches: int,
    readings_per_batch: int = 96,
    *,
    chunk: int = DEFAULT_CHUNK,
    meters: int = 100,
) -> float:
    """Readings per second stored through ``store_batches``, ``chunk`` batches per call.

    ``store_factory`` returns a fresh, migrated store, which is closed afterwards. Building
    the rows and registering the meters are not timed.
    """
    items = synthetic_items(batches, readings_per_batch, meters)
    store = store_factory()
    try:
        for meter in meter_records(meters):
            store.add_meter(meter)
        gc.collect()  # the prepared rows are long-lived: age them now, not in the timed loop
        start = time.perf_counter()
        for offset in range(0, len(items), chunk):
            store.store_batches(items[offset : offset + chunk])
        elapsed = time.perf_counter() - start
    finally:
        store.close()
    return batches * readings_per_batch / elapsed


def sqlite_baseline_rate(
    batches: int,
    readings_per_batch: int = 96,
    *,
    chunk: int = DEFAULT_CHUNK,
    meters: int = 100,
    synchronous: str = DEFAULT_SYNCHRONOUS,
    path: Path | None = None,
) -> float:
    """Readings per second of bare ``sqlite3`` executemany of the same rows (the baseline).

    ``path`` is a database file to create (default: one in a temporary directory).
    """
    if synchronous.upper() not in SYNCHRONOUS_LEVELS:
        raise StoreError(f"synchronous must be one of {SYNCHRONOUS_LEVELS}, not {synchronous!r}")
    items = synthetic_items(batches, readings_per_batch, meters)
    chunks = [_reading_tuples(items[i : i + chunk]) for i in range(0, len(items), chunk)]
    if path is not None:
        return _baseline_in(path, chunks, synchronous)
    with scratch_sqlite_path("baseline.db") as scratch:
        return _baseline_in(scratch, chunks, synchronous)


def _reading_tuples(items: Sequence[BatchItem]) -> list[tuple[str, int, int, int, int]]:
    return [
        (r.meter_id, r.batch_seq, r.at, r.register, r.value)
        for _, readings in items
        for r in readings
    ]


def _baseline_in(
    path: Path, chunks: list[list[tuple[str, int, int, int, int]]], synchronous: str
) -> float:
    conn = sqlite3.connect(os.fspath(path), isolation_level=None)
    try:
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute(f"PRAGMA synchronous={synchronous}")
        conn.execute("CREATE TABLE readings (meter_id, batch_seq, at, register, value)")
        gc.collect()
        start = time.perf_counter()
        for rows in chunks:
            conn.execute("BEGIN")
            conn.executemany("INSERT INTO readings VALUES (?, ?, ?, ?, ?)", rows)
            conn.execute("COMMIT")
        elapsed = time.perf_counter() - start
    finally:
        conn.close()
    return sum(len(rows) for rows in chunks) / elapsed


def _migrated(store: Store) -> Store:
    store.migrate()
    return store


def run(seconds: float = 1.0, *, postgres_dsn: str | None = None) -> list[BenchResult]:
    """The store figures for ``meterseal bench``: SQLite beside its baseline, and PostgreSQL.

    ``seconds`` scales the work (about 2,000 batches of 96 readings per second asked for).
    PostgreSQL is measured, in a scratch schema, when ``postgres_dsn`` or the environment
    variable ``METERSEAL_PG_DSN`` names a reachable server.
    """
    batches = max(200, int(2000 * seconds))
    baseline = sqlite_baseline_rate(batches)
    with scratch_sqlite_path() as path:
        sqlite_rate = insert_rate(lambda: _migrated(SqliteStore(path)), batches)
    results = [
        BenchResult(
            f"store insert, SQLite WAL synchronous={DEFAULT_SYNCHRONOUS}",
            sqlite_rate,
            "readings/s",
            baseline=baseline,
            note="baseline: bare sqlite3 executemany of the same rows",
        )
    ]
    dsn = postgres_dsn or os.environ.get("METERSEAL_PG_DSN")
    if dsn and postgres_reachable(dsn) is None:
        with scratch_schema(dsn, "bench") as schema:
            rate = insert_rate(lambda: _migrated(PostgresStore(dsn, schema=schema)), batches)
        results.append(BenchResult("store insert, PostgreSQL COPY", rate, "readings/s"))
    return results
