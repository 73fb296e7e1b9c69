"""What a :class:`~meterseal.headend.session.HeadendSession` reports to its transport.

``receive()`` and the credential answers return lists of these, in order. A
:class:`Reply` carries bytes (already framed) that must be written before anything
that follows it; :class:`SessionClosed` is always last, after the reply (an EDHOC error
message or a CLOSE record) that tells the meter why, if one is due.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from meterseal.edhoc import IdCred, Method
from meterseal.messages import CommandAck


class CloseReason(enum.Enum):
    """Why a session ended; the value names the counter and the log entry."""

    FRAMING = "framing"  # malformed frame header or a body over the limit
    PROTOCOL = "protocol"  # a frame or message not allowed in the session's state
    MALFORMED = "malformed"  # an EDHOC or application message that does not parse
    HANDSHAKE_FAILED = "handshake_failed"  # a MAC, signature, AEAD or point check failed
    UNSUPPORTED = "unsupported"  # suite or method the head-end does not offer
    UNKNOWN_METER = "unknown_meter"  # ERR_CODE 3: no such registered credential
    INACTIVE_METER = "inactive_meter"  # revoked or otherwise not active: ERR_CODE 1
    PEER_ERROR = "peer_error"  # the meter sent an EDHOC error message
    PEER_CLOSED = "peer_closed"  # the meter sent a CLOSE record
    RECORD_FAILURES = "record_failures"  # too many records failed to authenticate
    HANDSHAKE_TIMEOUT = "handshake_timeout"
    IDLE_TIMEOUT = "idle_timeout"
    REPLACED = "replaced"  # the same meter connected again
    STORE_UNAVAILABLE = "store_unavailable"  # the registry could not be read
    SHUTDOWN = "shutdown"
    CONNECTION_LOST = "connection_lost"


@dataclass(frozen=True, slots=True)
class Reply:
    """Framed bytes to write to the meter now."""

    data: bytes


@dataclass(frozen=True, slots=True)
class CredentialRequested:
    """message_3 named the meter ``meter_id``: look it up, then answer the session with
    ``provide_credential``, ``unknown_meter`` or ``inactive_meter``.

    ``meter_id`` is only a claim until ``provide_credential`` has verified message_3.
    """

    meter_id: str
    id_cred: IdCred


@dataclass(frozen=True, slots=True)
class SessionEstablished:
    """The meter is authenticated and the record layer is keyed."""

    meter_id: str
    suite: int
    method: Method


@dataclass(frozen=True, slots=True)
class BatchReceived:
    """The authenticated meter sent a signed batch (not yet verified: ``signed`` as is)."""

    meter_id: str
    signed: bytes


@dataclass(frozen=True, slots=True)
class CommandAckReceived:
    """The meter answered a command."""

    meter_id: str
    ack: CommandAck


@dataclass(frozen=True, slots=True)
class PongReceived:
    """The meter answered a ping."""

    token: int


@dataclass(frozen=True, slots=True)
class RecordRejected:
    """A record failed to authenticate or was a replay: dropped, session state unchanged."""

    detail: str


@dataclass(frozen=True, slots=True)
class SessionClosed:
    """The session is over: the transport closes after writing any earlier Reply."""

    reason: CloseReason
    detail: str = ""


SessionEvent = (
    Reply
    | CredentialRequested
    | SessionEstablished
    | BatchReceived
    | CommandAckReceived
    | PongReceived
    | RecordRejected
    | SessionClosed
)
"""Everything a session reports."""
