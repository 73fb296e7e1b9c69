"""The meter's asyncio client: connect, authenticate, upload the buffer, obey commands.

One :meth:`MeterClient.upload` call runs connections until every buffered batch is
acknowledged (or ``max_attempts`` connections were made):

1. connect to the head-end over TCP and run a :class:`~meterseal.meter.session.MeterSession`
   (EDHOC, then records; docs/protocol.md section 5);
2. send the buffered batches oldest first, keeping up to ``window`` in flight before their
   acks (pipelining: one round trip per window rather than per batch); drop each batch from
   the buffer on ACCEPTED or DUPLICATE, set it aside on a final rejection, keep it on
   UNAVAILABLE;
3. verify and execute commands as they arrive (time sync sets the meter's clock) and ack
   them; the id of an accepted command is persisted before the meter acts;
4. when nothing is left in flight, send a ping and wait for its pong, so that commands the
   head-end queued before answering arrive, then CLOSE;
5. on any failure (refused connection, reset, timeout, EDHOC or record error, head-end
   restart), wait a jittered exponential backoff (1 s doubling to 60 s, full jitter) and
   start again with a fresh handshake; unacknowledged batches are simply sent again, and
   the head-end deduplicates them on (meter, batch sequence).

Time, randomness and sleeping are injectable (``clock``, ``rng``, ``jitter``, ``sleep``).
"""

from __future__ import annotations

import asyncio
import os
import random
import time
from collections import deque
from collections.abc import Awaitable, Callable
from contextlib import suppress
from dataclasses import dataclass, field
from typing import Final

from meterseal.crypto.interfaces import Rng
from meterseal.errors import MeterSealError
from meterseal.messages.acks import AckStatus, BatchAck, BatchRejectReason, CommandStatus
from meterseal.messages.commands import Command, TimeSync
from meterseal.meter.buffer import BatchBuffer, PendingBatch
from meterseal.meter.session import (
    BatchAcknowledged,
    CommandAccepted,
    CommandRefused,
    HandshakeComplete,
    MeterSession,
    PeerClosed,
    PongReceived,
    SessionConfig,
    SessionEvent,
    SessionState,
)

Sleep = Callable[[float], Awaitable[None]]
MAX_ERRORS_KEPT: Final = 20


class ConnectionLostError(MeterSealError):
    """The head-end closed the connection (or sent CLOSE) before the upload was done."""


@dataclass(frozen=True, slots=True)
class Backoff:
    """Exponential backoff with full jitter: attempt n waits uniform(0, min(cap, base * 2^n)).

    Full jitter spreads a fleet's reconnections after a head-end restart instead of
    making every meter knock at the same instant (docs/protocol.md section 5, limits).
    """

    base: float = 1.0
    cap: float = 60.0

    def ceiling(self, attempt: int) -> float:
        """The longest wait after ``attempt`` consecutive failures (0-based)."""
        return min(self.cap, self.base * 2.0 ** min(attempt, 64))

    def delay(self, attempt: int, jitter: random.Random) -> float:
        """A wait drawn uniformly from [0, ceiling(attempt)]."""
        return jitter.uniform(0.0, self.ceiling(attempt))


@dataclass(frozen=True, slots=True)
class ClientConfig:
    """Where the head-end is and how patient the meter is."""

    host: str
    port: int
    window: int = 8
    backoff: Backoff = Backoff()
    connect_timeout: float = 10.0
    handshake_timeout: float = 10.0
    ack_timeout: float = 30.0
    drain_timeout: float = 5.0
    max_attempts: int | None = None
    read_size: int = 64 * 1024

    def __post_init__(self) -> None:
        if self.window < 1:
            raise ValueError("the window holds at least one batch")


class MeterClock:
    """The meter's clock: a time source plus the offset that time syncs have set."""

    def __init__(self, source: Callable[[], float] = time.time) -> None:
        self._source = source
        self.offset = 0

    def now(self) -> int:
        """Unix seconds, as the meter believes them."""
        return int(self._source()) + self.offset

    def set(self, new_time: int) -> int:
        """Set the clock to ``new_time``; return the adjustment in seconds."""
        adjustment = new_time - self.now()
        self.offset += adjustment
        return adjustment


@dataclass
class UploadStats:
    """What the client did, cumulative over its connections."""

    connections: int = 0
    handshakes_ok: int = 0
    handshakes_failed: int = 0
    batches_sent: int = 0
    accepted: int = 0
    duplicates: int = 0
    rejected: int = 0
    unavailable: int = 0
    commands_executed: int = 0
    commands_refused: int = 0
    errors: list[str] = field(default_factory=list)

    @property
    def acknowledged(self) -> int:
        """Batches the head-end holds: ACCEPTED or DUPLICATE."""
        return self.accepted + self.duplicates

    def error(self, exc: BaseException) -> None:
        """Keep the latest errors (bounded)."""
        self.errors.append(f"{type(exc).__name__}: {exc}")
        del self.errors[:-MAX_ERRORS_KEPT]


_TRANSIENT: Final = (OSError, TimeoutError, MeterSealError)
"""Failures after which the client backs off and reconnects."""


class MeterClient:
    """Uploads one meter's buffer to the head-end (see the module docstring)."""

    def __init__(
        self,
        session_config: SessionConfig,
        buffer: BatchBuffer,
        config: ClientConfig,
        *,
        rng: Rng = os.urandom,
        jitter: random.Random | None = None,
        clock: MeterClock | None = None,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        self.session_config = session_config
        self.buffer = buffer
        self.config = config
        self.clock = clock or MeterClock()
        self.stats = UploadStats()
        self.rng = rng
        self._jitter = jitter or random.SystemRandom()
        self._sleep = sleep

    @property
    def meter_id(self) -> str:
        """The meter this client uploads for."""
        return self.session_config.meter_id

    def has_pending(self) -> bool:
        """True while the buffer holds an unacknowledged batch."""
        return bool(self.buffer.pending(self.meter_id, limit=1))

    async def upload(self) -> UploadStats:
        """Connect (and reconnect with backoff) until the buffer is empty or attempts run out."""
        failures = 0
        attempts = 0
        while self.has_pending() and self._may_try(attempts):
            attempts += 1
            failures = 0 if await self._attempt() else failures + 1
            if self.has_pending() and self._may_try(attempts):
                await self._sleep(self.config.backoff.delay(failures, self._jitter))
        return self.stats

    def _may_try(self, attempts: int) -> bool:
        limit = self.config.max_attempts
        return limit is None or attempts < limit

    async def _attempt(self) -> bool:
        """One connection; True if its handshake succeeded (resets the backoff)."""
        self.stats.connections += 1
        before = self.stats.handshakes_ok
        try:
            await self._connection()
        except _TRANSIENT as exc:
            self.stats.error(exc)
        handshake_ok = self.stats.handshakes_ok > before
        if not handshake_ok:
            self.stats.handshakes_failed += 1
        return handshake_ok

    async def _connection(self) -> None:
        host, port = self.config.host, self.config.port
        opening = asyncio.open_connection(host, port)
        reader, writer = await asyncio.wait_for(opening, self.config.connect_timeout)
        last = self.buffer.last_command_id(self.meter_id)
        session = MeterSession(self.session_config, self.rng, last_command_id=last)
        link = _Link(self, reader, writer, session)
        try:
            await link.run()
        finally:
            session.release()
            writer.close()
            with suppress(OSError, ConnectionError):
                await writer.wait_closed()

    # --- events ----------------------------------------------------------------------

    def on_event(self, event: SessionEvent, session: MeterSession) -> bytes:
        """Apply one session event; return bytes to send (command acks)."""
        if isinstance(event, HandshakeComplete):
            self.stats.handshakes_ok += 1
        elif isinstance(event, BatchAcknowledged):
            self._on_ack(event.ack)
        elif isinstance(event, CommandAccepted):
            return self._execute(event.command, session)
        elif isinstance(event, CommandRefused):
            self.stats.commands_refused += 1
        elif isinstance(event, PeerClosed):
            raise ConnectionLostError("the head-end closed the session")
        return b""

    def _on_ack(self, ack: BatchAck) -> None:
        if ack.status is AckStatus.ACCEPTED:
            self.stats.accepted += 1
            self.buffer.acknowledged(self.meter_id, ack.batch_seq)
        elif ack.status is AckStatus.DUPLICATE:
            self.stats.duplicates += 1
            self.buffer.acknowledged(self.meter_id, ack.batch_seq)
        elif ack.reason is BatchRejectReason.UNAVAILABLE:
            self.stats.unavailable += 1
        else:
            self.stats.rejected += 1
            self.buffer.rejected(self.meter_id, ack.batch_seq, ack.reason)

    def _execute(self, command: Command, session: MeterSession) -> bytes:
        """Persist the command id, act, and ack (docs/protocol.md, 8.2)."""
        self.buffer.command_accepted(self.meter_id, command.command_id)
        if not isinstance(command.params, TimeSync):
            return session.ack_command(command.command_id, CommandStatus.FAILED)
        adjustment = self.clock.set(command.params.new_time)
        self.stats.commands_executed += 1
        return session.ack_command(command.command_id, CommandStatus.EXECUTED, adjustment)


class _Link:
    """One TCP connection's I/O around a session: handshake, pipelined upload, drain."""

    def __init__(
        self,
        client: MeterClient,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        session: MeterSession,
    ) -> None:
        self.client = client
        self.config = client.config
        self.reader = reader
        self.writer = writer
        self.session = session
        self.tried: set[int] = set()

    async def run(self) -> None:
        """Handshake, upload, drain, close."""
        await asyncio.wait_for(self._handshake(), self.config.handshake_timeout)
        await self._upload()
        await self._drain()
        self._send(self.session.close())
        await self.writer.drain()

    async def _handshake(self) -> None:
        self._send(self.session.start())
        while not self.session.established:
            await self._exchange(None)

    async def _exchange(self, timeout: float | None) -> list[SessionEvent]:
        """Read once, feed the session, send what it owes, apply its events."""
        data = await asyncio.wait_for(self.reader.read(self.config.read_size), timeout)
        if not data:
            raise ConnectionLostError("the head-end closed the connection")
        try:
            events = self.session.receive(data, self.client.clock.now())
        finally:
            self._send(self.session.data_to_send())
        for event in events:
            self._send(self.client.on_event(event, self.session))
        return events

    def _send(self, data: bytes) -> None:
        if not data:
            return
        if self.writer.transport.is_closing():
            raise ConnectionLostError("the connection is gone")
        self.writer.write(data)

    async def _upload(self) -> None:
        """Keep up to ``window`` batches in flight until every pending batch was answered."""
        queue = self._untried()
        while queue or self.session.in_flight:
            while queue and len(self.session.in_flight) < self.config.window:
                self._send_batch(queue.popleft())
            await self.writer.drain()
            await self._exchange(self.config.ack_timeout)
            if not queue and not self.session.in_flight:
                queue = self._untried()

    def _untried(self) -> deque[PendingBatch]:
        """Pending batches not yet sent on this connection (new ones, too)."""
        pending = self.client.buffer.pending(self.client.meter_id)
        return deque(b for b in pending if b.batch_seq not in self.tried)

    def _send_batch(self, batch: PendingBatch) -> None:
        self.tried.add(batch.batch_seq)
        self._send(self.session.send_batch(batch.signed))
        self.client.stats.batches_sent += 1

    async def _drain(self) -> None:
        """Ping, then take in everything up to the pong (queued commands come before it)."""
        token = int.from_bytes(self.client.rng(4), "big")
        self._send(self.session.ping(token))
        await self.writer.drain()
        with suppress(TimeoutError):
            await asyncio.wait_for(self._until_pong(token), self.config.drain_timeout)

    async def _until_pong(self, token: int) -> None:
        while self.session.state is SessionState.ESTABLISHED:
            events = await self._exchange(None)
            if PongReceived(token) in events:
                return
