"""Meter events as rows of their own: ``meter_events`` (schema version 8).

A meter reports events (cover opened, magnetic interference, reverse flow, ...; see
:mod:`meterseal.messages.events`) inside its signed batch. The signed bytes stay the
evidence; ``store_batches`` also writes each event of a STORED batch as one row, in the
same transaction, so that the console and the API can ask for "the events of meter M
between T1 and T2" and "recent tamper events across the fleet". A DUPLICATE or CONFLICT
batch writes no event rows (the first batch's rows stand).

Row key: ``(meter_ref, batch_seq, idx)``, ``idx`` the event's position in the signed
batch (0-based), so each row names exactly one event of one signed batch and ``ledger
verify`` can compare them (ALTERED_EVENT). Two indexes serve the two queries:
``(meter_ref, at)`` and ``(kind, at)``. Times are the meter's clock, unix seconds (UTC).

Most batches carry no events, so the write path costs nothing for them: the rows are
collected from the stored batches' ``events`` and written only when there are any.

Version 8 backfills the rows of every batch stored before it (:func:`backfill_events`):
the signed bytes are decoded in Python (their signature was verified at ingest), a page
of batches at a time.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any, Final, Protocol

from meterseal import cbor
from meterseal.crypto.cose import decode_sign1
from meterseal.errors import MeterSealError
from meterseal.messages.batch import EVENTS
from meterseal.messages.events import decode_events
from meterseal.store.rows import BatchItem, EventRow

EVENT_COLUMNS: Final = ("meter_ref", "batch_seq", "idx", "at", "kind", "detail")
"""The ``meter_events`` columns in the order of :data:`EventTuple`."""

EventTuple = tuple[int, int, int, int, int, int]
"""(meter_ref, batch_seq, idx, at, kind, detail): a ``meter_events`` row."""

BACKFILL_PAGE_SIZE: Final = 2000
"""Batches decoded per page by the version 8 backfill."""

MAX_EVENTS_LIMIT: Final = 10_000
"""The most rows one query returns."""

_BACKFILL_PAGE = (
    "SELECT meter_ref, batch_seq, signed_batch FROM batches"
    " WHERE (meter_ref, batch_seq) > (?, ?) ORDER BY meter_ref, batch_seq LIMIT ?"
)
_INSERT_ONE = "INSERT INTO meter_events ({}) VALUES (?, ?, ?, ?, ?, ?)".format(  # noqa: S608 - constant columns
    ", ".join(EVENT_COLUMNS)
)
_EVENTS = (
    "SELECT m.meter_id, e.batch_seq, e.idx, e.at, e.kind, e.detail FROM meter_events e"
    " JOIN meters m ON m.id = e.meter_ref"
)
_METER_EVENTS = (
    _EVENTS  # noqa: S608 - constant text, placeholders only
    + " WHERE e.meter_ref = (SELECT id FROM meters WHERE meter_id = ?)"
    " AND e.at >= ? AND e.at < ? ORDER BY e.at, e.batch_seq, e.idx LIMIT ?"
)
_RECENT = _EVENTS + " WHERE e.kind IN ({}) AND e.at >= ? ORDER BY e.at DESC, m.meter_id LIMIT ?"


@dataclass(frozen=True, slots=True)
class StoredEvent:
    """One stored event: the meter, the batch that carried it and its place there."""

    meter_id: str
    batch_seq: int
    index: int  # position in the signed batch's events array
    at: int  # unix seconds, by the meter's clock
    kind: int  # an EventKind code
    detail: int


class _Query(Protocol):
    def all(self, sql: str, params: Sequence[object] = ()) -> list[tuple[Any, ...]]: ...

    def run(self, sql: str, params: Sequence[object] = ()) -> int: ...


def event_tuples(
    items: Sequence[BatchItem], refs: Sequence[int], stored: Iterable[int]
) -> list[EventTuple]:
    """The ``meter_events`` rows of the offered batches at indexes ``stored``."""
    rows: list[EventTuple] = []
    for i in stored:
        batch = items[i][0]
        if batch.events:
            rows += _tuples(refs[i], batch.batch_seq, batch.events)
    return rows


def _tuples(ref: int, seq: int, events: Iterable[EventRow]) -> list[EventTuple]:
    return [(ref, seq, idx, e.at, e.kind, e.detail) for idx, e in enumerate(events)]


def signed_events(signed: bytes) -> tuple[EventRow, ...]:
    """The events inside signed batch bytes, WITHOUT verifying the signature.

    For bytes verified earlier (at ingest) or vouched for by the log. Raises
    :class:`~meterseal.errors.EncodingError` (or another :class:`MeterSealError`) if
    they do not decode.
    """
    payload = cbor.decode(decode_sign1(signed).payload)
    if not isinstance(payload, dict):
        return ()
    return tuple(
        EventRow(e.at, int(e.kind), e.detail) for e in decode_events(payload.get(EVENTS, []))
    )


def backfill_events(query: _Query) -> None:
    """Schema version 8: the event rows of every batch already stored, page by page.

    A batch whose stored bytes no longer decode gets no rows (``ledger verify`` reports it
    as UNDECODABLE_BATCH); the migration does not fail on it.
    """
    after: tuple[int, int] = (-1, -1)
    while rows := query.all(_BACKFILL_PAGE, (*after, BACKFILL_PAGE_SIZE)):
        fresh: list[EventTuple] = []
        for ref, seq, signed in rows:
            try:
                events = signed_events(bytes(signed))
            except MeterSealError:
                continue
            fresh += _tuples(int(ref), int(seq), events)
        for row in fresh:
            query.run(_INSERT_ONE, row)
        after = int(rows[-1][0]), int(rows[-1][1])


def _stored(row: tuple[Any, ...]) -> StoredEvent:
    meter_id, seq, idx, at, kind, detail = row
    return StoredEvent(str(meter_id), int(seq), int(idx), int(at), int(kind), int(detail))


def _limit(limit: int) -> int:
    return max(0, min(int(limit), MAX_EVENTS_LIMIT))


class EventStore(Protocol):
    """Queries over the stored meter events (both SQL backends)."""

    def events(self, meter_id: str, start: int, end: int, limit: int = 1000) -> list[StoredEvent]:
        """The meter's events with ``start <= at < end``, oldest first, at most ``limit``."""
        ...

    def recent_events(
        self, kinds: Collection[int], since: int, limit: int = 100
    ) -> list[StoredEvent]:
        """Events of ``kinds`` across the fleet with ``at >= since``, newest first."""
        ...


class EventQueries:
    """The :class:`EventStore` methods of both SQL backends (mixed into ``SqlStore``)."""

    def _reading(self) -> AbstractContextManager[_Query]:
        raise NotImplementedError  # pragma: no cover - provided by SqlStore

    def events(self, meter_id: str, start: int, end: int, limit: int = 1000) -> list[StoredEvent]:
        """The meter's events with ``start <= at < end``, oldest first, at most ``limit``
        (capped at :data:`MAX_EVENTS_LIMIT`); empty for an unknown meter."""
        with self._reading() as query:
            rows = query.all(_METER_EVENTS, (meter_id, start, end, _limit(limit)))
        return [_stored(row) for row in rows]

    def recent_events(
        self, kinds: Collection[int], since: int, limit: int = 100
    ) -> list[StoredEvent]:
        """Events of ``kinds`` across the fleet with ``at >= since``, newest first, at
        most ``limit`` (capped at :data:`MAX_EVENTS_LIMIT`)."""
        codes = sorted(int(kind) for kind in kinds)
        if not codes:
            return []
        sql = _RECENT.format(", ".join("?" * len(codes)))
        with self._reading() as query:
            rows = query.all(sql, (*codes, since, _limit(limit)))
        return [_stored(row) for row in rows]
