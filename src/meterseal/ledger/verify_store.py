"""The second half of ``ledger verify``: each meter's stored batches and rows against the log.

Per meter (:class:`MeterChecker`), in one pass over its batches in sequence order:

* the SHA-256 of the stored signed bytes must equal the stored ``batch_hash`` column, and
  the log's hash (the log's hash function, SHA-256 or SM3) must equal the logged one:
  otherwise ALTERED; a stored batch the log does not have is MISSING_FROM_LOG, or pending
  when it was received within the grace period before the checkpoint;
* the signed batch is decoded with the messages package, as ingest decoded it when it
  stored the rows (its signature was verified then, and the log hash now vouches for the
  bytes), and its batch row's interval and count columns must match (ALTERED_METADATA);
* its keyed fingerprint (:mod:`~meterseal.ledger.verify_fingerprint`) and row count must
  equal what the database computes over the stored rows; a batch that differs is compared
  row by row to name each ALTERED, MISSING or EXTRA reading; rows under a sequence with no
  stored batch are EXTRA_ROWS;
* logged sequences not stored are MISSING_FROM_STORE, and every sequence missing between
  the meter's lowest and highest (store and log together) is a SEQUENCE_GAP;
* its event rows (``meter_events``, schema version 8) must be the signed batch's events,
  position by position: a row altered, deleted or added is ALTERED_EVENT, and so is an
  event row under a sequence with no stored batch. Events are few, so a meter's rows are
  read in one range scan and compared directly.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import pairwise
from typing import Any

from meterseal import cbor
from meterseal.crypto.cose import decode_sign1
from meterseal.crypto.hashes import SHA_256, OpenSslHash
from meterseal.errors import EncodingError
from meterseal.ledger.leaves import batch_accepted, leaf_data
from meterseal.ledger.verify_findings import (
    Finding,
    FindingKind,
    ReadingDiff,
    Tally,
    event_findings,
)
from meterseal.ledger.verify_fingerprint import COLUMN_NAMES, FingerprintKey
from meterseal.messages.batch import ReadingBatch, batch_from_cbor
from meterseal.messages.readings import MAX_INDEX, ElectricityReadings
from meterseal.store import verify_queries as q
from meterseal.store.base import Row
from meterseal.store.rows import REGISTER_COLUMNS

Columns = tuple[Sequence[int] | None, ...]

MAX_OUTBOX_CHECKS = 1000
"""Unlogged batches looked up in the ledger outbox (a scan each) per process."""

WEIGHTS_STEP = 256
"""Interval weights are made (and sent to the database) at least this many at a time."""


def decode_signed_batch(signed: bytes) -> ReadingBatch:
    """The batch inside stored signed bytes, without verifying the signature again.

    Ingest verified it before storing; verification trusts the bytes because their hash
    is in the log. Raises :class:`~meterseal.errors.EncodingError` if they do not decode.
    """
    return batch_from_cbor(cbor.decode(decode_sign1(signed).payload))


def signed_rows(batch: ReadingBatch) -> tuple[Sequence[int], Columns]:
    """Interval ends and register columns (in ``interval_readings`` column order, None for
    a register the meter type lacks) exactly as ingest stores them
    (:func:`meterseal.headend.ingest.interval_columns`)."""
    start, step, index = batch.interval_start, batch.interval_seconds, batch.readings.index
    ends: Sequence[int]
    if index[-1] == len(index) - 1:  # indexes strictly increase from 0: none is missing
        ends = range(start + step, start + (len(index) + 1) * step, step)
    else:
        ends = [start + (i + 1) * step for i in index]
    readings = batch.readings
    if isinstance(readings, ElectricityReadings):
        return ends, (
            readings.energy_import_wh,
            readings.energy_export_wh,
            None,
            readings.voltage_dv,
            readings.current_ma,
            readings.power_w,
        )
    return ends, (None, None, readings.volume_dl, None, None, None)


@dataclass(frozen=True, slots=True)
class Expected:
    """What a batch's rows must add up to."""

    rows: int
    fingerprint: int
    signed: bytes
    where: q.BatchRange


class MeterChecker:
    """Checks meters of one store connection; findings and counts go to ``tally``."""

    def __init__(
        self,
        store: q.VerifiableStore,
        key: FingerprintKey,
        tally: Tally,
        *,
        hash_alg: OpenSslHash = SHA_256,
        pending_after: int | None = None,
    ) -> None:
        self.store = store
        self.key = key
        self.tally = tally
        self.hash_alg = hash_alg
        self.pending_after = pending_after
        self.term_sql = key.row_term_sql()
        self._weights: list[int] = []
        self._diffed: set[int] = set()  # the current meter's batches compared row by row
        self._outbox_checks = 0
        self._with_events = q.has_events(store)
        self._events: dict[int, dict[int, tuple[Any, ...]]] = {}  # the meter's, unchecked

    def _weights_to(self, count: int) -> list[int]:
        """W(0..count-1), computed and handed to the database as far as first needed."""
        have = len(self._weights)
        if have < count:
            if not have:
                q.prepare_weights(self.store, [])
            end = min(max(count, have + WEIGHTS_STEP), MAX_INDEX + 1)
            fresh = [self.key.weight(i) for i in range(have, end)]
            q.add_weights(self.store, have, fresh)
            self._weights += fresh
        return self._weights

    def check(self, meter_ref: int, meter_id: str, logged: dict[int, bytes]) -> None:
        """Every check of one registered meter against its logged sequences."""
        expected: dict[int, Expected] = {}
        unchecked: set[int] = set()
        counted: dict[int, int] = {}
        self._diffed = set()
        self._events = q.meter_events(self.store, meter_ref) if self._with_events else {}
        for page in q.batch_pages(self.store, meter_ref):
            fresh: dict[int, Expected] = {}
            for row in page:
                self._batch(meter_id, row, logged.get(int(row[0])), fresh, unchecked)
            counted |= self._compare(meter_ref, meter_id, fresh)
            expected |= fresh
        self._outside_ranges(meter_ref, meter_id, expected, unchecked, counted)
        self._orphan_events(meter_id, unchecked)
        self.log_only(meter_id, logged, set(expected) | unchecked)

    def log_only(self, meter_id: str, logged: dict[int, bytes], stored: set[int]) -> None:
        """MISSING_FROM_STORE for logged sequences not stored, and the meter's gaps."""
        for seq in sorted(logged.keys() - stored):
            self._add(FindingKind.MISSING_FROM_STORE, meter_id, seq, "logged, not stored")
        self.tally.log_batches += len(logged)
        _gaps(self.tally, meter_id, sorted(stored | logged.keys()))

    def extra_rows(self, meter_ref: int) -> None:
        """EXTRA_ROWS for reading rows under a meter_ref that no registered meter has."""
        for seq, count in q.row_counts(self.store, meter_ref):
            detail = f"{count} reading rows under unregistered meter_ref {meter_ref}"
            self._add(FindingKind.EXTRA_ROWS, f"#{meter_ref}", seq, detail)

    # --- one batch ----------------------------------------------------------------------

    def _batch(
        self,
        meter_id: str,
        row: Row,
        logged_hash: bytes | None,
        expected: dict[int, Expected],
        unchecked: set[int],
    ) -> None:
        seq, start, step, signed, stored_hash, received_at, count = row
        seq, signed = int(seq), bytes(signed)
        self.tally.batches += 1
        authentic = self._hashes(meter_id, seq, signed, bytes(stored_hash), logged_hash)
        if logged_hash is None:
            self._missing_from_log(meter_id, seq, signed, int(received_at))
        if not authentic:
            unchecked.add(seq)
            return
        try:
            batch = decode_signed_batch(signed)
        except EncodingError as exc:
            self._add(FindingKind.UNDECODABLE_BATCH, meter_id, seq, str(exc))
            unchecked.add(seq)
            return
        ends, columns = signed_rows(batch)
        self._metadata(meter_id, seq, batch, (int(start), int(step), int(count)), columns)
        self._check_events(meter_id, seq, batch)
        index = batch.readings.index
        weights = self._weights_to(index[-1] + 1)
        mine = weights[: len(index)] if index[-1] == len(index) - 1 else [weights[i] for i in index]
        where = (seq, ends[0], ends[-1], batch.interval_start, batch.interval_seconds)
        expected[seq] = Expected(len(ends), self.key.expected(mine, columns), signed, where)
        self.tally.intervals += len(ends)

    def _hashes(
        self, meter_id: str, seq: int, signed: bytes, stored_hash: bytes, logged: bytes | None
    ) -> bool:
        """ALTERED checks; True when the signed bytes are what the log holds (or unlogged)."""
        digest = hashlib.sha256(signed).digest()
        if stored_hash != digest:
            detail = "stored batch_hash is not the SHA-256 of the stored signed bytes"
            self._add(FindingKind.ALTERED, meter_id, seq, detail)
        if logged is None:
            return stored_hash == digest
        log_digest = digest if self.hash_alg is SHA_256 else self.hash_alg.digest(signed)
        if log_digest != logged:
            detail = (
                f"stored signed bytes hash to {log_digest.hex()[:16]}...,"
                f" logged {logged.hex()[:16]}..."
            )
            self._add(FindingKind.ALTERED, meter_id, seq, detail)
            return False
        return True

    def _missing_from_log(self, meter_id: str, seq: int, signed: bytes, received_at: int) -> None:
        """Pending within the grace period; else a finding that says whether the batch's
        leaf still waits in the store's ledger outbox (the forwarder has not sent it)."""
        if self.pending_after is not None and received_at >= self.pending_after:
            self.tally.pending += 1
            return
        detail = f"stored, not in the log; received_at {received_at}"
        if self._outbox_checks < MAX_OUTBOX_CHECKS:
            self._outbox_checks += 1
            leaf = leaf_data(batch_accepted(meter_id, seq, signed, self.hash_alg))
            queued = q.queued_leaf(self.store, leaf)
            if queued is not None:
                detail += "; its leaf is " + ("queued in" if queued else "not in") + " the outbox"
        self._add(FindingKind.MISSING_FROM_LOG, meter_id, seq, detail)

    def _metadata(
        self,
        meter_id: str,
        seq: int,
        batch: ReadingBatch,
        stored: tuple[int, int, int],
        columns: Columns,
    ) -> None:
        values = len(batch.readings) * sum(column is not None for column in columns)
        signed = (batch.interval_start, batch.interval_seconds, values)
        if batch.meter_id != meter_id or batch.batch_seq != seq:
            detail = f"the signed batch is {batch.meter_id}/{batch.batch_seq}"
            self._add(FindingKind.ALTERED_METADATA, meter_id, seq, detail)
        if stored != signed:
            detail = (
                f"(interval_start, interval_seconds, reading_count) stored {stored},"
                f" signed {signed}"
            )
            self._add(FindingKind.ALTERED_METADATA, meter_id, seq, detail)

    def _check_events(self, meter_id: str, seq: int, batch: ReadingBatch) -> None:
        """ALTERED_EVENT where the batch's event rows are not its signed events."""
        stored = self._events.pop(seq, {})
        if self._with_events and (stored or batch.events):
            signed = [(e.at, int(e.kind), e.detail) for e in batch.events]
            for finding in event_findings(meter_id, seq, signed, stored):
                self.tally.add(finding)

    def _orphan_events(self, meter_id: str, unchecked: set[int]) -> None:
        """ALTERED_EVENT for event rows under a sequence with no stored batch (rows of a
        batch whose bytes could not be checked are left to that batch's finding)."""
        for seq, rows in sorted(self._events.items()):
            if seq not in unchecked:
                detail = f"{len(rows)} event rows under a batch sequence that is not stored"
                self._add(FindingKind.ALTERED_EVENT, meter_id, seq, detail)
        self._events = {}

    # --- the reading rows -----------------------------------------------------------------

    def _compare(
        self, meter_ref: int, meter_id: str, expected: dict[int, Expected]
    ) -> dict[int, int]:
        """Fingerprints and counts of one page's batches; differing ones compared row by
        row. Returns the rows counted in each batch's range."""
        ranges = [want.where for want in expected.values()]
        stored = q.range_fingerprints(self.store, meter_ref, ranges, self.term_sql, self._weights)
        counted, differing = {}, {}
        for seq, want in expected.items():
            count, total = stored.get(seq, (0, 0))
            counted[seq] = count
            if count != want.rows or total % self.key.prime != want.fingerprint:
                differing[seq] = want
        if differing:
            self._diff(meter_ref, meter_id, differing)
        return counted

    def _outside_ranges(
        self,
        meter_ref: int,
        meter_id: str,
        expected: dict[int, Expected],
        unchecked: set[int],
        counted: dict[int, int],
    ) -> None:
        """Rows outside every batch's range: the meter's total says whether there are any;
        only then are its rows counted per batch_seq to name them."""
        if q.meter_row_count(self.store, meter_ref) == sum(counted.values()):
            return
        differing = {}
        for seq, count in q.row_counts(self.store, meter_ref):
            if seq in expected:
                if count != counted[seq] and seq not in self._diffed:
                    differing[seq] = expected[seq]
            elif seq not in unchecked:
                detail = f"{count} reading rows under a batch sequence that is not stored"
                self._add(FindingKind.EXTRA_ROWS, meter_id, seq, detail)
        if differing:
            self._diff(meter_ref, meter_id, differing)

    def _diff(self, meter_ref: int, meter_id: str, batches: dict[int, Expected]) -> None:
        """Name every differing value of these batches (all rows with their batch_seq)."""
        self._diffed |= batches.keys()
        rows: dict[int, dict[int, tuple[Any, ...]]] = {seq: {} for seq in batches}
        for seq, at, *values in q.batch_rows(self.store, meter_ref, sorted(batches)):
            rows[int(seq)][int(at)] = tuple(values)
        for seq, want in sorted(batches.items()):
            ends, columns = signed_rows(decode_signed_batch(want.signed))
            diffs = _reading_diffs(meter_id, seq, ends, columns, rows[seq])
            for diff in diffs:
                self.tally.add(diff.finding())
            if not diffs:
                detail = "row fingerprint differs but no value does (report this)"
                self._add(FindingKind.ALTERED_READING, meter_id, seq, detail)

    def _add(self, kind: FindingKind, meter_id: str, seq: int | None, detail: str) -> None:
        self.tally.add(Finding(kind, meter_id, seq, detail))


def _reading_diffs(
    meter_id: str,
    seq: int,
    ends: Sequence[int],
    columns: Columns,
    stored: dict[int, tuple[Any, ...]],
) -> list[ReadingDiff]:
    """Every register value where the stored rows and the signed batch disagree."""
    signed = {
        at: tuple(None if column is None else column[i] for column in columns)
        for i, at in enumerate(ends)
    }
    diffs = []
    for at in sorted(signed.keys() | stored.keys()):
        want = signed.get(at, (None,) * len(COLUMN_NAMES))
        have = stored.get(at, (None,) * len(COLUMN_NAMES))
        for (register, _), mine, theirs in zip(REGISTER_COLUMNS, have, want, strict=True):
            if mine != theirs:
                diffs.append(ReadingDiff(meter_id, seq, at, int(register), mine, theirs))
    return diffs


def _gaps(tally: Tally, meter_id: str, seqs: Sequence[int]) -> None:
    """SEQUENCE_GAP for each run of numbers missing between consecutive known sequences."""
    for low, high in pairwise(seqs):
        if high > low + 1:
            detail = f"batch_seq {low + 1}..{high - 1} missing ({high - low - 1})"
            tally.add(Finding(FindingKind.SEQUENCE_GAP, meter_id, low + 1, detail))
