"""Ingest: verify a signed batch, turn it into store rows, store many batches per transaction.

Per batch, on the event loop (:func:`verify_batch`):

1. the batch must name the authenticated meter (a meter cannot upload for another:
   ``WRONG_METER``, checked on the unverified header before any signature work);
2. the COSE_Sign1 must verify under the meter's *registered* data key and suite, its kid
   must be the meter id, and the payload must parse (``BAD_SIGNATURE``, ``WRONG_METER``,
   ``MALFORMED``); the meter type must be the registered one (``MALFORMED``).

Sequence policy. The store is the one source of truth for what is stored, also across
worker processes, so the head-end keeps no per-meter counter: every verified batch is
offered to ``store_batches``, which answers by (meter, batch_seq):

* new key: STORED, acked ACCEPTED, whether or not a later batch is already stored. A
  batch older than the newest one is legitimate: a meter that pipelines batches resends
  one that got ``UNAVAILABLE`` after later ones were accepted. It is signed by the meter
  and its readings are keyed by batch_seq, so it overwrites nothing;
* same key, same bytes (same SHA-256): DUPLICATE, acked DUPLICATE (a resend after a
  lost ack, or a replay: harmless either way, and counted);
* same key, other bytes: CONFLICT, acked REJECTED. The first batch stays the evidence.
  (No ack reason names a conflict yet; ``MALFORMED`` is sent and the log says
  "conflict".)

Rows (:func:`batch_item`). The signed bytes are stored byte for byte with their SHA-256;
the readings go to the store as :class:`~meterseal.store.IntervalColumns`, the decoded
batch's own register columns (no copy, no object per value): one interval reading per
interval freeze, at the *end* of its interval (``interval_start + (index + 1) *
interval_seconds``, the time the meter froze the registers; a ``range`` when no interval
is missing). Electricity: ENERGY_IMPORT_WH, ENERGY_EXPORT_WH, VOLTAGE_DV, CURRENT_MA,
POWER_W; water and gas: VOLUME_DL. Values are stored in the units the meter signed (Wh,
dV, mA, W, dL): nothing is rescaled, so nothing is rounded. The batch's events go with
its row (:class:`~meterseal.store.rows.EventRow`, in signed order) and the store writes
them to ``meter_events`` when the batch is STORED (:mod:`meterseal.store.events`).

Micro-batching (:class:`IngestPipeline`). Verified batches from every connection of a
worker queue up; at most one ``store_batches`` call is in flight, on the writer's thread.
A call starts when ``max_items`` are waiting, ``max_delay`` after the first one arrived,
or as soon as the previous call returns, so under load each transaction carries what
arrived during the last one. The same transaction queues each STORED batch's
``BatchAccepted`` leaf for the ledger (:mod:`meterseal.store.outbox`). Each batch's future
resolves only after the transaction committed; the connection acks only then, so an ack
means stored and durably queued for the ledger. ``StoreUnavailable`` (or an unexpected error
here) fails every future of the call: nothing is acked as stored, and the meter is told
``UNAVAILABLE`` so that it keeps the batch and sends it again. Any other store error is
retried batch by batch so that one bad batch cannot block the others.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections.abc import Sequence
from dataclasses import dataclass

from meterseal.errors import CryptoError, EncodingError, MeterSealError
from meterseal.headend.registry import RegisteredMeter
from meterseal.headend.runner import StoreRunner
from meterseal.messages import (
    BatchRejectReason,
    ElectricityReadings,
    IdentityMismatchError,
    ReadingBatch,
    open_batch,
    peek_batch_header,
)
from meterseal.store import (
    BatchItem,
    BatchRow,
    EventRow,
    IntervalColumns,
    Store,
    StoreError,
    StoreOutcome,
    StoreUnavailable,
)

log = logging.getLogger("meterseal.headend.ingest")


class BatchRejectedError(MeterSealError):
    """A batch the head-end refuses; ``batch_seq`` is None if not even that could be read."""

    def __init__(self, reason: BatchRejectReason, detail: str, batch_seq: int | None) -> None:
        super().__init__(f"{reason.name}: {detail}")
        self.reason, self.detail, self.batch_seq = reason, detail, batch_seq


def verify_batch(signed: bytes, meter: RegisteredMeter) -> ReadingBatch:
    """The verified batch, or :class:`BatchRejectedError` naming the reason."""
    try:
        claimed, seq = peek_batch_header(signed)
    except EncodingError as exc:
        raise BatchRejectedError(BatchRejectReason.MALFORMED, str(exc), None) from exc
    if claimed != meter.meter_id:
        detail = f"meter {meter.meter_id} sent a batch of meter {claimed}"
        raise BatchRejectedError(BatchRejectReason.WRONG_METER, detail, seq)
    batch = _open(signed, meter, seq)
    if batch.meter_type.name.lower() != meter.record.meter_type:
        detail = f"a {meter.record.meter_type} meter sent a {batch.meter_type.name} batch"
        raise BatchRejectedError(BatchRejectReason.MALFORMED, detail, seq)
    return batch


def _open(signed: bytes, meter: RegisteredMeter, seq: int) -> ReadingBatch:
    """``open_batch`` with its errors turned into reject reasons."""
    try:
        return open_batch(signed, meter.suite.signature, meter.record.public_key)
    except IdentityMismatchError as exc:
        raise BatchRejectedError(BatchRejectReason.WRONG_METER, str(exc), seq) from exc
    except CryptoError as exc:
        raise BatchRejectedError(BatchRejectReason.BAD_SIGNATURE, str(exc), seq) from exc
    except EncodingError as exc:
        raise BatchRejectedError(BatchRejectReason.MALFORMED, str(exc), seq) from exc


def interval_ends(batch: ReadingBatch) -> Sequence[int]:
    """The end of each reading's interval: a ``range`` when the indexes are 0, 1, 2, ..."""
    start, step, index = batch.interval_start, batch.interval_seconds, batch.readings.index
    if index[-1] == len(index) - 1:  # indexes strictly increase from >= 0: none is missing
        return range(start + step, start + (len(index) + 1) * step, step)
    return [start + (i + 1) * step for i in index]


def interval_columns(batch: ReadingBatch) -> IntervalColumns:
    """The batch's readings as the store takes them: its own columns, one per register."""
    readings, ends = batch.readings, interval_ends(batch)
    if isinstance(readings, ElectricityReadings):
        return IntervalColumns(
            batch.meter_id,
            batch.batch_seq,
            ends,
            energy_import_wh=readings.energy_import_wh,
            energy_export_wh=readings.energy_export_wh,
            voltage_dv=readings.voltage_dv,
            current_ma=readings.current_ma,
            power_w=readings.power_w,
        )
    return IntervalColumns(batch.meter_id, batch.batch_seq, ends, volume_dl=readings.volume_dl)


def batch_item(batch: ReadingBatch, signed: bytes, received_at: int) -> BatchItem:
    """The evidence row (signed bytes and their SHA-256) and the readings of a batch."""
    columns = interval_columns(batch)
    row = BatchRow(
        batch.meter_id,
        batch.batch_seq,
        batch.interval_start,
        batch.interval_seconds,
        signed,
        hashlib.sha256(signed).digest(),
        received_at,
        len(columns),
        tuple(EventRow(e.at, int(e.kind), e.detail) for e in batch.events) if batch.events else (),
    )
    return row, columns


@dataclass(frozen=True, slots=True)
class Stored:
    """What the store did with one batch, and how many rows and intervals it wrote."""

    outcome: StoreOutcome
    readings: int
    intervals: int


@dataclass(frozen=True, slots=True)
class _Offer:
    batch: ReadingBatch
    signed: bytes
    received_at: int


_Result = Stored | StoreError


def store_offers(store: Store, offers: Sequence[_Offer]) -> list[_Result]:
    """Store the offers in one transaction; on an error other than StoreUnavailable,
    one by one, so that the error stays with the batch that caused it."""
    items = [batch_item(offer.batch, offer.signed, offer.received_at) for offer in offers]
    try:
        outcomes = store.store_batches(items)
    except StoreUnavailable:
        raise
    except StoreError:
        return [_store_alone(store, offer, item) for offer, item in zip(offers, items, strict=True)]
    return [_stored(*each) for each in zip(offers, items, outcomes, strict=True)]


def _store_alone(store: Store, offer: _Offer, item: BatchItem) -> _Result:
    try:
        [outcome] = store.store_batches([item])
    except StoreUnavailable:
        raise
    except StoreError as exc:
        return exc
    return _stored(offer, item, outcome)


def _stored(offer: _Offer, item: BatchItem, outcome: StoreOutcome) -> Stored:
    if outcome is not StoreOutcome.STORED:
        return Stored(outcome, 0, 0)
    return Stored(outcome, len(item[1]), len(offer.batch.readings))


class IngestPipeline:
    """Collects verified batches from every connection into ``store_batches`` calls."""

    def __init__(self, writer: StoreRunner, *, max_items: int, max_delay: float) -> None:
        self._writer = writer
        self._max_items, self._max_delay = max_items, max_delay
        self._waiting: list[tuple[_Offer, asyncio.Future[Stored]]] = []
        self._timer: asyncio.TimerHandle | None = None
        self._busy: asyncio.Task[None] | None = None
        self.calls = 0

    @property
    def waiting(self) -> int:
        """Batches queued and not yet handed to the store."""
        return len(self._waiting)

    def submit(
        self, batch: ReadingBatch, signed: bytes, received_at: int
    ) -> asyncio.Future[Stored]:
        """Queue a verified batch; the future resolves once it is durable (or raises)."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Stored] = loop.create_future()
        self._waiting.append((_Offer(batch, signed, received_at), future))
        if self._busy is None:
            if len(self._waiting) >= self._max_items:
                self._start()
            elif self._timer is None:
                self._timer = loop.call_later(self._max_delay, self._start)
        return future

    def _start(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self._busy is not None or not self._waiting:
            return
        group = self._waiting[: self._max_items]
        del self._waiting[: self._max_items]
        self._busy = asyncio.get_running_loop().create_task(self._store(group))

    async def _store(self, group: list[tuple[_Offer, asyncio.Future[Stored]]]) -> None:
        offers = [offer for offer, _ in group]
        try:
            results = await self._writer.call(lambda store: store_offers(store, offers))
        except StoreError as exc:
            results = [exc] * len(group)
        except Exception as exc:  # a bug must not make a batch final: the meter resends
            log.exception("ingest failed")
            results = [StoreUnavailable(f"internal error: {exc!r}")] * len(group)
        finally:
            self.calls += 1
            self._busy = None
        for (_, future), result in zip(group, results, strict=True):
            _resolve(future, result)
        if self._waiting:
            self._start()

    async def drain(self) -> None:
        """Hand everything waiting to the store now and wait until it is stored."""
        while self._waiting or self._busy is not None:
            self._start()
            busy = self._busy
            if busy is not None:
                await asyncio.shield(busy)


def _resolve(future: asyncio.Future[Stored], result: _Result) -> None:
    if future.done():
        return
    if isinstance(result, Stored):
        future.set_result(result)
    else:
        future.set_exception(result)
