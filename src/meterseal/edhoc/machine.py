"""The EDHOC state machines: one table per role, and the sans-IO connection objects.

Each table maps ``(state, input kind) -> (step, next state)``. A pair missing from the
table is a protocol error: the session moves to FAILED, an EDHOC error message is queued
for the peer (never in reply to an error message), and an
:class:`~meterseal.errors.EdhocError` is raised. A step that raises does the same, with
the step's own error; a failed MAC, signature or decryption is reported to the peer as
ERR_CODE 1 without detail (RFC 9528 section 6.2), the cause stays in the exception.

Inputs come from the application's calls and from classifying the peer's bytes:
an int followed by one item is an error message (ERR_CODE 2 gets its own kind), bytes
equal to the last processed message are a duplicate (RFC 9528 appendix G), anything else
is the next message. Where two inputs lead to different states, the configuration picks
the kind (message_4 or not), so that the table alone says where each step goes.

No sockets, clocks or randomness: ``rng`` is a parameter; bytes go in and out.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Generic, NoReturn, TypeVar

from meterseal.crypto.interfaces import Rng
from meterseal.crypto.suites import CipherSuite
from meterseal.edhoc import initiator_steps as ini
from meterseal.edhoc import responder_steps as res
from meterseal.edhoc.authentication import LocalIdentity
from meterseal.edhoc.common_steps import (
    Received,
    abort,
    raise_peer_error,
    reject_credential,
    retransmit,
)
from meterseal.edhoc.config import InitiatorConfig, KeyLog, ResponderConfig
from meterseal.edhoc.context import HandshakeContext, InitiatorContext, ResponderContext, need
from meterseal.edhoc.credentials import Credential
from meterseal.edhoc.ead import EadItem
from meterseal.edhoc.encoding import split_sequence
from meterseal.edhoc.events import Event, HandshakeCompleted
from meterseal.edhoc.key_schedule import exporter, key_update, prk_exporter
from meterseal.edhoc.messages import ErrorCode, is_error_message
from meterseal.errors import (
    CryptoError,
    EdhocError,
    EncodingError,
    MeterSealError,
)


class _TableKey(enum.Enum):
    """An enum that hashes by identity, in C, rather than by name in Python (its members
    are singletons that compare by identity): the tables are looked up on every input."""

    __hash__ = object.__hash__


class Input(_TableKey):
    """Input kinds: application calls, and classes of bytes from the peer."""

    START = enum.auto()
    RETRY = enum.auto()
    MESSAGE = enum.auto()
    ERROR = enum.auto()
    WRONG_SUITE = enum.auto()
    DUPLICATE = enum.auto()
    CREDENTIAL = enum.auto()
    CREDENTIAL_THEN_MESSAGE_4 = enum.auto()
    UNKNOWN_CREDENTIAL = enum.auto()
    SEND_MESSAGE_2 = enum.auto()
    SEND_MESSAGE_3 = enum.auto()
    SEND_LAST_MESSAGE_3 = enum.auto()
    SEND_MESSAGE_4 = enum.auto()
    ABORT = enum.auto()


class InitiatorState(_TableKey):
    """Where an Initiator stands (RFC 9528 section 5)."""

    START = enum.auto()
    WAIT_MESSAGE_2 = enum.auto()
    SUITE_REJECTED = enum.auto()
    WAIT_CREDENTIAL_R = enum.auto()
    VERIFIED_MESSAGE_2 = enum.auto()
    WAIT_MESSAGE_4 = enum.auto()
    COMPLETED = enum.auto()
    FAILED = enum.auto()


class ResponderState(_TableKey):
    """Where a Responder stands (RFC 9528 section 5)."""

    START = enum.auto()
    RECEIVED_MESSAGE_1 = enum.auto()
    WAIT_MESSAGE_3 = enum.auto()
    WAIT_CREDENTIAL_I = enum.auto()
    VERIFIED_MESSAGE_3 = enum.auto()
    COMPLETED = enum.auto()
    FAILED = enum.auto()


S = TypeVar("S", InitiatorState, ResponderState)
C = TypeVar("C", bound=HandshakeContext)
Step = Callable[[C, Any], list[Event]]

_I = InitiatorState
_R = ResponderState

INITIATOR_TABLE: Mapping[tuple[InitiatorState, Input], tuple[Step[InitiatorContext], _I]] = {
    (_I.START, Input.START): (ini.send_message_1, _I.WAIT_MESSAGE_2),
    (_I.WAIT_MESSAGE_2, Input.MESSAGE): (ini.receive_message_2, _I.WAIT_CREDENTIAL_R),
    (_I.WAIT_MESSAGE_2, Input.WRONG_SUITE): (ini.receive_wrong_suite, _I.SUITE_REJECTED),
    (_I.WAIT_MESSAGE_2, Input.ERROR): (raise_peer_error, _I.FAILED),
    (_I.SUITE_REJECTED, Input.RETRY): (ini.retry, _I.WAIT_MESSAGE_2),
    (_I.WAIT_CREDENTIAL_R, Input.CREDENTIAL): (ini.verify_message_2, _I.VERIFIED_MESSAGE_2),
    (_I.WAIT_CREDENTIAL_R, Input.UNKNOWN_CREDENTIAL): (reject_credential, _I.FAILED),
    (_I.WAIT_CREDENTIAL_R, Input.DUPLICATE): (retransmit, _I.WAIT_CREDENTIAL_R),
    (_I.WAIT_CREDENTIAL_R, Input.ERROR): (raise_peer_error, _I.FAILED),
    (_I.VERIFIED_MESSAGE_2, Input.SEND_MESSAGE_3): (ini.send_message_3, _I.WAIT_MESSAGE_4),
    (_I.VERIFIED_MESSAGE_2, Input.SEND_LAST_MESSAGE_3): (ini.send_last_message_3, _I.COMPLETED),
    (_I.VERIFIED_MESSAGE_2, Input.DUPLICATE): (retransmit, _I.VERIFIED_MESSAGE_2),
    (_I.VERIFIED_MESSAGE_2, Input.ERROR): (raise_peer_error, _I.FAILED),
    (_I.WAIT_MESSAGE_4, Input.MESSAGE): (ini.receive_message_4, _I.COMPLETED),
    (_I.WAIT_MESSAGE_4, Input.DUPLICATE): (retransmit, _I.WAIT_MESSAGE_4),
    (_I.WAIT_MESSAGE_4, Input.ERROR): (raise_peer_error, _I.FAILED),
    (_I.COMPLETED, Input.DUPLICATE): (retransmit, _I.COMPLETED),
    (_I.COMPLETED, Input.ERROR): (raise_peer_error, _I.FAILED),
    **{(state, Input.ABORT): (abort, _I.FAILED) for state in _I if state is not _I.FAILED},
}
"""The Initiator: message_1 out, message_2 in, message_3 out, optional message_4 in."""

RESPONDER_TABLE: Mapping[tuple[ResponderState, Input], tuple[Step[ResponderContext], _R]] = {
    (_R.START, Input.MESSAGE): (res.receive_message_1, _R.RECEIVED_MESSAGE_1),
    (_R.RECEIVED_MESSAGE_1, Input.SEND_MESSAGE_2): (res.send_message_2, _R.WAIT_MESSAGE_3),
    (_R.RECEIVED_MESSAGE_1, Input.DUPLICATE): (retransmit, _R.RECEIVED_MESSAGE_1),
    (_R.WAIT_MESSAGE_3, Input.MESSAGE): (res.receive_message_3, _R.WAIT_CREDENTIAL_I),
    (_R.WAIT_MESSAGE_3, Input.DUPLICATE): (retransmit, _R.WAIT_MESSAGE_3),
    (_R.WAIT_MESSAGE_3, Input.ERROR): (raise_peer_error, _R.FAILED),
    (_R.WAIT_CREDENTIAL_I, Input.CREDENTIAL): (res.verify_message_3, _R.COMPLETED),
    (_R.WAIT_CREDENTIAL_I, Input.CREDENTIAL_THEN_MESSAGE_4): (
        res.verify_message_3_before_message_4,
        _R.VERIFIED_MESSAGE_3,
    ),
    (_R.WAIT_CREDENTIAL_I, Input.UNKNOWN_CREDENTIAL): (reject_credential, _R.FAILED),
    (_R.WAIT_CREDENTIAL_I, Input.DUPLICATE): (retransmit, _R.WAIT_CREDENTIAL_I),
    (_R.WAIT_CREDENTIAL_I, Input.ERROR): (raise_peer_error, _R.FAILED),
    (_R.VERIFIED_MESSAGE_3, Input.SEND_MESSAGE_4): (res.send_message_4, _R.COMPLETED),
    (_R.VERIFIED_MESSAGE_3, Input.DUPLICATE): (retransmit, _R.VERIFIED_MESSAGE_3),
    (_R.VERIFIED_MESSAGE_3, Input.ERROR): (raise_peer_error, _R.FAILED),
    (_R.COMPLETED, Input.DUPLICATE): (retransmit, _R.COMPLETED),
    (_R.COMPLETED, Input.ERROR): (raise_peer_error, _R.FAILED),
    **{(state, Input.ABORT): (abort, _R.FAILED) for state in _R if state is not _R.FAILED},
}
"""The Responder: message_1 in, message_2 out, message_3 in, optional message_4 out."""


@dataclass(frozen=True, slots=True)
class Role(Generic[S, C]):
    """A role's table, its initial and failed states, and where keys can be exported."""

    table: Mapping[tuple[S, Input], tuple[Step[C], S]]
    start: S
    failed: S
    keyed: frozenset[S]


INITIATOR = Role(INITIATOR_TABLE, _I.START, _I.FAILED, frozenset({_I.COMPLETED}))
RESPONDER = Role(
    RESPONDER_TABLE, _R.START, _R.FAILED, frozenset({_R.VERIFIED_MESSAGE_3, _R.COMPLETED})
)


def classify(context: HandshakeContext, data: bytes) -> tuple[Input, Received]:
    """Sort the peer's bytes into an input kind (see the module docstring)."""
    if data == context.last_received:
        return Input.DUPLICATE, Received(data, ())
    items = tuple(split_sequence(data))
    if not is_error_message(items):
        return Input.MESSAGE, Received(data, items)
    if items[0].value == ErrorCode.WRONG_SELECTED_SUITE:
        return Input.WRONG_SUITE, Received(data, items)
    return Input.ERROR, Received(data, items)


def _error_reply(error: MeterSealError, context: HandshakeContext) -> tuple[int, object]:
    """ERR_CODE and ERR_INFO for a local failure; cryptographic causes stay private."""
    wrong_suite = (
        isinstance(error, EdhocError) and error.wire_code == ErrorCode.WRONG_SELECTED_SUITE
    )
    if wrong_suite and isinstance(context, ResponderContext):
        return ErrorCode.WRONG_SELECTED_SUITE, context.suites_r()
    if isinstance(error, CryptoError):
        return ErrorCode.UNSPECIFIED, ""
    if isinstance(error, EncodingError):
        return ErrorCode.UNSPECIFIED, "malformed message"
    return ErrorCode.UNSPECIFIED, "protocol error"


class _Connection(Generic[S, C]):
    """Dispatch through a role's table; shared by :class:`Initiator` and :class:`Responder`."""

    __slots__ = ("_context", "_role", "_state")

    def __init__(self, role: Role[S, C], context: C) -> None:
        self._role: Role[S, C] = role
        self._context: C = context
        self._state: S = role.start

    @property
    def state(self) -> S:
        """The current state."""
        return self._state

    @property
    def result(self) -> HandshakeCompleted | None:
        """The completed handshake (suite, C_I, C_R, peer credential, EAD), once there."""
        return self._context.result

    @property
    def error_message(self) -> bytes | None:
        """The EDHOC error message to send the peer after a failure, if any."""
        return self._context.error_message

    def receive(self, data: bytes) -> list[Event]:
        """Process bytes from the peer; raise a MeterSealError if the session fails."""
        try:
            kind, received = classify(self._context, data)
        except MeterSealError as exc:
            self._close(exc, Input.MESSAGE)
        return self._dispatch(kind, received)

    def abort(self, reason: str = "") -> bytes:
        """End the session; return the ERR_CODE 1 message to send (``reason`` as text)."""
        self._dispatch(Input.ABORT, reason)
        return need(self._context.error_message, "error message")

    def unknown_credential(self) -> bytes:
        """Answer CredentialNeeded with "unknown credential" (ERR_CODE 3) and end."""
        self._dispatch(Input.UNKNOWN_CREDENTIAL, None)
        return need(self._context.error_message, "error message")

    def exporter(self, label: int, context: bytes, length: int) -> bytes:
        """EDHOC_Exporter(label, context, length) (RFC 9528 section 4.2.1)."""
        suite = self._keyed_suite()
        return exporter(suite.edhoc_hash, self._context.prk_exporter, label, context, length)

    def key_update(self, context: bytes) -> None:
        """EDHOC_KeyUpdate(context): new PRK_out and PRK_exporter (RFC 9528 appendix H)."""
        hash_alg = self._keyed_suite().edhoc_hash
        state = self._context
        state.prk_out = key_update(hash_alg, state.prk_out, context)
        state.prk_exporter = prk_exporter(hash_alg, state.prk_out)
        state.log("PRK_out", state.prk_out)
        state.log("PRK_exporter", state.prk_exporter)

    def _keyed_suite(self) -> CipherSuite:
        if self._state not in self._role.keyed:
            raise EdhocError(f"no keys can be exported in state {self._state.name}")
        return need(self._context.suite, "suite")

    def _send(self, kind: Input, payload: object) -> bytes:
        self._dispatch(kind, payload)
        return self._context.take_outgoing()

    def _dispatch(self, kind: Input, payload: object) -> list[Event]:
        entry = self._role.table.get((self._state, kind))
        if entry is None:
            self._close(EdhocError(f"unexpected {kind.name} in state {self._state.name}"), kind)
        step, next_state = entry
        try:
            events = step(self._context, payload)
        except MeterSealError as exc:
            self._close(exc, kind)
        except BaseException:
            self._state = self._role.failed
            raise
        self._state = next_state
        return events

    def _close(self, error: MeterSealError, kind: Input) -> NoReturn:
        """Fail closed: FAILED, an error message for the peer where one is due, raise."""
        replies = kind not in (Input.ERROR, Input.WRONG_SUITE)
        if replies and self._state is not self._role.failed:
            self._context.fail_with(*_error_reply(error, self._context))
        self._state = self._role.failed
        raise error


class Initiator(_Connection[InitiatorState, InitiatorContext]):
    """The EDHOC Initiator (the meter), sans-IO.

    ``start`` gives message_1; ``receive(message_2)`` asks for CRED_R with
    :class:`~meterseal.edhoc.events.CredentialNeeded`; ``provide_credential`` verifies
    message_2; ``send_message_3`` gives message_3; ``receive(message_4)`` completes if
    message_4 is expected, else the handshake completed with message_3.
    """

    __slots__ = ()

    def __init__(self, config: InitiatorConfig, rng: Rng, *, keylog: KeyLog | None = None) -> None:
        super().__init__(INITIATOR, InitiatorContext(rng, keylog, config=config))

    def start(self, c_i: bytes, ead_1: Sequence[EadItem] = ()) -> bytes:
        """Return message_1 offering the most preferred suite (RFC 9528 section 5.2.2)."""
        return self._send(Input.START, ini.Start(c_i, tuple(ead_1)))

    def retry(self, c_i: bytes | None = None, ead_1: Sequence[EadItem] = ()) -> bytes:
        """After SuiteRejected: a new message_1 with the suite chosen from SUITES_R."""
        return self._send(Input.RETRY, ini.Start(c_i, tuple(ead_1)))

    def provide_credential(self, credential: Credential) -> list[Event]:
        """Answer CredentialNeeded with CRED_R; raises unless message_2 verifies."""
        return self._dispatch(Input.CREDENTIAL, credential)

    def send_message_3(self, ead_3: Sequence[EadItem] = ()) -> bytes:
        """Return message_3 (RFC 9528 section 5.4.2)."""
        expect_4 = self._context.config.expect_message_4
        kind = Input.SEND_MESSAGE_3 if expect_4 else Input.SEND_LAST_MESSAGE_3
        return self._send(kind, tuple(ead_3))


class Responder(_Connection[ResponderState, ResponderContext]):
    """The EDHOC Responder (the head-end), sans-IO.

    ``receive(message_1)`` reports :class:`~meterseal.edhoc.events.Message1Received`;
    ``send_message_2`` gives message_2; ``receive(message_3)`` asks for CRED_I;
    ``provide_credential`` verifies it and completes; ``send_message_4`` follows if the
    configuration says so.
    """

    __slots__ = ()

    def __init__(self, config: ResponderConfig, rng: Rng, *, keylog: KeyLog | None = None) -> None:
        super().__init__(RESPONDER, ResponderContext(rng, keylog, config=config))

    def send_message_2(
        self, identity: LocalIdentity, c_r: bytes, ead_2: Sequence[EadItem] = ()
    ) -> bytes:
        """Return message_2, authenticated by ``identity`` (RFC 9528 section 5.3.2)."""
        return self._send(Input.SEND_MESSAGE_2, res.Reply2(identity, c_r, tuple(ead_2)))

    def provide_credential(self, credential: Credential) -> list[Event]:
        """Answer CredentialNeeded with CRED_I; raises unless message_3 verifies."""
        then_4 = self._context.config.send_message_4
        kind = Input.CREDENTIAL_THEN_MESSAGE_4 if then_4 else Input.CREDENTIAL
        return self._dispatch(kind, credential)

    def send_message_4(self, ead_4: Sequence[EadItem] = ()) -> bytes:
        """Return message_4 (RFC 9528 section 5.5.2); only if configured."""
        return self._send(Input.SEND_MESSAGE_4, tuple(ead_4))
