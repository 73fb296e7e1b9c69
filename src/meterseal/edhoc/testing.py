"""A whole EDHOC handshake in memory, for tests and benchmarks.

:func:`make_identity` makes a key pair and a CCS credential from ``rng`` (software keys:
for tests and benchmarks only). :func:`run_handshake` loops the bytes between an
:class:`Initiator` and Responders made by a factory (a fresh one per message_1, as after
a rejected cipher suite), answering every event the way an application would: the
Responder's identity comes from ``responder_identity``, every peer credential from
``lookup``. ``tamper`` may rewrite each message on its way (the bit-flip tests use it).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TypeVar

from meterseal.crypto.interfaces import Rng
from meterseal.crypto.suites import CipherSuite
from meterseal.edhoc.authentication import LocalIdentity
from meterseal.edhoc.credentials import OKP_DH_CURVES, Credential, make_ccs
from meterseal.edhoc.ead import EadItem
from meterseal.edhoc.events import CredentialNeeded, Event, Message1Received, SuiteRejected
from meterseal.edhoc.id_cred import IdCred
from meterseal.edhoc.machine import Initiator, Responder, ResponderState
from meterseal.edhoc.messages import ErrorCode
from meterseal.errors import EdhocError

Lookup = Callable[[IdCred], Credential | None]
Tamper = Callable[[int, bytes], bytes]


def lookup_from(credentials: Iterable[Credential]) -> Lookup:
    """A credential store: the first credential the ID_CRED_x names (or carries)."""
    known = tuple(credentials)

    def lookup(id_cred: IdCred) -> Credential | None:
        return next((cred for cred in known if id_cred.matches(cred)), None)

    return lookup


def make_identity(
    suite: CipherSuite, *, signs: bool, rng: Rng, kid: bytes, by_value: bool = False
) -> LocalIdentity:
    """A fresh software key and its CCS (subject = kid in hex), for one side of a method;
    the credential is sent by kid, or by value if ``by_value``."""
    make = _signature_identity if signs else _static_dh_identity
    return make(suite, rng(32), kid, by_value)


def _signature_identity(
    suite: CipherSuite, private: bytes, kid: bytes, by_value: bool
) -> LocalIdentity:
    key = suite.signature.from_private_bytes(private)
    crv = suite.credential_crv(signs=True)
    credential = Credential.from_ccs(make_ccs(key.public_key, crv=crv, subject=kid.hex(), kid=kid))
    id_cred = IdCred.by_value(credential) if by_value else IdCred.by_kid(kid)
    return LocalIdentity.signature(credential, id_cred, key)


def _static_dh_identity(
    suite: CipherSuite, private: bytes, kid: bytes, by_value: bool
) -> LocalIdentity:
    """A CCS needs the whole point; for EC2 curves it comes from the suite's signature
    algorithm loaded with the same scalar (the international and GM/T suites sign on
    their DH curve)."""
    key = suite.dh.from_private_bytes(private)
    point = key.public_key
    if suite.dh.cose_crv not in OKP_DH_CURVES:
        point = suite.signature.from_private_bytes(private).public_key
    ccs = make_ccs(point, crv=suite.dh.cose_crv, subject=kid.hex(), kid=kid)
    credential = Credential.from_ccs(ccs)
    id_cred = IdCred.by_value(credential) if by_value else IdCred.by_kid(kid)
    return LocalIdentity.static_dh(credential, id_cred, key)


def _untouched(number: int, data: bytes) -> bytes:
    del number
    return data


@dataclass
class HandshakeRun:
    """The two parties after the run, and every message as it was delivered."""

    initiator: Initiator
    responder: Responder
    messages: list[bytes] = field(default_factory=list)


E = TypeVar("E", Message1Received, CredentialNeeded, SuiteRejected)


def _only(events: list[Event], kind: type[E]) -> E:
    event = events[0] if len(events) == 1 else None
    if not isinstance(event, kind):
        raise EdhocError(f"expected one {kind.__name__}, got {events!r}")
    return event


def _answer_credential(
    party: Initiator | Responder, events: list[Event], lookup: Lookup
) -> list[Event]:
    needed = _only(events, CredentialNeeded)
    credential = lookup(needed.id_cred)
    if credential is None:
        party.unknown_credential()
        raise EdhocError("no credential for the peer's ID_CRED", wire_code=3)
    return party.provide_credential(credential)


def _negotiate(
    run: HandshakeRun, new_responder: Callable[[], Responder], message_1: bytes, tamper: Tamper
) -> Message1Received:
    """Deliver message_1, retrying with SUITES_R as often as the Responder refuses."""
    while True:
        run.responder = new_responder()
        run.messages.append(tamper(1, message_1))
        try:
            events = run.responder.receive(run.messages[-1])
        except EdhocError as exc:
            refusal = run.responder.error_message
            if exc.wire_code != ErrorCode.WRONG_SELECTED_SUITE or refusal is None:
                raise
            _only(run.initiator.receive(refusal), SuiteRejected)
            message_1 = run.initiator.retry()
        else:
            return _only(events, Message1Received)


def run_handshake(
    initiator: Initiator,
    new_responder: Callable[[], Responder],
    *,
    responder_identity: Callable[[Message1Received], LocalIdentity],
    lookup: Lookup,
    c_i: bytes = b"\x0e",
    c_r: bytes = b"\x18",
    ead: Mapping[int, Sequence[EadItem]] | None = None,
    tamper: Tamper = _untouched,
) -> HandshakeRun:
    """Run message_1 to message_3 (and message_4 if configured); raise on any failure.

    ``ead`` maps a message number (1-4) to the EAD items to send in it.
    """
    ead = ead or {}
    run = HandshakeRun(initiator, new_responder())
    first = _negotiate(run, new_responder, initiator.start(c_i, ead.get(1, ())), tamper)
    message_2 = run.responder.send_message_2(responder_identity(first), c_r, ead.get(2, ()))
    run.messages.append(tamper(2, message_2))
    _answer_credential(initiator, initiator.receive(run.messages[-1]), lookup)
    run.messages.append(tamper(3, initiator.send_message_3(ead.get(3, ()))))
    _answer_credential(run.responder, run.responder.receive(run.messages[-1]), lookup)
    if run.responder.state is ResponderState.VERIFIED_MESSAGE_3:
        run.messages.append(tamper(4, run.responder.send_message_4(ead.get(4, ()))))
        initiator.receive(run.messages[-1])
    return run
