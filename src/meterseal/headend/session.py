"""One meter connection at the head-end, sans-IO: frames in, events and framed bytes out.

docs/protocol.md section 5 is the contract. The session wraps an EDHOC
:class:`~meterseal.edhoc.Responder` (RFC 9528) until the meter is authenticated, then a
:class:`~meterseal.records.RecordLayer`; it reads no clock, opens no socket and does no
lookup itself. When message_3 names a meter it reports :class:`CredentialRequested`;
the transport looks the meter up (asynchronously) and answers with
:meth:`HeadendSession.provide_credential`, :meth:`~HeadendSession.unknown_meter` (EDHOC
ERR_CODE 3) or :meth:`~HeadendSession.inactive_meter` (ERR_CODE 1, no detail).

States and inputs (``_TABLE``)::

    AWAIT_MESSAGE_1  --EDHOC frame-->   message_2 out           --> AWAIT_MESSAGE_3
    AWAIT_MESSAGE_3  --EDHOC frame-->   CredentialRequested     --> AWAIT_CREDENTIAL
    AWAIT_CREDENTIAL --RECORD frame-->  buffered until keyed    --> AWAIT_CREDENTIAL
    OPEN             --RECORD frame-->  application message     --> OPEN

A (state, frame kind) pair missing from the table is a protocol error: before the
handshake completes the meter gets an EDHOC error message, afterwards a CLOSE record.
A framing error closes without a word (docs/protocol.md section 2). A record that
fails to authenticate is dropped; more than ``max_record_failures`` of them close.
"""

from __future__ import annotations

import enum
import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import NoReturn, TypeVar

from meterseal.crypto.interfaces import Rng
from meterseal.edhoc import (
    CredentialNeeded,
    HandshakeCompleted,
    IdCred,
    Message1Received,
    Responder,
    ResponderConfig,
    ResponderState,
    connection_id,
)
from meterseal.edhoc.credentials import Credential
from meterseal.edhoc.events import Event as EdhocEvent
from meterseal.errors import (
    CryptoError,
    EdhocError,
    EncodingError,
    FramingError,
    MeterSealError,
    PeerReportedError,
    RecordError,
)
from meterseal.framing import Frame, FrameDecoder, FrameKind, encode_frame
from meterseal.headend.config import IdentityLookup
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
from meterseal.messages import (
    AppMessage,
    BatchAck,
    CommandAck,
    Ping,
    Pong,
    SignedBatch,
    SignedCommand,
    decode_app_message,
    encode_app_message,
)
from meterseal.messages.fields import METER_ID_PATTERN
from meterseal.records import RecordLayer, RecordType

_T = TypeVar("_T")
_E = TypeVar("_E", Message1Received, CredentialNeeded, HandshakeCompleted)

C_R = connection_id(-8)
"""The head-end's C_R (0x27), or :data:`C_R_ALTERNATE` if the meter chose it as C_I."""
C_R_ALTERNATE = connection_id(-9)


class SessionState(enum.Enum):
    """Where a head-end session stands."""

    AWAIT_MESSAGE_1 = enum.auto()
    AWAIT_MESSAGE_3 = enum.auto()
    AWAIT_CREDENTIAL = enum.auto()
    OPEN = enum.auto()
    CLOSED = enum.auto()


class SessionStateError(MeterSealError):
    """The application asked a session for something its state does not allow."""


@dataclass(frozen=True, slots=True)
class SessionLimits:
    """Per-session limits: frame body size, failed records, frames buffered in a lookup."""

    max_frame_body: int = 16 * 1024
    max_record_failures: int = 3
    max_buffered_frames: int = 8


class _Failure(Exception):  # noqa: N818 - internal control flow, never leaves the module
    """Ends the session: why, the detail for the log, and the bytes to send first."""

    def __init__(self, reason: CloseReason, detail: str, reply: bytes = b"") -> None:
        super().__init__(detail)
        self.reason, self.detail, self.reply = reason, detail, reply


def _edhoc_reason(error: MeterSealError) -> CloseReason:
    """The close reason of a failed EDHOC step (the wire code is the Responder's)."""
    if isinstance(error, PeerReportedError):
        return CloseReason.PEER_ERROR
    if isinstance(error, CryptoError):
        return CloseReason.HANDSHAKE_FAILED
    if isinstance(error, EncodingError):
        return CloseReason.MALFORMED
    if isinstance(error, EdhocError) and error.wire_code == 2:
        return CloseReason.UNSUPPORTED
    return CloseReason.PROTOCOL


def meter_id_of(id_cred: IdCred) -> str | None:
    """The meter id that ID_CRED_I names (its kid, in ASCII), if it is a valid one."""
    kid = id_cred.kid if id_cred.embedded is None else id_cred.embedded.kid
    if kid is None or not kid.isascii():
        return None
    meter_id = kid.decode("ascii")
    return meter_id if METER_ID_PATTERN.fullmatch(meter_id) else None


class HeadendSession:
    """The head-end's side of one connection (docs/protocol.md section 5)."""

    __slots__ = (
        "_buffered",
        "_decoder",
        "_events",
        "_failures",
        "_id_cred",
        "_identities",
        "_layer",
        "_limits",
        "_meter_id",
        "_responder",
        "_state",
    )

    def __init__(
        self,
        config: ResponderConfig,
        identities: IdentityLookup,
        *,
        rng: Rng = os.urandom,
        limits: SessionLimits | None = None,
    ) -> None:
        self._limits = limits or SessionLimits()
        self._decoder = FrameDecoder(self._limits.max_frame_body)
        self._responder: Responder | None = Responder(config, rng)
        self._identities = identities
        self._state = SessionState.AWAIT_MESSAGE_1
        self._layer: RecordLayer | None = None
        self._meter_id: str | None = None
        self._id_cred: IdCred | None = None
        self._buffered: list[Frame] = []
        self._events: list[SessionEvent] = []
        self._failures = 0

    @property
    def state(self) -> SessionState:
        """The current state."""
        return self._state

    @property
    def meter_id(self) -> str | None:
        """The authenticated meter (None before the handshake completes)."""
        return self._meter_id if self._state is SessionState.OPEN else None

    @property
    def is_open(self) -> bool:
        """True once the meter is authenticated and until the session closes."""
        return self._state is SessionState.OPEN

    # --- input ----------------------------------------------------------------------------

    def receive(self, data: bytes) -> list[SessionEvent]:
        """Feed bytes from the connection; return what happened, in order."""
        if self._state is SessionState.CLOSED:
            return []
        self._events = []
        try:
            frames = self._decoder.feed(data)
        except FramingError as exc:
            self._close_with(_Failure(CloseReason.FRAMING, str(exc)))
            return self._events
        self._run(frames)
        return self._events

    def _run(self, frames: list[Frame]) -> None:
        for frame in frames:
            if self._state is SessionState.CLOSED:
                return
            try:
                self._dispatch(frame)
            except _Failure as failure:
                self._close_with(failure)

    def _dispatch(self, frame: Frame) -> None:
        entry = _TABLE.get((self._state, frame.kind))
        if entry is None:
            kind = frame.kind.name
            self._protocol_error(f"unexpected {kind} frame in state {self._state.name}")
        handler, next_state = entry
        handler(self, frame)
        self._state = next_state

    # --- the handshake --------------------------------------------------------------------

    def _edhoc(self, step: Callable[[Responder], _T]) -> _T:
        """Run one EDHOC step; a failure ends the session with the Responder's error."""
        responder = self._need_responder()
        try:
            return step(responder)
        except MeterSealError as exc:
            reply = responder.error_message
            framed = b"" if reply is None else encode_frame(FrameKind.EDHOC, reply)
            raise _Failure(_edhoc_reason(exc), f"EDHOC: {exc}", framed) from exc

    def _need_responder(self) -> Responder:
        if self._responder is None:
            raise SessionStateError("the handshake is over")
        return self._responder

    def _on_message_1(self, frame: Frame) -> None:
        first = _only(self._edhoc(lambda r: r.receive(frame.body)), Message1Received)
        identity = self._identities(first.suite.value, first.method)
        if identity is None:
            detail = f"no identity for suite {first.suite.value}, method {first.method.name}"
            self._abort(CloseReason.UNSUPPORTED, detail, "method not offered")
        c_r = C_R_ALTERNATE if first.c_i == C_R else C_R
        self._reply(FrameKind.EDHOC, self._edhoc(lambda r: r.send_message_2(identity, c_r)))

    def _on_message_3(self, frame: Frame) -> None:
        needed = _only(self._edhoc(lambda r: r.receive(frame.body)), CredentialNeeded)
        meter_id = meter_id_of(needed.id_cred)
        if meter_id is None:
            self._unknown(f"ID_CRED_I names no valid meter id: {needed.id_cred.encoded.hex()}")
        self._meter_id, self._id_cred = meter_id, needed.id_cred
        self._events.append(CredentialRequested(meter_id, needed.id_cred))

    def _buffer(self, frame: Frame) -> None:
        if len(self._buffered) >= self._limits.max_buffered_frames:
            self._protocol_error("too many records before the handshake completed")
        self._buffered.append(frame)

    def provide_credential(self, credential: Credential) -> list[SessionEvent]:
        """Answer :class:`CredentialRequested` with the registered credential.

        message_3 is verified against it; on success message_4 (if configured) goes out,
        the record layer is keyed, :class:`SessionEstablished` is reported and records
        that arrived meanwhile are processed.
        """
        self._events = []
        try:
            self._establish(credential)
        except _Failure as failure:
            self._close_with(failure)
            return self._events
        self._run(self._take_buffered())
        return self._events

    def _establish(self, credential: Credential) -> None:
        self._expect_state(SessionState.AWAIT_CREDENTIAL)
        if self._id_cred is None or not self._id_cred.matches(credential):
            self._unknown(f"meter {self._meter_id}: registered credential does not match")
        done = _only(self._edhoc(lambda r: r.provide_credential(credential)), HandshakeCompleted)
        responder = self._need_responder()
        self._layer = self._key_records(done, responder)
        if responder.state is ResponderState.VERIFIED_MESSAGE_3:
            self._reply(FrameKind.EDHOC, self._edhoc(lambda r: r.send_message_4()))
        self._responder = self._id_cred = None
        self._state = SessionState.OPEN
        meter_id = str(self._meter_id)
        self._events.append(SessionEstablished(meter_id, done.suite.value, done.method))

    def _key_records(self, done: HandshakeCompleted, responder: Responder) -> RecordLayer:
        """The record layer from the exporter (section 5); a C_I it cannot use ends it."""
        try:
            return RecordLayer.for_responder(done.suite, responder.exporter, done.c_i, done.c_r)
        except RecordError as exc:
            self._abort(CloseReason.PROTOCOL, f"cannot key the records: {exc}", "protocol error")

    def _take_buffered(self) -> list[Frame]:
        frames, self._buffered = self._buffered, []
        return frames

    def unknown_meter(self, detail: str = "") -> list[SessionEvent]:
        """Answer :class:`CredentialRequested`: no such meter (EDHOC ERR_CODE 3)."""
        return self._refuse(lambda: self._unknown(detail or f"meter {self._meter_id} unknown"))

    def inactive_meter(self, detail: str = "") -> list[SessionEvent]:
        """Answer :class:`CredentialRequested`: revoked or inactive (ERR_CODE 1, no detail)."""
        reason = detail or f"meter {self._meter_id} is not active"
        return self._refuse(lambda: self._abort(CloseReason.INACTIVE_METER, reason, ""))

    def _refuse(self, refusal: Callable[[], None]) -> list[SessionEvent]:
        self._events = []
        try:
            self._expect_state(SessionState.AWAIT_CREDENTIAL)
            refusal()
        except _Failure as failure:
            self._close_with(failure)
        return self._events

    def _unknown(self, detail: str) -> NoReturn:
        reply = self._need_responder().unknown_credential()
        raise _Failure(CloseReason.UNKNOWN_METER, detail, encode_frame(FrameKind.EDHOC, reply))

    def _abort(self, reason: CloseReason, detail: str, err_info: str) -> NoReturn:
        reply = self._need_responder().abort(err_info)
        raise _Failure(reason, detail, encode_frame(FrameKind.EDHOC, reply))

    # --- records --------------------------------------------------------------------------

    def _on_record(self, frame: Frame) -> None:
        try:
            record = self._need_layer().open(frame.body)
        except RecordError as exc:
            self._record_failed(exc)
            return
        if record.type is RecordType.APPLICATION_DATA:
            self._on_app_data(record.payload)
        elif record.type is RecordType.CLOSE:
            raise _Failure(CloseReason.PEER_CLOSED, record.payload.hex(), self._close_record(b""))

    def _record_failed(self, error: RecordError) -> None:
        self._events.append(RecordRejected(str(error)))
        self._failures += 1
        if self._failures > self._limits.max_record_failures:
            detail = f"{self._failures} records failed to authenticate, the last: {error}"
            raise _Failure(CloseReason.RECORD_FAILURES, detail, self._close_record(b"records"))

    def _on_app_data(self, payload: bytes) -> None:
        try:
            message = decode_app_message(payload)
        except EncodingError as exc:
            raise _Failure(
                CloseReason.MALFORMED, str(exc), self._close_record(b"malformed")
            ) from exc
        handler = _APP_HANDLERS.get(type(message))
        if handler is None:
            self._protocol_error(f"a meter does not send {type(message).__name__}")
        handler(self, message)

    def _on_batch(self, message: AppMessage) -> None:
        assert isinstance(message, SignedBatch)  # noqa: S101 - dispatched by type
        self._events.append(BatchReceived(str(self._meter_id), message.data))

    def _on_command_ack(self, message: AppMessage) -> None:
        assert isinstance(message, CommandAck)  # noqa: S101 - dispatched by type
        self._events.append(CommandAckReceived(str(self._meter_id), message))

    def _on_ping(self, message: AppMessage) -> None:
        assert isinstance(message, Ping)  # noqa: S101 - dispatched by type
        self._events.append(Reply(self._seal(Pong(message.token))))

    def _on_pong(self, message: AppMessage) -> None:
        assert isinstance(message, Pong)  # noqa: S101 - dispatched by type
        self._events.append(PongReceived(message.token))

    # --- output ---------------------------------------------------------------------------

    def send_batch_ack(self, ack: BatchAck) -> bytes:
        """The framed record carrying a batch ack."""
        return self._seal(ack)

    def send_command(self, signed: bytes) -> bytes:
        """The framed record carrying a signed command (COSE_Sign1 bytes)."""
        return self._seal(SignedCommand(signed))

    def send_ping(self, token: int) -> bytes:
        """The framed record carrying a ping."""
        return self._seal(Ping(token))

    def close(self, reason: CloseReason, detail: str = "") -> bytes:
        """End the session from this side; return the CLOSE record to send, if any.

        Before the handshake completes nothing is sent (timeouts close silently).
        """
        del detail
        data = self._close_record(reason.value.encode()) if self.is_open else b""
        self._state = SessionState.CLOSED
        self._responder = None
        return data

    def _seal(self, message: AppMessage) -> bytes:
        if self._state is not SessionState.OPEN:
            raise SessionStateError(f"cannot send in state {self._state.name}")
        record = self._need_layer().seal(encode_app_message(message))
        return encode_frame(FrameKind.RECORD, record)

    def _close_record(self, reason: bytes) -> bytes:
        layer = self._layer
        if layer is None or layer.status.send_closed:
            return b""
        return encode_frame(FrameKind.RECORD, layer.close(reason))

    def _reply(self, kind: FrameKind, data: bytes) -> None:
        self._events.append(Reply(encode_frame(kind, data)))

    def _need_layer(self) -> RecordLayer:
        if self._layer is None:
            raise SessionStateError("the record layer is not keyed")
        return self._layer

    # --- failures -------------------------------------------------------------------------

    def _expect_state(self, state: SessionState) -> None:
        if self._state is not state:
            raise SessionStateError(f"expected state {state.name}, in {self._state.name}")

    def _protocol_error(self, detail: str) -> NoReturn:
        if self._state is SessionState.OPEN:
            raise _Failure(CloseReason.PROTOCOL, detail, self._close_record(b"protocol"))
        self._abort(CloseReason.PROTOCOL, detail, "protocol error")

    def _close_with(self, failure: _Failure) -> None:
        if failure.reply:
            self._events.append(Reply(failure.reply))
        self._events.append(SessionClosed(failure.reason, failure.detail))
        self._state = SessionState.CLOSED
        self._responder = None
        self._buffered = []


def _only(events: list[EdhocEvent], kind: type[_E]) -> _E:
    """The one EDHOC event a step must report, or a protocol error."""
    if len(events) != 1 or not isinstance(events[0], kind):
        raise _Failure(CloseReason.PROTOCOL, f"expected one {kind.__name__}, got {events!r}")
    return events[0]


_S = SessionState
_Handler = Callable[[HeadendSession, Frame], None]

_TABLE: dict[tuple[SessionState, FrameKind], tuple[_Handler, SessionState]] = {
    (_S.AWAIT_MESSAGE_1, FrameKind.EDHOC): (HeadendSession._on_message_1, _S.AWAIT_MESSAGE_3),
    (_S.AWAIT_MESSAGE_3, FrameKind.EDHOC): (HeadendSession._on_message_3, _S.AWAIT_CREDENTIAL),
    (_S.AWAIT_CREDENTIAL, FrameKind.RECORD): (HeadendSession._buffer, _S.AWAIT_CREDENTIAL),
    (_S.OPEN, FrameKind.RECORD): (HeadendSession._on_record, _S.OPEN),
}
"""(state, frame kind) -> (handler, next state); a missing pair is a protocol error."""

_APP_HANDLERS: dict[type[AppMessage], Callable[[HeadendSession, AppMessage], None]] = {
    SignedBatch: HeadendSession._on_batch,
    CommandAck: HeadendSession._on_command_ack,
    Ping: HeadendSession._on_ping,
    Pong: HeadendSession._on_pong,
}
"""What a meter may send inside records; anything else is a protocol error."""
