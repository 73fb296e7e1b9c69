"""The meter's side of one session, sans-IO: EDHOC initiator, then protected records.

This is docs/protocol.md section 5 from the meter's point of view:

1. :meth:`MeterSession.start` gives message_1 in an EDHOC frame: the meter's method
   (3 by default, 0 for signature meters), SUITES_I = its one suite, C_I = ``0x37``.
2. message_2 names the head-end's credential by kid; the meter takes it from its trust
   store (:class:`~meterseal.meter.trust.HeadendTrust`) or ends the session with ERR_CODE 3.
3. message_3 carries ID_CRED_I = ``{4: meter id in ASCII}``.
4. message_4 (expected by default) confirms the head-end's keys; the record layer
   (docs/protocol.md section 6) is derived from the EDHOC exporter.
5. Records carry application messages: the meter sends signed batches, command acks and
   pings; it receives batch acks, signed commands (verified here: signature, target,
   freshness, replay), pings and pongs. A record that fails to authenticate is dropped;
   past ``max_record_failures`` the session fails.

Bytes go in with :meth:`MeterSession.receive` (raw stream bytes, framed as in
docs/protocol.md section 2) together with the meter's clock ``now``; events come out.
Replies the session owes the peer (message_3, pongs, rejected-command acks, EDHOC error
messages) collect in :meth:`MeterSession.data_to_send`; the sending methods return their
frame directly. No sockets, clocks or randomness inside (``rng`` is a parameter).
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final, Protocol

from meterseal.crypto.cose import decode_sign1
from meterseal.crypto.interfaces import Rng
from meterseal.crypto.suites import CipherSuite
from meterseal.edhoc.authentication import LocalIdentity
from meterseal.edhoc.config import InitiatorConfig
from meterseal.edhoc.events import (
    CredentialNeeded,
    Event,
    HandshakeCompleted,
    Retransmission,
    SuiteRejected,
)
from meterseal.edhoc.machine import Initiator, InitiatorState
from meterseal.edhoc.messages import ErrorCode, Method, connection_id
from meterseal.errors import EdhocError, EncodingError, MeterSealError, ProtocolError, RecordError
from meterseal.framing import FrameDecoder, FrameKind, encode_frame
from meterseal.messages.acks import BatchAck, CommandAck, CommandStatus
from meterseal.messages.commands import Command, decode_command, verify_command
from meterseal.messages.envelope import (
    AppMessage,
    Ping,
    Pong,
    SignedBatch,
    SignedCommand,
    decode_app_message,
    encode_app_message,
)
from meterseal.messages.errors import CommandRejectedError, CommandRejectReason
from meterseal.messages.sealing import peek_batch_header
from meterseal.meter.trust import HeadendTrust
from meterseal.records.keys import Exporter
from meterseal.records.layer import RecordLayer
from meterseal.records.wire import Record, RecordType

C_I: Final = connection_id(-24)
"""The meter's connection identifier, ``0x37`` (docs/protocol.md section 5, step 1)."""

MAX_FRAME_BODY: Final = 16 * 1024
"""The largest frame body the meter accepts (the head-end's handshake limit)."""

MAX_RECORD_FAILURES: Final = 3
"""Records that may fail to authenticate before the session fails."""


class SessionError(ProtocolError):
    """The head-end broke the session protocol (an unexpected frame, ack or message)."""


class SessionState(enum.Enum):
    """Where a meter session stands."""

    IDLE = enum.auto()
    HANDSHAKE = enum.auto()
    ESTABLISHED = enum.auto()
    CLOSED = enum.auto()
    FAILED = enum.auto()


class RecordSession(Protocol):
    """A record layer session: RecordLayer itself, or one held in the secure element."""

    def seal(self, payload: bytes, record_type: RecordType = ...) -> bytes:
        """Protect one record (docs/protocol.md section 6.5)."""
        ...

    def open(self, record: bytes) -> Record:
        """Authenticate one record, or raise RecordError (section 5.6)."""
        ...

    def release(self) -> None:
        """Erase the session's keys."""
        ...


RecordFactory = Callable[[CipherSuite, Exporter, bytes, bytes], RecordSession]
"""Builds the initiator's record session from (suite, exporter, C_I, C_R)."""


class SoftwareRecords:
    """A :class:`RecordLayer` in the meter's memory (tests; the secure element is better)."""

    __slots__ = ("_layer",)

    def __init__(self, suite: CipherSuite, exporter: Exporter, c_i: bytes, c_r: bytes) -> None:
        self._layer: RecordLayer | None = RecordLayer.for_initiator(suite, exporter, c_i, c_r)

    def _live(self) -> RecordLayer:
        if self._layer is None:
            raise RecordError("the record session was released")
        return self._layer

    def seal(self, payload: bytes, record_type: RecordType = RecordType.APPLICATION_DATA) -> bytes:
        """:meth:`RecordLayer.seal`."""
        return self._live().seal(payload, record_type)

    def open(self, record: bytes) -> Record:
        """:meth:`RecordLayer.open`."""
        return self._live().open(record)

    def release(self) -> None:
        """Forget the keys."""
        self._layer = None


@dataclass(frozen=True, slots=True)
class SessionConfig:
    """Everything a meter session needs to know about the meter and whom it trusts."""

    meter_id: str
    suite: CipherSuite
    method: Method
    identity: LocalIdentity
    trust: HeadendTrust
    records: RecordFactory = SoftwareRecords
    expect_message_4: bool = True
    max_record_failures: int = MAX_RECORD_FAILURES
    max_frame_body: int = MAX_FRAME_BODY

    @property
    def kid(self) -> bytes:
        """The meter's kid: its id in ASCII (docs/protocol.md section 5, step 3)."""
        return self.meter_id.encode("ascii")

    def initiator_config(self) -> InitiatorConfig:
        """The EDHOC initiator configuration: one suite, the meter's method."""
        return InitiatorConfig(
            self.identity, self.method, (self.suite,), expect_message_4=self.expect_message_4
        )


# --- events ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class HandshakeComplete:
    """Both sides are authenticated and the record layer is ready."""

    suite: int
    method: Method
    headend_kid: bytes | None


@dataclass(frozen=True, slots=True)
class BatchAcknowledged:
    """The head-end answered one batch this session sent."""

    ack: BatchAck


@dataclass(frozen=True, slots=True)
class CommandAccepted:
    """A command passed every check; act on it, then :meth:`MeterSession.ack_command`.

    Its id is already the session's ``last_command_id``: persist it before acting.
    """

    command: Command


@dataclass(frozen=True, slots=True)
class CommandRefused:
    """A command failed a check; the rejected ack is already queued in data_to_send."""

    command_id: int
    reason: CommandRejectReason
    detail: str


@dataclass(frozen=True, slots=True)
class PongReceived:
    """The head-end answered a ping."""

    token: int


@dataclass(frozen=True, slots=True)
class PeerClosed:
    """The head-end sent a CLOSE record; it will send nothing more."""

    reason: bytes


SessionEvent = (
    HandshakeComplete
    | BatchAcknowledged
    | CommandAccepted
    | CommandRefused
    | PongReceived
    | PeerClosed
)
"""Everything :meth:`MeterSession.receive` reports."""


def _unverified_command_id(signed: bytes) -> int:
    """The command id of a refused command, for the ack only (0 if it cannot be read)."""
    try:
        return decode_command(decode_sign1(signed).payload).command_id
    except MeterSealError:
        return 0


class MeterSession:
    """One connection's session on the meter side (see the module docstring)."""

    def __init__(self, config: SessionConfig, rng: Rng, *, last_command_id: int = 0) -> None:
        self.config = config
        self._initiator = Initiator(config.initiator_config(), rng)
        self._decoder = FrameDecoder(config.max_frame_body)
        self._records: RecordSession | None = None
        self._state = SessionState.IDLE
        self._outbox = bytearray()
        self._in_flight: set[int] = set()
        self._record_failures = 0
        self._last_command_id = last_command_id

    # --- what the session tells -------------------------------------------------------

    @property
    def state(self) -> SessionState:
        """The current state."""
        return self._state

    @property
    def established(self) -> bool:
        """True once the handshake completed and until the session fails."""
        return self._state is SessionState.ESTABLISHED

    @property
    def in_flight(self) -> frozenset[int]:
        """Sequence numbers of batches sent in this session and not yet acknowledged."""
        return frozenset(self._in_flight)

    @property
    def last_command_id(self) -> int:
        """The id of the last command this meter accepted (0 before the first)."""
        return self._last_command_id

    @property
    def record_failures(self) -> int:
        """Records dropped because they did not authenticate."""
        return self._record_failures

    def data_to_send(self) -> bytes:
        """Take the bytes the session owes the peer (replies produced by ``receive``)."""
        out = bytes(self._outbox)
        self._outbox.clear()
        return out

    # --- sending ---------------------------------------------------------------------

    def start(self) -> bytes:
        """message_1 in an EDHOC frame (docs/protocol.md section 5, step 1)."""
        if self._state is not SessionState.IDLE:
            raise SessionError(f"start in state {self._state.name}")
        self._state = SessionState.HANDSHAKE
        return encode_frame(FrameKind.EDHOC, self._initiator.start(C_I))

    def send_batch(self, signed_batch: bytes) -> bytes:
        """A RECORD frame carrying a signed batch of this meter; it is in flight until acked."""
        meter_id, batch_seq = peek_batch_header(signed_batch)
        if meter_id != self.config.meter_id:
            raise SessionError(f"batch of meter {meter_id!r} in the session of another")
        if batch_seq in self._in_flight:
            raise SessionError(f"batch {batch_seq} is already in flight")
        frame = self._seal_message(SignedBatch(signed_batch))
        self._in_flight.add(batch_seq)
        return frame

    def ack_command(self, command_id: int, status: CommandStatus, detail: int = 0) -> bytes:
        """A RECORD frame with the ack of a command the meter acted on (or failed to)."""
        return self._seal_message(CommandAck(command_id, status, detail=detail))

    def ping(self, token: int) -> bytes:
        """A RECORD frame with a ping; the head-end answers with a pong."""
        return self._seal_message(Ping(token))

    def close(self, reason: bytes = b"") -> bytes:
        """The CLOSE record frame; nothing more can be sent afterwards."""
        sealed = self._live_records().seal(reason, RecordType.CLOSE)
        return encode_frame(FrameKind.RECORD, sealed)

    def release(self) -> None:
        """Erase the record keys (in the secure element, if they live there)."""
        if self._records is not None:
            self._records.release()
            self._records = None
        if self._state in (SessionState.IDLE, SessionState.HANDSHAKE, SessionState.ESTABLISHED):
            self._state = SessionState.CLOSED

    def _live_records(self) -> RecordSession:
        if self._state is not SessionState.ESTABLISHED or self._records is None:
            raise SessionError(f"no record can be sent in state {self._state.name}")
        return self._records

    def _seal_message(self, message: AppMessage) -> bytes:
        sealed = self._live_records().seal(encode_app_message(message))
        return encode_frame(FrameKind.RECORD, sealed)

    # --- receiving -------------------------------------------------------------------

    def receive(self, data: bytes, now: int) -> list[SessionEvent]:
        """Process bytes from the head-end; ``now`` is the meter's clock (Unix seconds).

        Raises a :class:`~meterseal.errors.MeterSealError` (and moves to FAILED) if the
        session cannot go on; any EDHOC error message for the peer is then queued.
        """
        events: list[SessionEvent] = []
        try:
            for frame in self._decoder.feed(data):
                events.extend(self._on_frame(frame.kind, frame.body, now))
        except MeterSealError:
            self._fail()
            raise
        return events

    def _fail(self) -> None:
        """FAILED; during the handshake, queue the EDHOC error message the peer is owed."""
        handshaking = self._state is SessionState.HANDSHAKE
        self._state = SessionState.FAILED
        error = self._edhoc_error() if handshaking else None
        if error is not None:
            self._outbox += encode_frame(FrameKind.EDHOC, error)
        if self._records is not None:
            self._records.release()
            self._records = None

    def _edhoc_error(self) -> bytes | None:
        """The initiator's error message; for a session-level fault, a "protocol error"."""
        if self._initiator.state is InitiatorState.FAILED:
            return self._initiator.error_message
        return self._initiator.abort("protocol error")

    def _on_frame(self, kind: FrameKind, body: bytes, now: int) -> list[SessionEvent]:
        handler = _FRAME_TABLE.get((self._state, kind))
        if handler is None:
            raise SessionError(f"unexpected {kind.name} frame in state {self._state.name}")
        return handler(self, body, now)

    # --- handshake -------------------------------------------------------------------

    def _on_edhoc(self, body: bytes, now: int) -> list[SessionEvent]:
        del now
        out: list[SessionEvent] = []
        for event in self._initiator.receive(body):
            out.extend(self._on_edhoc_event(event))
        return out

    def _on_edhoc_event(self, event: Event) -> list[SessionEvent]:
        if isinstance(event, CredentialNeeded):
            return self._answer_credential(event)
        if isinstance(event, Retransmission):
            self._outbox += encode_frame(FrameKind.EDHOC, event.data)
            return []
        if isinstance(event, HandshakeCompleted):
            return [self._complete(event)]
        if isinstance(event, SuiteRejected):
            raise EdhocError(f"the head-end refused suite {self.config.suite.value}")
        raise SessionError(f"unexpected EDHOC event {type(event).__name__}")

    def _answer_credential(self, needed: CredentialNeeded) -> list[SessionEvent]:
        """Step 3: the head-end's credential from the trust store, then message_3."""
        credential = self.config.trust.lookup(needed.id_cred)
        if credential is None:
            self._initiator.unknown_credential()
            raise EdhocError(
                f"untrusted head-end credential {needed.id_cred.kid!r}",
                wire_code=ErrorCode.UNKNOWN_CREDENTIAL,
            )
        self._initiator.provide_credential(credential)
        self._outbox += encode_frame(FrameKind.EDHOC, self._initiator.send_message_3())
        result = self._initiator.result
        if self.config.expect_message_4 or result is None:
            return []
        return [self._complete(result)]

    def _complete(self, result: HandshakeCompleted) -> HandshakeComplete:
        """Step 5: derive the record layer from the EDHOC exporter."""
        self._records = self.config.records(
            result.suite, self._initiator.exporter, result.c_i, result.c_r
        )
        self._state = SessionState.ESTABLISHED
        return HandshakeComplete(result.suite.value, result.method, result.peer_credential.kid)

    # --- records ---------------------------------------------------------------------

    def _on_record(self, body: bytes, now: int) -> list[SessionEvent]:
        records = self._live_records()
        try:
            record = records.open(body)
        except RecordError:
            self._record_failures += 1
            if self._record_failures > self.config.max_record_failures:
                raise
            return []
        if record.type is RecordType.CLOSE:
            self._state = SessionState.CLOSED
            return [PeerClosed(record.payload)]
        if record.type is RecordType.APPLICATION_DATA:
            return self._on_message(record.payload, now)
        return []

    def _on_message(self, payload: bytes, now: int) -> list[SessionEvent]:
        try:
            message = decode_app_message(payload)
        except EncodingError as exc:
            raise SessionError(f"malformed application message: {exc}") from exc
        if isinstance(message, BatchAck):
            return [self._on_batch_ack(message)]
        if isinstance(message, SignedCommand):
            return [self._on_command(message, now)]
        if isinstance(message, Ping):
            self._outbox += self._seal_message(Pong(message.token))
            return []
        if isinstance(message, Pong):
            return [PongReceived(message.token)]
        raise SessionError(f"the head-end may not send {type(message).__name__}")

    def _on_batch_ack(self, ack: BatchAck) -> BatchAcknowledged:
        if ack.meter_id != self.config.meter_id or ack.batch_seq not in self._in_flight:
            raise SessionError(f"ack for batch {ack.batch_seq} of {ack.meter_id!r} not in flight")
        self._in_flight.discard(ack.batch_seq)
        return BatchAcknowledged(ack)

    def _on_command(self, message: SignedCommand, now: int) -> CommandAccepted | CommandRefused:
        """Check signature, target, freshness and replay before anything acts on it."""
        try:
            command = verify_command(
                message.data,
                self.config.suite.signature,
                self.config.trust.command_key,
                meter_id=self.config.meter_id,
                now=now,
                last_command_id=self._last_command_id,
            )
        except CommandRejectedError as exc:
            return self._refuse(message.data, exc)
        self._last_command_id = command.command_id
        return CommandAccepted(command)

    def _refuse(self, signed: bytes, error: CommandRejectedError) -> CommandRefused:
        command_id = _unverified_command_id(signed)
        ack = CommandAck(command_id, CommandStatus.REJECTED, error.reason)
        self._outbox += self._seal_message(ack)
        return CommandRefused(command_id, error.reason, str(error))


_FrameHandler = Callable[[MeterSession, bytes, int], list[SessionEvent]]

_FRAME_TABLE: Final[dict[tuple[SessionState, FrameKind], _FrameHandler]] = {
    (SessionState.HANDSHAKE, FrameKind.EDHOC): MeterSession._on_edhoc,
    (SessionState.ESTABLISHED, FrameKind.RECORD): MeterSession._on_record,
}
"""Which frame each state accepts; any other pair is a protocol error that ends the session
(docs/protocol.md: an EDHOC frame after the handshake, or a RECORD frame before it)."""
