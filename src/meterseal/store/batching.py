"""The backend-independent half of ``store_batches``: outcomes and the rows to write.

Both backends resolve meter IDs to their integer ``meter_ref``, look up the hashes of the
(meter, sequence) keys already stored, and hand both to :func:`plan_batches`. What comes
back says, per offered batch, STORED, DUPLICATE or CONFLICT, and holds the wide
``interval_readings`` rows and latest-value updates of the STORED ones, ready for
``executemany`` or ``COPY``.

Two ways in. :class:`~meterseal.store.rows.IntervalColumns` (what ingest offers) keeps
its columns (:class:`IntervalBlock`): SQLite binds them by slice assignment into one flat
parameter list, PostgreSQL's COPY reads them through a lazy ``zip``; no Python object per
register value either way. Any other sequence of
:class:`~meterseal.store.rows.ReadingRow` is grouped by interval end into the same wide
rows (the general path, for tests and tools); a register without a column, or one
register twice at one time, is an :class:`InvalidRowError`.

A key offered twice in one call is treated as if the first offer had already been
stored: the second is DUPLICATE or CONFLICT by hash, and its readings are not written.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from itertools import chain, repeat

from meterseal.store.errors import InvalidRowError
from meterseal.store.rows import (
    REGISTER_COLUMNS,
    BatchItem,
    BatchRow,
    IntervalColumns,
    ReadingRow,
    StoreOutcome,
)

BatchKey = tuple[int, int]
"""(meter_ref, batch_seq): the key of a stored batch."""

IntervalTuple = tuple[int | None, ...]
"""(meter_ref, at, batch_seq, then one value or None per register in
:data:`~meterseal.store.rows.REGISTER_COLUMNS` order): an ``interval_readings`` row."""

LatestTuple = tuple[int, int, int, int]
"""(meter_ref, register, at, value): the column order of the meter_latest table."""

BatchTuple = tuple[int, int, int, int, bytes, bytes, int, int]
"""(meter_ref, batch_seq, interval_start, interval_seconds, signed_batch, batch_hash,
received_at, reading_count): the column order of the batches table."""

INTERVAL_COLUMNS = ("meter_ref", "at", "batch_seq", *(column for _, column in REGISTER_COLUMNS))
"""The ``interval_readings`` columns in the order of :data:`IntervalTuple`."""

_SLOT = {int(register): slot for slot, (register, _) in enumerate(REGISTER_COLUMNS)}
_NONE = repeat(None)


@dataclass(frozen=True, slots=True)
class IntervalBlock:
    """One stored batch's ``interval_readings`` rows, column by column.

    ``registers`` holds one column per register in
    :data:`~meterseal.store.rows.REGISTER_COLUMNS` order, None where every row is NULL.
    """

    ref: int
    batch_seq: int
    ends: Sequence[int]
    registers: tuple[Sequence[int | None] | None, ...]

    def rows(self) -> Iterator[IntervalTuple]:
        """The rows as tuples in :data:`INTERVAL_COLUMNS` order (a lazy ``zip``)."""
        columns = (_NONE if column is None else column for column in self.registers)
        return zip(repeat(self.ref), self.ends, repeat(self.batch_seq), *columns)

    def fill(self, values: list[int | None], offset: int) -> int:
        """Write the rows into the flat ``values`` from ``offset`` on (row after row, as a
        multi-row INSERT binds them) by slice assignment; return the offset after them."""
        count, width = len(self.ends), len(INTERVAL_COLUMNS)
        end = offset + count * width
        values[offset:end:width] = [self.ref] * count
        values[offset + 1 : end : width] = self.ends
        values[offset + 2 : end : width] = [self.batch_seq] * count
        for slot, column in enumerate(self.registers, start=3):
            if column is not None:
                values[offset + slot : end : width] = column
        return end


@dataclass(frozen=True, slots=True)
class BatchPlan:
    """What one ``store_batches`` call writes and answers."""

    outcomes: list[StoreOutcome]
    stored: list[int]  # indices of the STORED items
    intervals: list[IntervalBlock]  # one per STORED item
    latest: list[LatestTuple]

    def interval_rows(self) -> Iterator[IntervalTuple]:
        """Every ``interval_readings`` row of the call, batch after batch."""
        return chain.from_iterable(block.rows() for block in self.intervals)

    def interval_values(self) -> list[int | None]:
        """The same rows flattened into one list (row after row, column after column)."""
        total = sum(len(block.ends) for block in self.intervals)
        values: list[int | None] = [None] * (total * len(INTERVAL_COLUMNS))
        offset = 0
        for block in self.intervals:
            offset = block.fill(values, offset)
        return values


def batch_keys(items: Sequence[BatchItem], refs: Sequence[int]) -> list[BatchKey]:
    """The (meter_ref, batch_seq) key of each item."""
    return [(ref, batch.batch_seq) for ref, (batch, _) in zip(refs, items, strict=True)]


def first_occurrences(keys: Sequence[BatchKey]) -> list[int]:
    """Indices of the first item offering each distinct key, in order."""
    seen: set[BatchKey] = set()
    firsts = []
    for index, key in enumerate(keys):
        if key not in seen:
            seen.add(key)
            firsts.append(index)
    return firsts


def batch_tuple(ref: int, batch: BatchRow) -> BatchTuple:
    """The batches-table row of one batch."""
    return (
        ref,
        batch.batch_seq,
        batch.interval_start,
        batch.interval_seconds,
        batch.signed_batch,
        batch.batch_hash,
        batch.received_at,
        batch.reading_count,
    )


def classify(
    keys: Sequence[BatchKey], hashes: Sequence[bytes], existing: Mapping[BatchKey, bytes]
) -> list[StoreOutcome]:
    """STORED, DUPLICATE or CONFLICT for each key, given the hashes stored before the call."""
    known = dict(existing)
    outcomes = []
    for key, digest in zip(keys, hashes, strict=True):
        prior = known.get(key)
        if prior is None:
            known[key] = digest
            outcomes.append(StoreOutcome.STORED)
        elif prior == digest:
            outcomes.append(StoreOutcome.DUPLICATE)
        else:
            outcomes.append(StoreOutcome.CONFLICT)
    return outcomes


def _check_fit(batch: BatchRow, readings: Sequence[ReadingRow]) -> None:
    """The readings offered are as many as the batch says (:class:`InvalidRowError`)."""
    if len(readings) != batch.reading_count:
        raise InvalidRowError(
            f"batch {batch.meter_id}/{batch.batch_seq} says {batch.reading_count} readings "
            f"but {len(readings)} were offered"
        )


def _stray(batch: BatchRow) -> InvalidRowError:
    return InvalidRowError(
        f"batch {batch.meter_id}/{batch.batch_seq} was offered readings of another batch"
    )


def column_block(ref: int, batch: BatchRow, readings: IntervalColumns) -> IntervalBlock:
    """The rows of one batch offered as columns: its own columns, no copy."""
    if readings.meter_id != batch.meter_id or readings.batch_seq != batch.batch_seq:
        raise _stray(batch)
    _check_fit(batch, readings)
    return IntervalBlock(ref, batch.batch_seq, readings.ends, readings.columns)


def grouped_block(ref: int, batch: BatchRow, readings: Sequence[ReadingRow]) -> IntervalBlock:
    """The rows of one batch offered as register values, grouped by interval end."""
    _check_fit(batch, readings)
    meter_id, seq = batch.meter_id, batch.batch_seq
    by_end: dict[int, list[int | None]] = {}
    for reading in readings:
        if reading.meter_id != meter_id or reading.batch_seq != seq:
            raise _stray(batch)
        slot = _SLOT.get(reading.register)
        if slot is None:
            raise InvalidRowError(f"batch {meter_id}/{seq}: register {reading.register} is unknown")
        values = by_end.setdefault(reading.at, [None] * len(_SLOT))
        if values[slot] is not None:
            raise InvalidRowError(f"batch {meter_id}/{seq}: register {reading.register} twice")
        values[slot] = reading.value
    ends = sorted(by_end)
    registers = tuple(zip(*(by_end[at] for at in ends), strict=True)) or (None,) * len(_SLOT)
    return IntervalBlock(ref, seq, ends, registers)


def batch_block(ref: int, batch: BatchRow, readings: Sequence[ReadingRow]) -> IntervalBlock:
    """The ``interval_readings`` rows of one batch, by whichever path its readings take."""
    if isinstance(readings, IntervalColumns):
        return column_block(ref, batch, readings)
    return grouped_block(ref, batch, readings)


def batch_rows(ref: int, batch: BatchRow, readings: Sequence[ReadingRow]) -> list[IntervalTuple]:
    """The ``interval_readings`` rows of one batch, as tuples."""
    return list(batch_block(ref, batch, readings).rows())


def latest_of(ref: int, readings: Sequence[ReadingRow]) -> list[LatestTuple]:
    """Each register's value at the batch's greatest interval end."""
    if isinstance(readings, IntervalColumns):
        if not readings.ends:
            return []
        at = readings.ends[-1]
        return [(ref, register, at, column[-1]) for register, column in readings.present()]
    return [(ref, r.register, r.at, r.value) for r in readings]


def latest_tuples(rows: Iterable[LatestTuple]) -> list[LatestTuple]:
    """Per (meter, register), the value with the greatest ``at`` (the later row on a tie)."""
    latest: dict[tuple[int, int], tuple[int, int]] = {}
    for ref, register, at, value in rows:
        prior = latest.get((ref, register))
        if prior is None or at >= prior[0]:
            latest[ref, register] = (at, value)
    return [(ref, register, at, value) for (ref, register), (at, value) in latest.items()]


def plan_batches(
    items: Sequence[BatchItem], refs: Sequence[int], existing: Mapping[BatchKey, bytes]
) -> BatchPlan:
    """Outcomes and rows to write for ``items``, given the hashes stored before the call."""
    keys = batch_keys(items, refs)
    outcomes = classify(keys, [batch.batch_hash for batch, _ in items], existing)
    stored = [i for i, outcome in enumerate(outcomes) if outcome is StoreOutcome.STORED]
    intervals = [batch_block(refs[i], *items[i]) for i in stored]
    latest = latest_tuples(row for i in stored for row in latest_of(refs[i], items[i][1]))
    return BatchPlan(outcomes, stored, intervals, latest)
