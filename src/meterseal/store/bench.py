"""Store insert benchmarks: interval readings per second through ``store_batches``, and the
baseline.

The baseline of the ingest benchmarks (DESIGN.md: "SQLite inserting the same decoded rows
with no crypto and no network") is :func:`baseline_rate`: plain ``sqlite3``
``executemany`` of the same wide ``interval_readings`` rows the store writes, as
ready-made tuples, into a bare table with the same columns and no key or index, one
transaction per chunk, in a WAL file with the same ``synchronous`` level as the store.
:func:`insert_rate` measures a real store doing everything it does for ingest: meter
lookup, duplicate check, the signed batch rows (evidence), the interval rows with their
primary key, and the latest-value upserts, also one transaction per chunk.

The unit is the *interval reading* (one freeze of a meter's registers; an electricity one
holds five register values): the unit of DESIGN.md's "readings/s" goal. The synthetic
batches are what ingest offers: electricity batches as
:class:`~meterseal.store.rows.IntervalColumns`.
"""

from __future__ import annotations

import gc
import hashlib
import os
import sqlite3
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from meterseal.bench.report import BenchResult
from meterseal.store.batching import INTERVAL_COLUMNS, IntervalTuple, batch_rows
from meterseal.store.errors import StoreError
from meterseal.store.interface import Store
from meterseal.store.postgres import PostgresStore
from meterseal.store.rows import BatchItem, BatchRow, IntervalColumns, MeterRecord
from meterseal.store.scratch import postgres_reachable, scratch_schema, scratch_sqlite_path
from meterseal.store.sqlite import DEFAULT_SYNCHRONOUS, SYNCHRONOUS_LEVELS, SqliteStore

DEFAULT_CHUNK = 50
"""Batches per ``store_batches`` call (per transaction)."""

INTERVAL_SECONDS = 900
SIGNED_BATCH_BYTES = 700  # about the size of a COSE_Sign1 over 96 CBOR interval readings
ELECTRICITY_VALUES = 5  # register values per electricity interval reading
_T0 = 1_700_000_000 - 1_700_000_000 % 86_400  # a UTC midnight
_BARE_TABLE = f"CREATE TABLE interval_readings ({', '.join(INTERVAL_COLUMNS)})"
_BARE_INSERT = f"INSERT INTO interval_readings VALUES ({', '.join('?' * len(INTERVAL_COLUMNS))})"  # noqa: S608


def meter_records(meters: int) -> list[MeterRecord]:
    """``meters`` registered electricity meters, M00000000 upwards."""
    return [
        MeterRecord(f"M{m:08d}", "electricity", 2, "bench", b"\x04" * 65, b"cred", "registered", 0)
        for m in range(meters)
    ]


def synthetic_items(batches: int, intervals_per_batch: int, meters: int) -> list[BatchItem]:
    """Electricity batches as ingest offers them: meters take turns, each batch one period."""
    return [_item(index, intervals_per_batch, meters) for index in range(batches)]


def _item(index: int, count: int, meters: int) -> BatchItem:
    meter_id, seq = f"M{index % meters:08d}", index // meters
    start = _T0 + seq * count * INTERVAL_SECONDS
    signed = index.to_bytes(8, "big") * (SIGNED_BATCH_BYTES // 8)
    digest = hashlib.sha256(signed).digest()
    values = ELECTRICITY_VALUES * count
    batch = BatchRow(meter_id, seq, start, INTERVAL_SECONDS, signed, digest, 0, values)
    energy = range(seq * count * 25, (seq + 1) * count * 25, 25)
    columns = IntervalColumns(
        meter_id,
        seq,
        range(start + INTERVAL_SECONDS, start + (count + 1) * INTERVAL_SECONDS, INTERVAL_SECONDS),
        energy_import_wh=energy,
        energy_export_wh=[0] * count,
        voltage_dv=[2300] * count,
        current_ma=[5000 + index % 7] * count,
        power_w=[1150] * count,
    )
    return batch, columns


def insert_rate(
    store_factory: Callable[[], Store],
    batches: int,
    intervals_per_batch: int = 96,
    *,
    chunk: int = DEFAULT_CHUNK,
    meters: int = 100,
) -> float:
    """Interval readings per second stored through ``store_batches``, ``chunk`` per call.

    ``store_factory`` returns a fresh, migrated store, which is closed afterwards. Building
    the rows and registering the meters are not timed.
    """
    items = synthetic_items(batches, intervals_per_batch, meters)
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
    return batches * intervals_per_batch / elapsed


def sqlite_baseline_rate(
    batches: int,
    intervals_per_batch: int = 96,
    *,
    chunk: int = DEFAULT_CHUNK,
    meters: int = 100,
    synchronous: str = DEFAULT_SYNCHRONOUS,
    path: Path | None = None,
) -> float:
    """The baseline (:func:`baseline_rate`) for the synthetic batches of :func:`insert_rate`."""
    items = synthetic_items(batches, intervals_per_batch, meters)
    return baseline_rate(items, chunk=chunk, synchronous=synchronous, path=path)


def baseline_rate(
    items: Sequence[BatchItem],
    *,
    chunk: int = DEFAULT_CHUNK,
    synchronous: str = DEFAULT_SYNCHRONOUS,
    path: Path | None = None,
) -> float:
    """Interval readings per second of bare ``sqlite3`` executemany of ``items``' rows.

    The rows are the store's own (meter_ref numbers the meters in order of appearance),
    built before timing. ``path`` is a database file to create (default: one in a
    temporary directory).
    """
    if synchronous.upper() not in SYNCHRONOUS_LEVELS:
        raise StoreError(f"synchronous must be one of {SYNCHRONOUS_LEVELS}, not {synchronous!r}")
    refs = meter_refs(items)
    chunks = [wide_rows(items[i : i + chunk], refs) for i in range(0, len(items), chunk)]
    if path is not None:
        return _baseline_in(path, chunks, synchronous)
    with scratch_sqlite_path("baseline.db") as scratch:
        return _baseline_in(scratch, chunks, synchronous)


def meter_refs(items: Sequence[BatchItem]) -> dict[str, int]:
    """A meter_ref for each meter of ``items``: 1, 2, ... in order of first appearance (as
    the store numbers meters registered in that order)."""
    refs: dict[str, int] = {}
    for batch, _ in items:
        refs.setdefault(batch.meter_id, len(refs) + 1)
    return refs


def wide_rows(items: Sequence[BatchItem], refs: Mapping[str, int]) -> list[IntervalTuple]:
    """The ``interval_readings`` rows of ``items``, as the store writes them."""
    return [
        row
        for batch, readings in items
        for row in batch_rows(refs[batch.meter_id], batch, readings)
    ]


def _baseline_in(path: Path, chunks: list[list[IntervalTuple]], synchronous: str) -> float:
    conn = sqlite3.connect(os.fspath(path), isolation_level=None)
    try:
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute(f"PRAGMA synchronous={synchronous}")
        conn.execute(_BARE_TABLE)
        gc.collect()
        start = time.perf_counter()
        for rows in chunks:
            conn.execute("BEGIN")
            conn.executemany(_BARE_INSERT, rows)
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

    ``seconds`` scales the work (about 2,000 batches of 96 interval readings per second
    asked for). PostgreSQL is measured, in a scratch schema, when ``postgres_dsn`` or the
    environment variable ``METERSEAL_PG_DSN`` names a reachable server.
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
            note="interval readings (5 register values each); baseline: bare sqlite3 "
            "executemany of the same wide rows",
        )
    ]
    dsn = postgres_dsn or os.environ.get("METERSEAL_PG_DSN")
    if dsn and postgres_reachable(dsn) is None:
        with scratch_schema(dsn, "bench") as schema:
            rate = insert_rate(lambda: _migrated(PostgresStore(dsn, schema=schema)), batches)
        results.append(
            BenchResult(
                "store insert, PostgreSQL COPY", rate, "readings/s", note="interval readings"
            )
        )
    return results
