"""The backend-independent half of ``store_batches``: outcomes and the rows to write.

Both backends resolve meter IDs to their integer ``meter_ref``, look up the hashes of the
(meter, sequence) keys already stored, and hand both to :func:`plan_batches`. What comes
back says, per offered batch, STORED, DUPLICATE or CONFLICT, and holds the reading rows
and latest-value updates of the STORED ones, ready for ``executemany`` or ``COPY``.

A key offered twice in one call is treated as if the first offer had already been
stored: the second is DUPLICATE or CONFLICT by hash, and its readings are not written.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from meterseal.store.errors import InvalidRowError
from meterseal.store.rows import BatchItem, BatchRow, ReadingRow, StoreOutcome

BatchKey = tuple[int, int]
"""(meter_ref, batch_seq): the key of a stored batch."""

ReadingTuple = tuple[int, int, int, int, int]
"""(meter_ref, at, register, batch_seq, value): the column order of the readings table."""

LatestTuple = tuple[int, int, int, int]
"""(meter_ref, register, at, value): the column order of the meter_latest table."""

BatchTuple = tuple[int, int, int, int, bytes, bytes, int, int]
"""(meter_ref, batch_seq, interval_start, interval_seconds, signed_batch, batch_hash,
received_at, reading_count): the column order of the batches table."""


@dataclass(frozen=True, slots=True)
class BatchPlan:
    """What one ``store_batches`` call writes and answers."""

    outcomes: list[StoreOutcome]
    stored: list[int]  # indices of the STORED items
    readings: list[ReadingTuple]
    latest: list[LatestTuple]


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


def reading_tuples(ref: int, batch: BatchRow, readings: Sequence[ReadingRow]) -> list[ReadingTuple]:
    """The readings-table rows of one batch; :class:`InvalidRowError` if they do not fit it."""
    if len(readings) != batch.reading_count:
        raise InvalidRowError(
            f"batch {batch.meter_id}/{batch.batch_seq} says {batch.reading_count} readings "
            f"but {len(readings)} were offered"
        )
    meter_id, seq = batch.meter_id, batch.batch_seq
    rows = [
        (ref, r.at, r.register, seq, r.value)
        for r in readings
        if r.meter_id == meter_id and r.batch_seq == seq
    ]
    if len(rows) != len(readings):
        raise InvalidRowError(f"batch {meter_id}/{seq} was offered readings of another batch")
    return rows


def latest_tuples(rows: Iterable[ReadingTuple]) -> list[LatestTuple]:
    """Per (meter, register), the value with the greatest ``at`` (the later row on a tie)."""
    latest: dict[tuple[int, int], tuple[int, int]] = {}
    for ref, at, register, _seq, value in rows:
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
    readings: list[ReadingTuple] = []
    for i in stored:
        batch, rows = items[i]
        readings.extend(reading_tuples(refs[i], batch, rows))
    return BatchPlan(outcomes, stored, readings, latest_tuples(readings))
