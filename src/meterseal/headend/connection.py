"""One meter's TCP connection: the asyncio protocol around a :class:`HeadendSession`.

The session is sans-IO; this class does the I/O it asks for: writes its replies, runs
the registry lookup it requests, verifies and queues the batches it reports, writes a
batch ack only when the ingest future says the batch is durable, delivers commands and
records their acks. It never blocks the loop on the store: every store call goes through
a :class:`~meterseal.headend.runner.StoreRunner`.

Back-pressure: a meter with ``max_inflight_batches`` batches awaiting their ack stops
being read until half of them are acked, and so does one that does not read its acks
(the transport's write buffer is full). Timeouts are checked by the core's sweeper
through :meth:`MeterConnection.check_timeouts` (no timer per connection, which keeps an
idle session small).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from functools import partial
from typing import TYPE_CHECKING, Any, cast

from meterseal.headend.events import (
    BatchReceived,
    CloseReason,
    CommandAckReceived,
    CredentialRequested,
    PongReceived,
    RecordRejected,
    Reply,
    SessionClosed,
    SessionEstablished,
    SessionEvent,
)
from meterseal.headend.ingest import BatchRejectedError, Stored, verify_batch
from meterseal.headend.registry import Refusal, RegisteredMeter
from meterseal.messages import AckStatus, BatchAck, BatchRejectReason
from meterseal.store import StoreError, StoreOutcome, StoreUnavailable

if TYPE_CHECKING:
    from meterseal.headend.core import HeadendCore

log = logging.getLogger("meterseal.headend")

_ACKS = {
    StoreOutcome.STORED: (AckStatus.ACCEPTED, BatchRejectReason.NONE),
    StoreOutcome.DUPLICATE: (AckStatus.DUPLICATE, BatchRejectReason.NONE),
    StoreOutcome.CONFLICT: (AckStatus.REJECTED, BatchRejectReason.MALFORMED),
}
_UNAVAILABLE = (AckStatus.REJECTED, BatchRejectReason.UNAVAILABLE)


class MeterConnection(asyncio.Protocol):
    """The head-end end of one TCP connection from a meter."""

    def __init__(self, core: HeadendCore) -> None:
        self._core = core
        self._session = core.new_session()
        self._transport: asyncio.Transport | None = None
        self._meter: RegisteredMeter | None = None
        self._started = self._active = core.monotonic()
        self._inflight = 0
        self._paused = self._write_paused = False
        self._closed = False
        self._is_established = False
        self._claimed: str | None = None  # the meter id message_3 named, for the log
        self._sent_commands: set[int] = set()

    @property
    def meter_id(self) -> str | None:
        """The authenticated meter while its session is open, else None."""
        return self._session.meter_id

    @property
    def authenticated_as(self) -> str | None:
        """The meter this connection authenticated as, also after it closed."""
        return self._claimed if self._is_established else None

    # --- asyncio callbacks ------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        """Register with the core."""
        self._transport = cast(asyncio.Transport, transport)
        self._core.opened(self)

    def data_received(self, data: bytes) -> None:
        """Feed the session and act on what it reports."""
        self._active = self._core.monotonic()
        self._handle(self._session.receive(data))

    def pause_writing(self) -> None:
        """The meter does not read its acks: stop reading its batches until it does."""
        self._write_paused = True
        self._pause()

    def resume_writing(self) -> None:
        """The write buffer drained: read again unless too many batches are in flight."""
        self._write_paused = False
        if self._inflight < self._core.config.max_inflight_batches:
            self._resume()

    def eof_received(self) -> bool:
        """The meter half-closed: close our side too."""
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        """Count the end of the connection and leave the core."""
        if not self._closed:
            self._session.close(CloseReason.CONNECTION_LOST)
            self._finish(CloseReason.CONNECTION_LOST, str(exc or "peer closed TCP"))
        self._core.forget(self)

    # --- session events -------------------------------------------------------------------

    def _handle(self, events: list[SessionEvent]) -> None:
        for event in events:
            _HANDLERS[type(event)](self, event)

    def _write(self, event: Reply) -> None:
        if self._transport is not None and not self._closed:
            self._transport.write(event.data)

    def _look_up(self, event: CredentialRequested) -> None:
        self._claimed = event.meter_id
        self._core.spawn(self._answer_lookup(event.meter_id))

    async def _answer_lookup(self, meter_id: str) -> None:
        try:
            verdict = await self._core.registry.lookup(meter_id)
        except StoreError as exc:  # the cause is in the message: no traceback in the log
            log.error("registry lookup of meter %s failed: %s", meter_id, exc)  # noqa: TRY400
            self.close(CloseReason.STORE_UNAVAILABLE)
            return
        if not self._closed:
            self._handle(self._answer(verdict))

    def _answer(self, verdict: RegisteredMeter | Refusal) -> list[SessionEvent]:
        if isinstance(verdict, RegisteredMeter):
            self._meter = verdict
            return self._session.provide_credential(verdict.credential)
        if verdict.reason is CloseReason.UNKNOWN_METER:
            return self._session.unknown_meter(verdict.detail)
        return self._session.inactive_meter(verdict.detail)

    def _established(self, event: SessionEstablished) -> None:
        self._is_established = True
        self._active = self._core.monotonic()
        self._core.established(self, event)

    def _on_command_ack(self, event: CommandAckReceived) -> None:
        self._core.spawn(self._core.commands.record_ack(event.meter_id, event.ack))

    def _on_pong(self, event: PongReceived) -> None:
        del event  # any record already counts as activity

    def _on_record_rejected(self, event: RecordRejected) -> None:
        self._core.stats.record_failures += 1
        log.info("meter %s: record dropped: %s", self._claimed, event.detail)

    def _on_closed(self, event: SessionClosed) -> None:
        self._finish(event.reason, event.detail)
        self._close_transport()

    def _close_transport(self) -> None:
        """Close TCP. If bytes are still waiting for the peer to read them, abort instead:
        a meter that never reads must not keep its socket after its session ended."""
        if self._transport is None:
            return
        if self._transport.get_write_buffer_size() > 0:
            self._transport.abort()
        else:
            self._transport.close()

    # --- ingest ---------------------------------------------------------------------------

    def _on_batch(self, event: BatchReceived) -> None:
        meter = self._meter
        assert meter is not None  # noqa: S101 - batches arrive only in an open session
        try:
            batch = verify_batch(event.signed, meter)
        except BatchRejectedError as rejected:
            self._rejected(rejected)
            return
        future = self._core.ingest.submit(batch, event.signed, self._core.now())
        future.add_done_callback(partial(self._stored, batch.batch_seq))
        self._inflight += 1
        if self._inflight >= self._core.config.max_inflight_batches:
            self._pause()

    def _rejected(self, rejected: BatchRejectedError) -> None:
        meter_id, seq, reason = self.meter_id, rejected.batch_seq, rejected.reason
        self._core.stats.batch_rejected(reason.name.lower())
        log.warning(
            "meter %s batch %s rejected, %s: %s", meter_id, seq, reason.name, rejected.detail
        )
        if seq is None:
            self.close(CloseReason.MALFORMED)
        else:
            self._ack(seq, AckStatus.REJECTED, reason)

    def _stored(self, seq: int, future: asyncio.Future[Stored]) -> None:
        self._inflight -= 1
        if self._paused and self._inflight <= self._core.config.max_inflight_batches // 2:
            self._resume()
        status, reason = self._verdict(seq, future)
        self._ack(seq, status, reason)

    def _verdict(
        self, seq: int, future: asyncio.Future[Stored]
    ) -> tuple[AckStatus, BatchRejectReason]:
        stats, meter_id = self._core.stats, self._meter_id_or_unknown()
        error = future.exception() if not future.cancelled() else StoreUnavailable("cancelled")
        if error is not None:
            return self._store_failed(seq, error)
        stored = future.result()
        if stored.outcome is StoreOutcome.STORED:
            stats.batches_accepted += 1
            stats.readings_stored += stored.readings
            stats.intervals_stored += stored.intervals
        elif stored.outcome is StoreOutcome.DUPLICATE:
            stats.batches_duplicate += 1
        else:
            stats.batch_rejected("conflict")
            log.warning("meter %s batch %d conflicts with the stored batch", meter_id, seq)
        return _ACKS[stored.outcome]

    def _store_failed(self, seq: int, error: BaseException) -> tuple[AckStatus, BatchRejectReason]:
        meter_id = self._meter_id_or_unknown()
        if isinstance(error, StoreError) and not isinstance(error, StoreUnavailable):
            self._core.stats.batch_rejected("invalid_row")
            log.error("meter %s batch %d refused by the store: %s", meter_id, seq, error)
            return AckStatus.REJECTED, BatchRejectReason.MALFORMED
        self._core.stats.batches_unavailable += 1
        log.error("meter %s batch %d not stored (store unavailable): %s", meter_id, seq, error)
        return _UNAVAILABLE

    def _ack(self, seq: int, status: AckStatus, reason: BatchRejectReason) -> None:
        meter_id = self.meter_id
        if self._closed or meter_id is None or self._transport is None:
            return
        ack = BatchAck(meter_id, seq, status, reason)
        self._transport.write(self._session.send_batch_ack(ack))

    def _meter_id_or_unknown(self) -> str:
        return self._claimed or "?"

    def _pause(self) -> None:
        if not self._paused and self._transport is not None:
            self._paused = True
            self._transport.pause_reading()

    def _resume(self) -> None:
        if self._write_paused or self._closed or self._transport is None:
            return
        if self._paused:
            self._paused = False
            self._transport.resume_reading()

    # --- commands, timeouts, closing ------------------------------------------------------

    async def deliver_commands(self) -> None:
        """Send this meter's open commands not yet sent in this session."""
        meter_id = self.meter_id
        if meter_id is not None and not self._closed:
            await self._core.commands.deliver(meter_id, self._send_command, self._sent_commands)

    def _send_command(self, signed: bytes) -> bool:
        if self._closed or not self._session.is_open or self._transport is None:
            return False
        self._transport.write(self._session.send_command(signed))
        return True

    def check_timeouts(self, now: float) -> None:
        """Close the connection if its handshake or idle time ran out."""
        if self._closed:
            return
        config = self._core.config
        if not self._session.is_open and now - self._started > config.handshake_timeout:
            self.close(CloseReason.HANDSHAKE_TIMEOUT)
        elif self._session.is_open and now - self._active > config.idle_timeout:
            self.close(CloseReason.IDLE_TIMEOUT)

    def pause(self) -> None:
        """Stop reading from the meter (shutdown: nothing new is accepted)."""
        self._pause()

    def close(self, reason: CloseReason) -> None:
        """Close from the head-end's side: a CLOSE record if the session is open."""
        if self._closed:
            return
        data = self._session.close(reason)
        if data and self._transport is not None:
            self._transport.write(data)
        self._finish(reason, "")
        self._close_transport()

    def _finish(self, reason: CloseReason, detail: str) -> None:
        """Count and log the end of the session (once)."""
        self._closed = True
        self._core.closed(self._claimed, reason, detail, established=self._is_established)


_HANDLERS: dict[type[Any], Callable[[MeterConnection, Any], None]] = {
    Reply: MeterConnection._write,
    CredentialRequested: MeterConnection._look_up,
    SessionEstablished: MeterConnection._established,
    BatchReceived: MeterConnection._on_batch,
    CommandAckReceived: MeterConnection._on_command_ack,
    PongReceived: MeterConnection._on_pong,
    RecordRejected: MeterConnection._on_record_rejected,
    SessionClosed: MeterConnection._on_closed,
}
"""What the connection does with each session event."""
