"""Shared helpers for the meter-client unit tests: deterministic keys and a head-end half.

:class:`HeadendSide` is the head-end's side of one session, built directly from
``edhoc.Responder``, ``RecordLayer.for_responder`` and ``messages`` (not from
``meterseal.headend``, nor from the loopback head-end), so that a test can send the meter
exactly the record it wants.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any, Final

import pytest

from meterseal.crypto.suites import SUITE_0, SUITE_2, CipherSuite, get_suite
from meterseal.edhoc import (
    Credential,
    CredentialNeeded,
    Message1Received,
    Method,
    Responder,
    ResponderConfig,
    connection_id,
)
from meterseal.errors import MeterSealError, UnsupportedAlgorithmError
from meterseal.framing import FrameDecoder, FrameKind, encode_frame
from meterseal.messages import AppMessage, Command, TimeSync, decode_app_message
from meterseal.messages import encode_app_message as encode_message
from meterseal.messages.commands import sign_command
from meterseal.messages.readings import MeterType
from meterseal.meter.metering import build_batch
from meterseal.meter.provisioning import (
    HeadendIdentities,
    ProvisionedMeter,
    make_headend_identities,
    make_meter,
)
from meterseal.meter.session import MeterSession, SessionEvent
from meterseal.records import RecordLayer, RecordType

START = 1_735_689_600
"""2025-01-01T00:00:00Z: the first interval of every test batch, and the meters' clock."""

C_R = connection_id(-8)


class DetRng:
    """A deterministic rng: SHAKE-256 of a seed and a counter."""

    def __init__(self, seed: bytes = b"meter client tests") -> None:
        self._seed = seed
        self._count = 0

    def __call__(self, n: int) -> bytes:
        self._count += 1
        return hashlib.shake_256(self._seed + self._count.to_bytes(8, "big")).digest(n)


def all_suites() -> tuple[CipherSuite, ...]:
    """Suites 2, -24 (if this build offers it) and 0."""
    try:
        return (SUITE_2, get_suite(-24), SUITE_0)
    except UnsupportedAlgorithmError:
        return (SUITE_2, SUITE_0)


IDENTITIES: Final = make_headend_identities(DetRng(b"head-end"), all_suites())
"""The head-end's software identities, shared by every test (keys are immutable)."""


def suite_method_params() -> list[Any]:
    """Every (suite, meter method) pair as pytest parameters."""
    return [
        pytest.param(suite, method, id=f"suite{suite.value}-method{int(method)}")
        for suite in all_suites()
        for method in (Method.STATIC_STATIC, Method.SIGN_SIGN)
    ]


def new_meter(
    identities: HeadendIdentities,
    suite: CipherSuite = SUITE_2,
    method: Method = Method.STATIC_STATIC,
    meter_id: str = "ELEC-000001",
    seed: bytes = b"meter",
) -> ProvisionedMeter:
    """A provisioned electricity meter that trusts ``identities``."""
    trust = identities.trust_for(suite)
    return make_meter(
        meter_id, MeterType.ELECTRICITY, suite, method, trust, rng=DetRng(seed), model_seed=7
    )


def signed_day(meter: ProvisionedMeter, day: int = 0) -> tuple[int, bytes]:
    """(batch_seq, signed batch) of one day of the meter's readings."""
    batch = build_batch(meter.model, START + day * 86_400)
    return batch.batch_seq, meter.seal(batch)


def time_sync(target: str, command_id: int = 1, **changes: Any) -> Command:
    """A time-sync command valid for an hour from START."""
    fields: dict[str, Any] = {
        "command_id": command_id,
        "target": target,
        "issued_at": START,
        "expires_at": START + 3600,
        "params": TimeSync(START + 42),
    }
    fields.update(changes)
    return Command(**fields)


class HeadendSide:
    """The head-end's half of one session (EDHOC responder, then records)."""

    def __init__(
        self,
        identities: HeadendIdentities,
        meters: Mapping[bytes, Credential],
        *,
        send_message_4: bool = True,
    ) -> None:
        suites = tuple(dict.fromkeys(get_suite(value) for value, _ in identities.identities))
        self.identities = identities
        self.meters = meters
        self.send_message_4 = send_message_4
        self.responder = Responder(ResponderConfig(suites, send_message_4=send_message_4), DetRng())
        self.decoder = FrameDecoder()
        self.records: RecordLayer | None = None
        self.inbox: list[AppMessage] = []
        self.closes: list[bytes] = []
        self.id_creds: list[bytes | None] = []

    def feed(self, data: bytes) -> bytes:
        """Take the meter's bytes; return the head-end's answer (handshake replies)."""
        out = b""
        for frame in self.decoder.feed(data):
            if frame.kind is FrameKind.EDHOC:
                out += self._edhoc(frame.body)
            else:
                self._record(frame.body)
        return out

    def _edhoc(self, body: bytes) -> bytes:
        events = self.responder.receive(body)
        event = events[0]
        if isinstance(event, Message1Received):
            identity = self.identities.for_handshake(event.suite, event.method)
            return encode_frame(FrameKind.EDHOC, self.responder.send_message_2(identity, C_R))
        assert isinstance(event, CredentialNeeded)
        return self._verify(event)

    def _verify(self, needed: CredentialNeeded) -> bytes:
        self.id_creds.append(needed.id_cred.kid)
        credential = self.meters.get(needed.id_cred.kid or b"")
        if credential is None:
            return encode_frame(FrameKind.EDHOC, self.responder.unknown_credential())
        try:
            self.responder.provide_credential(credential)
        except MeterSealError:
            error = self.responder.error_message
            return encode_frame(FrameKind.EDHOC, error) if error else b""
        result = self.responder.result
        assert result is not None
        out = b""
        if self.send_message_4:
            out = encode_frame(FrameKind.EDHOC, self.responder.send_message_4())
        self.records = RecordLayer.for_responder(
            result.suite, self.responder.exporter, result.c_i, result.c_r
        )
        return out

    def _record(self, body: bytes) -> None:
        assert self.records is not None
        record = self.records.open(body)
        if record.type is RecordType.CLOSE:
            self.closes.append(record.payload)
        elif record.type is RecordType.APPLICATION_DATA:
            self.inbox.append(decode_app_message(record.payload))

    def seal(self, message: AppMessage) -> bytes:
        """A RECORD frame carrying ``message``."""
        return self.seal_raw(encode_message(message))

    def seal_raw(
        self, payload: bytes, record_type: RecordType = RecordType.APPLICATION_DATA
    ) -> bytes:
        """A RECORD frame carrying any payload."""
        assert self.records is not None
        return encode_frame(FrameKind.RECORD, self.records.seal(payload, record_type))

    def sign(self, command: Command, suite: CipherSuite = SUITE_2) -> bytes:
        """Sign with the head-end's command key for ``suite``."""
        return sign_command(command, self.identities.command_key(suite), suite.signature)


def handshake(session: MeterSession, headend: HeadendSide, now: int = START) -> list[SessionEvent]:
    """Loop the bytes between meter and head-end until neither has anything to say."""
    events: list[SessionEvent] = []
    outgoing = session.start()
    while outgoing:
        reply = headend.feed(outgoing)
        events += session.receive(reply, now)
        outgoing = session.data_to_send()
    return events
