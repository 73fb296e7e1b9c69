"""What both SQL backends share: the registry and query methods of :class:`Store`.

The SQL here is written once, with ``?`` placeholders and nothing backend-specific;
each backend supplies a :class:`Query` (PostgreSQL's turns ``?`` into ``%s``) inside its
own locking, transaction and error translation, plus the two things that differ: the
bulk write path (``store_batches``) and the per-day aggregate of ``daily_consumption``.

Readings live in ``interval_readings``, one wide row per (meter, interval end, batch) with
a column per register (:mod:`meterseal.store.rows`); :meth:`SqlStore.readings` unfolds the
rows into one :class:`ReadingRow` per register value. A register's column name comes from
:data:`~meterseal.store.rows.COLUMN_OF`, never from the caller, so formatting it into SQL
is safe.

Queries about a meter that is not registered answer empty (``None``, ``[]``); writes for
one raise :class:`UnknownMeterError`.
"""

from __future__ import annotations

import abc
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager
from datetime import date
from typing import Any, Protocol

from meterseal.store import consumption
from meterseal.store.accounts import AccountQueries
from meterseal.store.commands import CommandQueries
from meterseal.store.errors import DuplicateMeterError, UnknownMeterError
from meterseal.store.events import EventQueries
from meterseal.store.outbox import OutboxQueries
from meterseal.store.rows import (
    COLUMN_OF,
    CONSUMPTION_REGISTER,
    REGISTER_COLUMNS,
    BatchItem,
    BatchRow,
    DayConsumption,
    MeterLatest,
    MeterRecord,
    ReadingRow,
    StoreOutcome,
)
from meterseal.store.security import SecurityQueries

Row = tuple[Any, ...]

PAGE_SIZE = 1000
"""Batches fetched per query by ``iter_batches``."""

_METERS = (
    "SELECT meter_id, meter_type, suite, owner, public_key, identity_credential, state,"
    " registered_at FROM meters"
)
_GET_METER = _METERS + " WHERE meter_id = ?"
_LIST_METERS = _METERS + " ORDER BY meter_id"
_ADD_METER = (
    "INSERT INTO meters (meter_id, meter_type, suite, owner, public_key, identity_credential,"
    " state, registered_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (meter_id) DO NOTHING"
)
_LAST_SEQ = (
    "SELECT max(batch_seq) FROM batches"
    " WHERE meter_ref = (SELECT id FROM meters WHERE meter_id = ?)"
)
_WIDE = ", ".join(column for _, column in REGISTER_COLUMNS)
_READINGS = (
    f"SELECT batch_seq, at, {_WIDE} FROM interval_readings"  # noqa: S608 - constant columns
    " WHERE meter_ref = (SELECT id FROM meters WHERE meter_id = ?) AND at >= ? AND at < ?"
    " ORDER BY at, batch_seq"
)
_COUNT_VALUES = "SELECT {} FROM interval_readings".format(  # noqa: S608 - constant columns
    " + ".join(f"count({column})" for _, column in REGISTER_COLUMNS)
)
_BASELINE_AT_OR_BEFORE = (
    "SELECT {0} FROM interval_readings WHERE meter_ref = ? AND {0} IS NOT NULL AND at <= ?"
    " ORDER BY at DESC, batch_seq DESC LIMIT 1"
)
_BASELINE_AFTER = (
    "SELECT {0} FROM interval_readings WHERE meter_ref = ? AND {0} IS NOT NULL AND at > ?"
    " ORDER BY at, batch_seq LIMIT 1"
)
_BATCH_PAGE = (
    "SELECT batch_seq, interval_start, interval_seconds, signed_batch, batch_hash, received_at,"
    " reading_count FROM batches WHERE meter_ref = ? AND batch_seq > ?"
    " ORDER BY batch_seq LIMIT ?"
)


class Query(Protocol):
    """Statements on one connection, with ``?`` placeholders."""

    def all(self, sql: str, params: Sequence[object] = ()) -> list[Row]:
        """Run a query and return every row."""
        ...

    def one(self, sql: str, params: Sequence[object] = ()) -> Row | None:
        """Run a query and return its first row, or None."""
        ...

    def run(self, sql: str, params: Sequence[object] = ()) -> int:
        """Run a statement and return the number of rows it changed."""
        ...


def _meter(row: Row) -> MeterRecord:
    return MeterRecord(row[0], row[1], row[2], row[3], bytes(row[4]), bytes(row[5]), row[6], row[7])


class SqlStore(
    CommandQueries, AccountQueries, SecurityQueries, OutboxQueries, EventQueries, abc.ABC
):
    """The :class:`~meterseal.store.interface.Store` methods common to both backends."""

    DAY_LASTS_SQL: str
    """(day number, last value) per day of register column ``{0}`` with ``? < at <= ?``."""

    def __init__(self) -> None:
        # meter_id -> meter_ref; safe to cache because meters are never deleted or renumbered
        self._ref_cache: dict[str, int] = {}

    @abc.abstractmethod
    def migrate(self, target: int | None = None) -> list[int]:
        """Apply the pending schema migrations up to ``target``; see the Store protocol."""

    @abc.abstractmethod
    def store_batches(self, items: Sequence[BatchItem]) -> list[StoreOutcome]:
        """Store batches and readings in one transaction; see the Store protocol."""

    @abc.abstractmethod
    def close(self) -> None:
        """Close the connection; later calls raise :class:`StoreClosedError`."""

    @abc.abstractmethod
    def _reading(self) -> AbstractContextManager[Query]:
        """A locked connection for reads (no explicit transaction)."""

    @abc.abstractmethod
    def _writing(self) -> AbstractContextManager[Query]:
        """A locked connection inside a transaction, committed when the block ends."""

    # --- registry -----------------------------------------------------------------------

    def add_meter(self, meter: MeterRecord) -> None:
        """Register a meter; :class:`DuplicateMeterError` if its ID is already known."""
        params = (
            meter.meter_id,
            meter.meter_type,
            meter.suite,
            meter.owner,
            meter.public_key,
            meter.identity_credential,
            meter.state,
            meter.registered_at,
        )
        with self._writing() as query:
            if query.run(_ADD_METER, params) == 0:
                raise DuplicateMeterError(f"meter {meter.meter_id!r} is already registered")

    def get_meter(self, meter_id: str) -> MeterRecord | None:
        """The registered meter, or None."""
        with self._reading() as query:
            row = query.one(_GET_METER, (meter_id,))
        return None if row is None else _meter(row)

    def list_meters(self) -> list[MeterRecord]:
        """Every registered meter, ordered by meter ID."""
        with self._reading() as query:
            rows = query.all(_LIST_METERS)
        return [_meter(row) for row in rows]

    def set_meter_state(self, meter_id: str, state: str) -> None:
        """Change a meter's state; :class:`UnknownMeterError` if it is not registered."""
        with self._writing() as query:
            if query.run("UPDATE meters SET state = ? WHERE meter_id = ?", (state, meter_id)) == 0:
                raise UnknownMeterError(f"meter {meter_id!r} is not registered")

    def _meter_refs(self, query: Query, items: Sequence[BatchItem]) -> list[int]:
        """Each item's meter_ref; :class:`UnknownMeterError` if a meter is not registered."""
        return [self._meter_ref(query, batch.meter_id) for batch, _ in items]

    def _meter_ref(self, query: Query, meter_id: str) -> int:
        ref = self._ref_cache.get(meter_id)
        if ref is None:
            row = query.one("SELECT id FROM meters WHERE meter_id = ?", (meter_id,))
            if row is None:
                raise UnknownMeterError(f"meter {meter_id!r} is not registered")
            ref = self._ref_cache[meter_id] = int(row[0])
        return ref

    # --- batches and readings -------------------------------------------------------------

    def last_batch_seq(self, meter_id: str) -> int | None:
        """The highest stored batch sequence number of the meter, or None."""
        with self._reading() as query:
            row = query.one(_LAST_SEQ, (meter_id,))
        return None if row is None else row[0]

    def readings(self, meter_id: str, start: int, end: int) -> list[ReadingRow]:
        """The meter's register values with ``start <= at < end``, ordered by time,
        register and batch."""
        with self._reading() as query:
            rows = query.all(_READINGS, (meter_id, start, end))
        return unfold(meter_id, rows)

    def daily_consumption(
        self, meter_id: str, start_day: date, end_day: date, *, register: int | None = None
    ) -> list[DayConsumption]:
        """Consumption per UTC day, ``start_day`` to ``end_day`` inclusive.

        ``register`` defaults to the meter type's cumulative register (energy imported for
        electricity, volume for water and gas). Defined in :mod:`~meterseal.store.consumption`.
        """
        low, high = consumption.query_window(start_day, end_day)
        with self._reading() as query:
            meter = query.one("SELECT id, meter_type FROM meters WHERE meter_id = ?", (meter_id,))
            if meter is None or high <= low:
                return []
            ref, code = meter[0], CONSUMPTION_REGISTER[meter[1]] if register is None else register
            column = COLUMN_OF.get(code)
            if column is None:
                return []
            day_lasts = query.all(self.DAY_LASTS_SQL.format(column), (ref, low, high))
            baseline = self._baseline(query, ref, column, low) if day_lasts else None
        if baseline is None:
            return []
        return consumption.daily_figures(baseline, day_lasts)

    @staticmethod
    def _baseline(query: Query, ref: int, column: str, low: int) -> int | None:
        """The last value at or before ``low``, else the first value after it, else None."""
        row = query.one(_BASELINE_AT_OR_BEFORE.format(column), (ref, low)) or query.one(
            _BASELINE_AFTER.format(column), (ref, low)
        )
        return None if row is None else int(row[0])

    def latest_state(self) -> list[MeterLatest]:
        """Every registered meter's latest state, ordered by meter ID."""
        with self._reading() as query:
            meters = query.all(
                "SELECT m.meter_id, m.state,"
                " (SELECT max(b.batch_seq) FROM batches b WHERE b.meter_ref = m.id)"
                " FROM meters m ORDER BY m.meter_id"
            )
            values = query.all(
                "SELECT m.meter_id, l.register, l.at, l.value FROM meter_latest l"
                " JOIN meters m ON m.id = l.meter_ref ORDER BY m.meter_id, l.register"
            )
        by_meter: dict[str, list[tuple[int, int, int]]] = {}
        for meter_id, register, at, value in values:
            by_meter.setdefault(meter_id, []).append((register, at, value))
        return [
            _latest(meter_id, state, seq, by_meter.get(meter_id, []))
            for meter_id, state, seq in meters
        ]

    def count_batches(self) -> int:
        """The number of stored batches."""
        return self._count("SELECT count(*) FROM batches")

    def count_readings(self) -> int:
        """The number of stored register values (5 per electricity interval reading)."""
        return self._count(_COUNT_VALUES)

    def count_intervals(self) -> int:
        """The number of stored interval readings (rows of ``interval_readings``)."""
        return self._count("SELECT count(*) FROM interval_readings")

    def _count(self, sql: str) -> int:
        with self._reading() as query:
            row = query.one(sql)
        return 0 if row is None else int(row[0])

    def iter_batches(self) -> Iterator[BatchRow]:
        """Every stored batch in (meter ID, sequence) order, fetched page by page.

        Each page is one short query (the lock is released between pages), so writers are
        not held up; batches stored during the iteration may or may not appear.
        """
        with self._reading() as query:
            meters = query.all("SELECT id, meter_id FROM meters ORDER BY meter_id")
        for ref, meter_id in meters:
            yield from self._meter_batches(ref, meter_id)

    def _meter_batches(self, ref: int, meter_id: str) -> Iterator[BatchRow]:
        after = -1
        while True:
            with self._reading() as query:
                rows = query.all(_BATCH_PAGE, (ref, after, PAGE_SIZE))
            yield from (_batch(meter_id, row) for row in rows)
            if len(rows) < PAGE_SIZE:
                return
            after = rows[-1][0]


def unfold(meter_id: str, rows: Sequence[Row]) -> list[ReadingRow]:
    """Wide ``(batch_seq, at, value per register...)`` rows as register values, ordered by
    time, register and batch (SQL gave time and batch order; the sort is stable)."""
    readings = [
        ReadingRow(meter_id, seq, at, register, value)
        for seq, at, *values in rows
        for (register, _), value in zip(REGISTER_COLUMNS, values, strict=True)
        if value is not None
    ]
    readings.sort(key=_time_and_register)
    return readings


def _time_and_register(reading: ReadingRow) -> tuple[int, int]:
    return reading.at, reading.register


def _batch(meter_id: str, row: Row) -> BatchRow:
    seq, start, seconds, signed, digest, received_at, count = row
    return BatchRow(meter_id, seq, start, seconds, bytes(signed), bytes(digest), received_at, count)


def _latest(
    meter_id: str, state: str, seq: int | None, values: list[tuple[int, int, int]]
) -> MeterLatest:
    last_at = max((at for _, at, _ in values), default=None)
    registers = tuple((register, value) for register, _, value in values)
    return MeterLatest(meter_id, state, seq, last_at, registers)
