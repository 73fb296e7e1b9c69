"""The one store interface the head-end, the ledger verifier and analytics program against.

Two real backends implement it: :class:`~meterseal.store.sqlite.SqliteStore` (the embedded
default) and :class:`~meterseal.store.postgres.PostgresStore`. Choose one by URL with
:func:`~meterseal.store.factory.open_store`.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import date
from typing import Protocol

from meterseal.ledger.interface import Submitted
from meterseal.store.commands import CommandRow, SignCommand
from meterseal.store.outbox import InFlight, SubmissionRow
from meterseal.store.rows import (
    BatchItem,
    BatchRow,
    DayConsumption,
    MeterLatest,
    MeterRecord,
    ReadingRow,
    StoreOutcome,
)


class Store(Protocol):
    """Meter registry, signed batches and their readings.

    Every method raises :class:`~meterseal.store.errors.StoreError` subclasses only; a
    broken database connection is :class:`~meterseal.store.errors.StoreUnavailable`.
    """

    def migrate(self, target: int | None = None) -> list[int]:
        """Apply the schema migrations not yet applied (up to ``target``); idempotent.

        Returns the versions applied by this call, in order (empty when up to date).
        """
        ...

    def add_meter(self, meter: MeterRecord) -> None:
        """Register a meter; :class:`DuplicateMeterError` if its ID is already known."""
        ...

    def get_meter(self, meter_id: str) -> MeterRecord | None:
        """The registered meter, or None."""
        ...

    def list_meters(self) -> list[MeterRecord]:
        """Every registered meter, ordered by meter ID."""
        ...

    def set_meter_state(self, meter_id: str, state: str) -> None:
        """Change a meter's state; :class:`UnknownMeterError` if it is not registered."""
        ...

    def store_batches(self, items: Sequence[BatchItem]) -> list[StoreOutcome]:
        """Store signed batches and their readings in ONE transaction.

        Readings offered as :class:`~meterseal.store.rows.IntervalColumns` (what ingest
        does) are written straight from their columns; any other sequence of
        :class:`ReadingRow` is grouped into interval readings first. One outcome per
        item, in order. A batch whose (meter, sequence) is already stored
        is ``DUPLICATE`` if its hash matches and ``CONFLICT`` otherwise; neither writes
        anything. When the call returns, every ``STORED`` batch is durable. If it raises,
        nothing of the call was written (or, for ``StoreUnavailable``, possibly all of it).
        """
        ...

    def last_batch_seq(self, meter_id: str) -> int | None:
        """The highest stored batch sequence number of the meter, or None."""
        ...

    def readings(self, meter_id: str, start: int, end: int) -> list[ReadingRow]:
        """The meter's register values with ``start <= at < end``, ordered by time, register
        and batch."""
        ...

    def daily_consumption(
        self, meter_id: str, start_day: date, end_day: date, *, register: int | None = None
    ) -> list[DayConsumption]:
        """Consumption per UTC day from ``start_day`` to ``end_day`` inclusive.

        See :mod:`meterseal.store.consumption` for the definition.
        """
        ...

    def latest_state(self) -> list[MeterLatest]:
        """Every registered meter's latest state, ordered by meter ID."""
        ...

    def count_batches(self) -> int:
        """The number of stored batches."""
        ...

    def count_readings(self) -> int:
        """The number of stored register values (:class:`ReadingRow`), as ``readings()``
        returns them: five per electricity interval reading, one per water or gas one."""
        ...

    def count_intervals(self) -> int:
        """The number of stored interval readings (one freeze of a meter's registers at
        one interval end, per batch): the unit of DESIGN.md's ingest goal."""
        ...

    def iter_batches(self) -> Iterator[BatchRow]:
        """Every stored batch in (meter ID, sequence) order, fetched page by page."""
        ...

    def queue_command(
        self, meter_id: str, kind: int, created_at: int, expires_at: int, sign: SignCommand
    ) -> CommandRow:
        """Allocate a command id, ``sign(id)`` the command, and store it queued, atomically.

        See :mod:`meterseal.store.commands`; :class:`UnknownMeterError` for an unknown meter.
        """
        ...

    def get_command(self, command_id: int) -> CommandRow | None:
        """The command with this id, or None."""
        ...

    def open_commands(self, meter_id: str, now: int) -> list[CommandRow]:
        """The meter's queued or sent commands, oldest first, after expiring stale ones."""
        ...

    def mark_commands_sent(self, command_ids: Sequence[int], sent_at: int) -> None:
        """Record that these queued commands were handed to the meter."""
        ...

    def record_command_ack(
        self,
        meter_id: str,
        command_id: int,
        *,
        state: str,
        acked_at: int,
        status: int,
        reason: int,
        detail: int,
    ) -> bool:
        """Record the meter's ack of one of its open commands; False if it had none."""
        ...

    # --- the ledger outbox (meterseal.store.outbox) ---------------------------------------

    def queue_logged_command(
        self,
        meter_id: str,
        kind: int,
        created_at: int,
        expires_at: int,
        sign: SignCommand,
        *,
        operator: str,
    ) -> CommandRow:
        """``queue_command`` plus its ``OperatorCommand`` leaf, in one transaction."""
        ...

    def enqueue_leaves(self, entries: Sequence[bytes], now: int) -> None:
        """Queue leaf data entries for the ledger, in order, in one transaction."""
        ...

    def pending_leaves(self, limit: int) -> list[tuple[int, bytes]]:
        """The oldest ``limit`` queued leaves as ``(outbox id, leaf data)``."""
        ...

    def count_pending_leaves(self) -> int:
        """The number of leaves queued and not yet submitted."""
        ...

    def take_forwarder_lease(self, holder: str, now: int, ttl: int) -> bool:
        """Take or renew the forwarder lease; False while another holder's lease runs."""
        ...

    def release_forwarder_lease(self, holder: str) -> None:
        """Give the forwarder lease up, if ``holder`` has it."""
        ...

    def begin_submission(self, ids: Sequence[int], size_hint: int, now: int) -> None:
        """Record the chunk ``ids`` as in flight to the ledger."""
        ...

    def inflight_submission(self) -> InFlight | None:
        """The chunk in flight and not marked submitted, or None."""
        ...

    def mark_submitted(
        self, ids: Sequence[int], submitted: Submitted, now: int, *, recovered: bool = False
    ) -> None:
        """Drop the submitted outbox rows and the in-flight record; record where they
        landed (append-only), in one transaction."""
        ...

    def refuse_leaves(self, ids: Sequence[int], reason: str, now: int) -> None:
        """Set aside leaves the ledger refused as malformed; drop the in-flight record."""
        ...

    def refused_leaves(self) -> list[tuple[int, bytes, str]]:
        """The leaves set aside as malformed: ``(outbox id, leaf data, reason)``."""
        ...

    def ledger_submissions(self) -> list[SubmissionRow]:
        """Every recorded submission, oldest first."""
        ...

    def last_tree_size(self) -> int:
        """The largest tree size the ledger reported for this store's submissions (0)."""
        ...

    def close(self) -> None:
        """Close the connection; later calls raise :class:`StoreClosedError`."""
        ...
