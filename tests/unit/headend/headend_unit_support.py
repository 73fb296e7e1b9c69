"""A sans-IO meter (EDHOC Initiator and record layer) driving a HeadendSession in memory."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field

from meterseal.crypto.suites import SUITE_2, CipherSuite
from meterseal.edhoc import (
    CredentialNeeded,
    Initiator,
    InitiatorConfig,
    LocalIdentity,
    Method,
    ResponderConfig,
    connection_id,
)
from meterseal.framing import Frame, FrameDecoder, FrameKind, encode_frame
from meterseal.headend import (
    CredentialRequested,
    HeadendSession,
    Reply,
    SessionEvent,
    SessionLimits,
)
from meterseal.headend.testing import (
    T0,
    SimMeter,
    electricity_batch,
    headend_identities,
    make_meter,
    volume_batch,
)
from meterseal.messages import AppMessage, decode_app_message, encode_app_message
from meterseal.records import Record, RecordLayer, RecordType

__all__ = [
    "T0",
    "Drive",
    "SimMeter",
    "electricity_batch",
    "frames",
    "headend_identities",
    "make_meter",
    "new_session",
    "replies",
    "volume_batch",
]


def frames(data: bytes) -> list[Frame]:
    """The frames in some bytes the session produced."""
    return FrameDecoder().feed(data)


def replies(events: list[SessionEvent]) -> list[Frame]:
    """Every frame the session asked to send, in order."""
    return [frame for event in events if isinstance(event, Reply) for frame in frames(event.data)]


@dataclass
class Drive:
    """A meter talking to a session in memory."""

    meter: SimMeter
    session: HeadendSession
    c_i: bytes = connection_id(-24)
    message_4: bool = True
    initiator: Initiator | None = None
    layer: RecordLayer | None = None
    events: list[SessionEvent] = field(default_factory=list)

    def start(self) -> list[SessionEvent]:
        """message_1 in; returns the session's events (message_2 in a Reply)."""
        config = InitiatorConfig(
            self.meter.identity, self.meter.method, (self.meter.suite,), self.message_4
        )
        self.initiator = Initiator(config, os.urandom)
        return self.session.receive(encode_frame(FrameKind.EDHOC, self.initiator.start(self.c_i)))

    def message_3(self) -> list[SessionEvent]:
        """Start, check message_2, send message_3; the session asks for the credential."""
        message_2 = replies(self.start())
        initiator = self.initiator
        assert initiator is not None
        [needed] = initiator.receive(message_2[0].body)
        assert isinstance(needed, CredentialNeeded)
        he = headend_identities(self.meter.suite)[(self.meter.suite.value, self.meter.method)]
        initiator.provide_credential(he.credential)
        return self.session.receive(encode_frame(FrameKind.EDHOC, initiator.send_message_3()))

    def establish(self) -> list[SessionEvent]:
        """A whole handshake; keys the meter's record layer from message_4."""
        requested = self.message_3()
        assert isinstance(requested[-1], CredentialRequested)
        events = self.session.provide_credential(self.meter.identity.credential)
        self.finish(events)
        return events

    def finish(self, events: list[SessionEvent]) -> None:
        """Take message_4 from ``events`` and key the record layer."""
        initiator = self.initiator
        assert initiator is not None
        initiator.receive(replies(events)[0].body)
        result = initiator.result
        assert result is not None
        self.layer = RecordLayer.for_initiator(
            result.suite, initiator.exporter, result.c_i, result.c_r
        )

    def record(self, message: AppMessage) -> bytes:
        """A framed record carrying ``message``."""
        assert self.layer is not None
        return encode_frame(FrameKind.RECORD, self.layer.seal(encode_app_message(message)))

    def send(self, message: AppMessage) -> list[SessionEvent]:
        """Send one application message; return the session's events."""
        return self.session.receive(self.record(message))

    def open(self, events: list[SessionEvent]) -> list[Record]:
        """The records the session sent, opened by the meter."""
        assert self.layer is not None
        return [self.layer.open(frame.body) for frame in replies(events)]

    def messages(self, events: list[SessionEvent]) -> list[AppMessage]:
        """The application messages the session sent."""
        opened = self.open(events)
        return [
            decode_app_message(r.payload) for r in opened if r.type is RecordType.APPLICATION_DATA
        ]


def new_session(
    *,
    suite: CipherSuite = SUITE_2,
    message_4: bool = True,
    limits: SessionLimits | None = None,
    identities: Callable[[int, Method], LocalIdentity | None] | None = None,
) -> HeadendSession:
    """A head-end session offering ``suite`` with every method."""
    table = headend_identities(suite)
    config = ResponderConfig(suites=(suite,), send_message_4=message_4)
    lookup = identities or (lambda value, method: table.get((value, method)))
    return HeadendSession(config, lookup, limits=limits)
