"""A minimal head-end for testing the meter side, sans-IO: NOT ``meterseal.headend``.

The meter's tests, the fleet simulator's tests and the attackers' self-checks need a peer
that speaks docs/protocol.md section 5. This one is built from the same protocol core the
real head-end uses (``edhoc.Responder``, ``RecordLayer.for_responder``, ``messages``) and
keeps everything in memory: a registry lookup, a dict of stored batches keyed by
``(meter, batch sequence)``, queues of signed commands. It has no ledger, no crypto
machine, no durable store and no performance ambitions.

:class:`LoopbackHeadend` is shared by all connections (the "server"); each TCP connection
gets a :class:`LoopbackConnection` (bytes in, bytes out, ``closed`` when the transport
should be closed). :mod:`meterseal.meter.testing_server` runs it over asyncio TCP.
Test knobs: :meth:`LoopbackHeadend.drop_connections` closes the next connections
abruptly after storing a number of batches and before acknowledging the last one;
``unavailable`` answers the next new batches "try again later"; ``on_store`` is called
after every newly stored batch.
"""

from __future__ import annotations

import enum
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Final, Protocol

from meterseal.crypto.interfaces import Rng
from meterseal.crypto.suites import get_suite
from meterseal.edhoc.config import ResponderConfig
from meterseal.edhoc.credentials import Credential
from meterseal.edhoc.events import CredentialNeeded, Event, HandshakeCompleted, Message1Received
from meterseal.edhoc.machine import Responder
from meterseal.edhoc.messages import connection_id
from meterseal.errors import (
    EdhocError,
    EncodingError,
    MeterSealError,
    RecordError,
    SignatureError,
)
from meterseal.framing import FrameDecoder, FrameKind, encode_frame
from meterseal.messages.acks import AckStatus, BatchAck, BatchRejectReason, CommandAck
from meterseal.messages.commands import Command, sign_command
from meterseal.messages.envelope import (
    AppMessage,
    Ping,
    Pong,
    SignedBatch,
    SignedCommand,
    decode_app_message,
    encode_app_message,
)
from meterseal.messages.errors import IdentityMismatchError
from meterseal.messages.sealing import open_batch, peek_batch_header
from meterseal.meter.provisioning import HeadendIdentities
from meterseal.records.layer import RecordLayer
from meterseal.records.wire import RecordType
from meterseal.store.rows import STATE_REGISTERED, MeterRecord

C_R: Final = connection_id(-8)
C_R_ALTERNATIVE: Final = connection_id(-9)
MAX_FRAME_BODY: Final = 16 * 1024


class Registry(Protocol):
    """Registered meters by id; :class:`~meterseal.store.interface.Store` is one."""

    def get_meter(self, meter_id: str) -> MeterRecord | None:
        """The registration, or None."""
        ...


class DictRegistry:
    """Registrations in a dict (also a :class:`~meterseal.meter.provisioning.MeterRegistry`)."""

    def __init__(self) -> None:
        self.meters: dict[str, MeterRecord] = {}

    def add_meter(self, meter: MeterRecord) -> None:
        """Register (or re-register) a meter."""
        self.meters[meter.meter_id] = meter

    def get_meter(self, meter_id: str) -> MeterRecord | None:
        """The registration, or None."""
        return self.meters.get(meter_id)


@dataclass
class LoopbackLog:
    """What the loopback head-end saw, for the tests to assert on."""

    stored: dict[tuple[str, int], bytes] = field(default_factory=dict, repr=False)
    acks: list[BatchAck] = field(default_factory=list)
    handshakes: list[str] = field(default_factory=list)
    failures: list[tuple[str, str]] = field(default_factory=list)
    command_acks: list[CommandAck] = field(default_factory=list)
    record_failures: int = 0
    connections: int = 0

    def statuses(self, meter_id: str) -> list[tuple[int, AckStatus]]:
        """(batch sequence, status) of every ack sent to ``meter_id``, in order."""
        return [(a.batch_seq, a.status) for a in self.acks if a.meter_id == meter_id]


class LoopbackHeadend:
    """The shared side of the loopback head-end: identities, registry, storage, queues."""

    def __init__(
        self,
        identities: HeadendIdentities,
        registry: Registry,
        *,
        rng: Rng,
        send_message_4: bool = True,
        max_record_failures: int = 3,
    ) -> None:
        suites = tuple(get_suite(value) for value, _ in identities.identities)
        self.identities = identities
        self.registry = registry
        self.rng = rng
        self.config = ResponderConfig(tuple(dict.fromkeys(suites)), send_message_4=send_message_4)
        self.max_record_failures = max_record_failures
        self.log = LoopbackLog()
        self.commands: dict[str, deque[bytes]] = {}
        self._drops: deque[int] = deque()
        self.unavailable = 0
        """Test knob: answer this many next valid new batches REJECTED UNAVAILABLE."""
        self.on_store: Callable[[str, int], None] | None = None
        """Test hook: called after each newly stored batch, before its ack is sent."""

    def connection(self) -> LoopbackConnection:
        """A new connection's sans-IO state."""
        self.log.connections += 1
        drop_after = self._drops.popleft() if self._drops else None
        return LoopbackConnection(self, drop_after)

    def drop_connections(self, *after_batches: int) -> None:
        """Make the next connections drop after storing this many batches each."""
        self._drops.extend(after_batches)

    def queue_command(self, meter_id: str, signed: bytes) -> None:
        """Queue a signed command; it goes out right after the meter's next handshake."""
        self.commands.setdefault(meter_id, deque()).append(signed)

    def sign(self, command: Command) -> bytes:
        """Sign ``command`` with the command key of the target meter's suite."""
        record = self.registry.get_meter(command.target)
        if record is None:
            raise ValueError(f"meter {command.target!r} is not registered")
        suite = get_suite(record.suite)
        return sign_command(command, self.identities.command_key(suite), suite.signature)


class _State(enum.Enum):
    WAIT_MESSAGE_1 = enum.auto()
    WAIT_MESSAGE_3 = enum.auto()
    ESTABLISHED = enum.auto()
    CLOSED = enum.auto()


class LoopbackConnection:
    """One connection: handshake as responder, then ingest batches and send commands."""

    def __init__(self, headend: LoopbackHeadend, drop_after: int | None) -> None:
        self.headend = headend
        self.meter: MeterRecord | None = None
        self._responder = Responder(headend.config, headend.rng)
        self._decoder = FrameDecoder(MAX_FRAME_BODY)
        self._state = _State.WAIT_MESSAGE_1
        self._records: RecordLayer | None = None
        self._out = bytearray()
        self._failures = 0
        self._drop_after = drop_after
        self._stored_here = 0
        self._suite: int | None = None

    @property
    def closed(self) -> bool:
        """True once the transport should be closed."""
        return self._state is _State.CLOSED

    @property
    def established(self) -> bool:
        """True once the handshake completed (and until the connection closes)."""
        return self._state is _State.ESTABLISHED

    def receive(self, data: bytes) -> bytes:
        """Feed bytes from the meter; return the bytes to send back."""
        try:
            for frame in self._decoder.feed(data):
                if self.closed:
                    break
                self._on_frame(frame.kind, frame.body)
        except MeterSealError as exc:
            self._fail(type(exc).__name__, str(exc))
        out = bytes(self._out)
        self._out.clear()
        return out

    def _on_frame(self, kind: FrameKind, body: bytes) -> None:
        if kind is FrameKind.RECORD and self._state is _State.ESTABLISHED:
            self._on_record(body)
        elif kind is FrameKind.EDHOC and self._state is not _State.ESTABLISHED:
            self._on_edhoc(body)
        else:
            raise EdhocError(f"{kind.name} frame in state {self._state.name}")

    def _fail(self, reason: str, detail: str) -> None:
        """Close; during the handshake, send the responder's error message if it has one."""
        if self._state is not _State.ESTABLISHED:
            error = self._responder.error_message
            if error is not None:
                self._out += encode_frame(FrameKind.EDHOC, error)
        kid = self.meter.meter_id if self.meter is not None else "?"
        self.headend.log.failures.append((kid, f"{reason}: {detail}"))
        self._state = _State.CLOSED

    def _send_edhoc_error(self, error: bytes, reason: str) -> None:
        self._out += encode_frame(FrameKind.EDHOC, error)
        kid = "?" if self.meter is None else self.meter.meter_id
        self.headend.log.failures.append((kid, reason))
        self._state = _State.CLOSED

    # --- handshake -------------------------------------------------------------------

    def _on_edhoc(self, body: bytes) -> None:
        for event in self._responder.receive(body):
            self._on_event(event)

    def _on_event(self, event: Event) -> None:
        if isinstance(event, Message1Received):
            self._send_message_2(event)
        elif isinstance(event, CredentialNeeded):
            self._check_meter(event)
        elif isinstance(event, HandshakeCompleted):
            self._complete(event)

    def _send_message_2(self, event: Message1Received) -> None:
        identity = self.headend.identities.for_handshake(event.suite, event.method)
        c_r = C_R_ALTERNATIVE if event.c_i == C_R else C_R
        self._suite = event.suite.value
        message_2 = self._responder.send_message_2(identity, c_r)
        self._out += encode_frame(FrameKind.EDHOC, message_2)
        self._state = _State.WAIT_MESSAGE_3

    def _check_meter(self, needed: CredentialNeeded) -> None:
        """Step 4: the registry by kid; unknown -> ERR_CODE 3, inactive -> ERR_CODE 1."""
        kid = needed.id_cred.kid
        record = self._registered(kid)
        if record is None:
            self._send_edhoc_error(self._responder.unknown_credential(), f"unknown kid {kid!r}")
            return
        self.meter = record
        if record.state != STATE_REGISTERED or record.suite != self._suite:
            self._send_edhoc_error(self._responder.abort(""), f"meter {record.state}, suite")
            return
        events = self._responder.provide_credential(Credential.from_ccs(record.identity_credential))
        if self.headend.config.send_message_4:
            self._out += encode_frame(FrameKind.EDHOC, self._responder.send_message_4())
        for event in events:
            self._on_event(event)

    def _registered(self, kid: bytes | None) -> MeterRecord | None:
        try:
            meter_id = kid.decode("ascii") if kid is not None else ""
        except UnicodeDecodeError:
            return None
        return self.headend.registry.get_meter(meter_id) if meter_id else None

    def _complete(self, result: HandshakeCompleted) -> None:
        self._records = RecordLayer.for_responder(
            result.suite, self._responder.exporter, result.c_i, result.c_r
        )
        self._state = _State.ESTABLISHED
        assert self.meter is not None  # noqa: S101 - set by _check_meter before completion
        self.headend.log.handshakes.append(self.meter.meter_id)
        queued = self.headend.commands.pop(self.meter.meter_id, deque())
        for signed in queued:
            self._send(SignedCommand(signed))

    # --- records ---------------------------------------------------------------------

    def _send(self, message: AppMessage) -> None:
        assert self._records is not None  # noqa: S101 - only called once established
        sealed = self._records.seal(encode_app_message(message))
        self._out += encode_frame(FrameKind.RECORD, sealed)

    def _on_record(self, body: bytes) -> None:
        assert self._records is not None  # noqa: S101 - only called once established
        try:
            record = self._records.open(body)
        except RecordError:
            self.headend.log.record_failures += 1
            self._failures += 1
            if self._failures > self.headend.max_record_failures:
                raise
            return
        if record.type is RecordType.CLOSE:
            self._state = _State.CLOSED
        elif record.type is RecordType.APPLICATION_DATA:
            self._on_message(decode_app_message(record.payload))

    def _on_message(self, message: AppMessage) -> None:
        handler = _MESSAGE_HANDLERS.get(type(message))
        if handler is None:
            raise EncodingError(f"a meter may not send {type(message).__name__}")
        handler(self, message)

    def _on_ping(self, message: AppMessage) -> None:
        assert isinstance(message, Ping)  # noqa: S101 - dispatched by type
        self._send(Pong(message.token))

    def _on_pong(self, message: AppMessage) -> None:
        del message

    def _on_command_ack(self, message: AppMessage) -> None:
        assert isinstance(message, CommandAck)  # noqa: S101 - dispatched by type
        self.headend.log.command_acks.append(message)

    def _on_batch(self, message: AppMessage) -> None:
        assert isinstance(message, SignedBatch)  # noqa: S101 - dispatched by type
        assert self.meter is not None  # noqa: S101 - established sessions know their meter
        ack = self._ingest(self.meter, message.data)
        if self.closed:
            return
        self.headend.log.acks.append(ack)
        self._send(ack)

    def _ingest(self, meter: MeterRecord, signed: bytes) -> BatchAck:
        """Verify, deduplicate on (meter, sequence), store, then answer."""
        try:
            claimed, seq = peek_batch_header(signed)
        except EncodingError:
            return _rejected(meter.meter_id, 0, BatchRejectReason.MALFORMED)
        if claimed != meter.meter_id:
            return _rejected(meter.meter_id, seq, BatchRejectReason.WRONG_METER)
        reason = _verify(signed, meter)
        if reason is not BatchRejectReason.NONE:
            return _rejected(meter.meter_id, seq, reason)
        return self._store(meter.meter_id, seq, signed)

    def _store(self, meter_id: str, seq: int, signed: bytes) -> BatchAck:
        stored = self.headend.log.stored
        previous = stored.get((meter_id, seq))
        if previous is not None:
            if previous != signed:
                return _rejected(meter_id, seq, BatchRejectReason.MALFORMED)
            return BatchAck(meter_id, seq, AckStatus.DUPLICATE)
        if self.headend.unavailable > 0:
            self.headend.unavailable -= 1
            return _rejected(meter_id, seq, BatchRejectReason.UNAVAILABLE)
        stored[(meter_id, seq)] = signed
        if self.headend.on_store is not None:
            self.headend.on_store(meter_id, seq)
        self._stored_here += 1
        if self._drop_after is not None and self._stored_here >= self._drop_after:
            self.headend.log.failures.append((meter_id, "dropped by the test"))
            self._state = _State.CLOSED
        return BatchAck(meter_id, seq, AckStatus.ACCEPTED)


def _rejected(meter_id: str, seq: int, reason: BatchRejectReason) -> BatchAck:
    return BatchAck(meter_id, seq, AckStatus.REJECTED, reason)


def _verify(signed: bytes, meter: MeterRecord) -> BatchRejectReason:
    try:
        open_batch(signed, get_suite(meter.suite).signature, meter.public_key)
    except IdentityMismatchError:
        return BatchRejectReason.WRONG_METER
    except SignatureError:
        return BatchRejectReason.BAD_SIGNATURE
    except EncodingError:
        return BatchRejectReason.MALFORMED
    return BatchRejectReason.NONE


_MESSAGE_HANDLERS: Final[dict[type, Callable[[LoopbackConnection, AppMessage], None]]] = {
    SignedBatch: LoopbackConnection._on_batch,
    CommandAck: LoopbackConnection._on_command_ack,
    Ping: LoopbackConnection._on_ping,
    Pong: LoopbackConnection._on_pong,
}
