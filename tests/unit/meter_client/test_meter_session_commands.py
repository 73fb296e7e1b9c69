"""Signed commands: the meter checks signature, target, freshness and replay before acting."""

from __future__ import annotations

from typing import Any

import pytest
from meter_client_support import (
    IDENTITIES,
    START,
    DetRng,
    HeadendSide,
    handshake,
    new_meter,
    time_sync,
)

from meterseal.crypto.suites import SUITE_2
from meterseal.messages import (
    CommandAck,
    CommandRejectReason,
    CommandStatus,
    SignedCommand,
    sign_command,
)
from meterseal.meter.session import CommandAccepted, CommandRefused, MeterSession

METER_ID = "ELEC-000001"


def _established(last_command_id: int = 0) -> tuple[MeterSession, HeadendSide]:
    meter = new_meter(IDENTITIES, meter_id=METER_ID)
    headend = HeadendSide(IDENTITIES, {meter.meter_id.encode(): meter.credential})
    session = MeterSession(meter.session_config(), DetRng(), last_command_id=last_command_id)
    handshake(session, headend)
    return session, headend


def _refusal(
    session: MeterSession, headend: HeadendSide, signed: bytes, now: int = START
) -> tuple[CommandRefused, CommandAck]:
    [event] = session.receive(headend.seal(SignedCommand(signed)), now)
    assert isinstance(event, CommandRefused)
    headend.feed(session.data_to_send())
    ack = headend.inbox[-1]
    assert isinstance(ack, CommandAck)
    return event, ack


def test_good_command_is_accepted_and_becomes_the_last_accepted() -> None:
    session, headend = _established()
    command = time_sync(METER_ID, command_id=5)
    events = session.receive(headend.seal(SignedCommand(headend.sign(command))), START + 60)
    assert events == [CommandAccepted(command)]
    assert session.last_command_id == 5
    assert session.data_to_send() == b""


def test_meter_acks_an_executed_command_with_its_detail() -> None:
    session, headend = _established()
    headend.feed(session.ack_command(5, CommandStatus.EXECUTED, -17))
    assert headend.inbox == [CommandAck(5, CommandStatus.EXECUTED, detail=-17)]


@pytest.mark.parametrize(
    ("changes", "now", "reason"),
    [
        ({"target": "ELEC-000002"}, START, CommandRejectReason.WRONG_TARGET),
        ({}, START + 3600 + 300, CommandRejectReason.EXPIRED),
        (
            {"issued_at": START + 1000, "expires_at": START + 5000},
            START,
            CommandRejectReason.NOT_YET_VALID,
        ),
    ],
    ids=["wrong-target", "expired", "not-yet-valid"],
)
def test_command_failing_a_check_is_refused_and_acked_with_the_reason(
    changes: dict[str, Any], now: int, reason: CommandRejectReason
) -> None:
    session, headend = _established()
    fields = {"target": METER_ID, **changes}
    command = time_sync(fields.pop("target"), command_id=3, **fields)
    event, ack = _refusal(session, headend, headend.sign(command), now)
    assert (event.command_id, event.reason) == (3, reason)
    assert ack == CommandAck(3, CommandStatus.REJECTED, reason)
    assert session.last_command_id == 0


def test_command_still_valid_within_the_skew_allowance_is_accepted() -> None:
    session, headend = _established()
    signed = headend.sign(time_sync(METER_ID))
    [event] = session.receive(headend.seal(SignedCommand(signed)), START + 3600 + 299)
    assert isinstance(event, CommandAccepted)


def test_replayed_command_is_refused() -> None:
    session, headend = _established()
    signed = headend.sign(time_sync(METER_ID, command_id=8))
    session.receive(headend.seal(SignedCommand(signed)), START)
    event, ack = _refusal(session, headend, signed)
    assert event.reason is CommandRejectReason.REPLAYED
    assert ack.reason is CommandRejectReason.REPLAYED


def test_command_below_the_persisted_last_id_is_refused_in_a_new_session() -> None:
    session, headend = _established(last_command_id=10)
    event, _ = _refusal(session, headend, headend.sign(time_sync(METER_ID, command_id=9)))
    assert event.reason is CommandRejectReason.REPLAYED


def test_command_with_a_flipped_signature_bit_is_refused() -> None:
    session, headend = _established()
    signed = bytearray(headend.sign(time_sync(METER_ID, command_id=4)))
    signed[-1] ^= 0x80
    event, ack = _refusal(session, headend, bytes(signed))
    assert (event.reason, ack.command_id) == (CommandRejectReason.BAD_SIGNATURE, 4)


def test_command_signed_by_an_untrusted_key_is_refused() -> None:
    session, headend = _established()
    stranger_key = SUITE_2.signature.generate(DetRng(b"not the head-end"))
    signed = sign_command(time_sync(METER_ID), stranger_key, SUITE_2.signature)
    event, _ = _refusal(session, headend, signed)
    assert event.reason is CommandRejectReason.BAD_SIGNATURE


def test_command_signed_by_a_headend_edhoc_key_is_refused() -> None:
    session, headend = _established()
    edhoc_key = IDENTITIES.identities[(2, True)].signing_key
    assert edhoc_key is not None
    signed = sign_command(time_sync(METER_ID), edhoc_key, SUITE_2.signature)
    event, _ = _refusal(session, headend, signed)
    assert event.reason is CommandRejectReason.BAD_SIGNATURE
