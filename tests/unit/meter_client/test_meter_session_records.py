"""The meter session after the handshake: batches, acks, pings, close, bad records."""

from __future__ import annotations

import pytest
from meter_client_support import (
    IDENTITIES,
    START,
    DetRng,
    HeadendSide,
    handshake,
    new_meter,
    signed_day,
)

from meterseal.errors import RecordError
from meterseal.messages import AckStatus, BatchAck, BatchRejectReason, Ping, Pong, SignedBatch
from meterseal.meter.provisioning import ProvisionedMeter
from meterseal.meter.session import (
    BatchAcknowledged,
    MeterSession,
    PeerClosed,
    PongReceived,
    SessionError,
    SessionState,
)
from meterseal.records import RecordType


def _established(meter: ProvisionedMeter | None = None) -> tuple[MeterSession, HeadendSide]:
    meter = meter or new_meter(IDENTITIES)
    headend = HeadendSide(IDENTITIES, {meter.meter_id.encode(): meter.credential})
    session = MeterSession(meter.session_config(), DetRng())
    handshake(session, headend)
    return session, headend


def test_signed_batch_reaches_the_headend_byte_for_byte() -> None:
    meter = new_meter(IDENTITIES)
    session, headend = _established(meter)
    seq, signed = signed_day(meter)
    headend.feed(session.send_batch(signed))
    assert headend.inbox == [SignedBatch(signed)]
    assert session.in_flight == {seq}


@pytest.mark.parametrize("status", [AckStatus.ACCEPTED, AckStatus.DUPLICATE])
def test_ack_reports_the_batch_and_takes_it_out_of_flight(status: AckStatus) -> None:
    meter = new_meter(IDENTITIES)
    session, headend = _established(meter)
    seq, signed = signed_day(meter)
    session.send_batch(signed)
    ack = BatchAck(meter.meter_id, seq, status)
    assert session.receive(headend.seal(ack), START) == [BatchAcknowledged(ack)]
    assert session.in_flight == frozenset()


def test_rejection_is_reported_with_its_reason() -> None:
    meter = new_meter(IDENTITIES)
    session, headend = _established(meter)
    seq, signed = signed_day(meter)
    session.send_batch(signed)
    ack = BatchAck(meter.meter_id, seq, AckStatus.REJECTED, BatchRejectReason.BAD_SIGNATURE)
    [event] = session.receive(headend.seal(ack), START)
    assert isinstance(event, BatchAcknowledged)
    assert event.ack.reason is BatchRejectReason.BAD_SIGNATURE


def test_several_batches_can_be_in_flight_and_acked_in_one_read() -> None:
    meter = new_meter(IDENTITIES)
    session, headend = _established(meter)
    batches = [signed_day(meter, day) for day in range(3)]
    for _, signed in batches:
        session.send_batch(signed)
    acks = b"".join(
        headend.seal(BatchAck(meter.meter_id, seq, AckStatus.ACCEPTED)) for seq, _ in batches
    )
    events = session.receive(acks, START)
    assert [e.ack.batch_seq for e in events if isinstance(e, BatchAcknowledged)] == [1, 2, 3]


def test_ack_for_a_batch_not_in_flight_fails_the_session() -> None:
    meter = new_meter(IDENTITIES)
    session, headend = _established(meter)
    with pytest.raises(SessionError):
        session.receive(headend.seal(BatchAck(meter.meter_id, 99, AckStatus.ACCEPTED)), START)
    assert session.state is SessionState.FAILED


def test_ack_naming_another_meter_fails_the_session() -> None:
    meter = new_meter(IDENTITIES)
    session, headend = _established(meter)
    seq, signed = signed_day(meter)
    session.send_batch(signed)
    with pytest.raises(SessionError):
        session.receive(headend.seal(BatchAck("OTHER-1", seq, AckStatus.ACCEPTED)), START)


def test_batch_of_another_meter_is_not_sent() -> None:
    other = new_meter(IDENTITIES, meter_id="WATR-000009")
    session, _ = _established()
    with pytest.raises(SessionError):
        session.send_batch(signed_day(other)[1])


def test_same_batch_twice_in_flight_is_refused() -> None:
    meter = new_meter(IDENTITIES)
    session, _ = _established(meter)
    _, signed = signed_day(meter)
    session.send_batch(signed)
    with pytest.raises(SessionError):
        session.send_batch(signed)


def test_ping_from_the_headend_is_answered_with_its_token() -> None:
    session, headend = _established()
    assert session.receive(headend.seal(Ping(1234)), START) == []
    headend.feed(session.data_to_send())
    assert headend.inbox == [Pong(1234)]


def test_pong_is_reported() -> None:
    session, headend = _established()
    headend.feed(session.ping(5))
    assert headend.inbox == [Ping(5)]
    assert session.receive(headend.seal(Pong(5)), START) == [PongReceived(5)]


def test_close_record_from_the_headend_closes_the_session() -> None:
    session, headend = _established()
    events = session.receive(headend.seal_raw(b"bye", RecordType.CLOSE), START)
    assert events == [PeerClosed(b"bye")]
    assert session.state is SessionState.CLOSED


def test_meter_close_sends_a_close_record() -> None:
    session, headend = _established()
    headend.feed(session.close(b"done"))
    assert headend.closes == [b"done"]


def test_records_that_fail_to_authenticate_are_dropped_then_fail_the_session() -> None:
    session, headend = _established()
    forged = bytearray(headend.seal(Ping(1)))
    forged[-1] ^= 0x01
    for _ in range(3):
        assert session.receive(bytes(forged), START) == []
    assert session.record_failures == 3
    assert session.established
    with pytest.raises(RecordError):
        session.receive(bytes(forged), START)
    assert session.state is SessionState.FAILED


def test_a_replayed_record_is_dropped() -> None:
    session, headend = _established()
    record = headend.seal(Ping(9))
    session.receive(record, START)
    session.data_to_send()
    assert session.receive(record, START) == []
    assert session.data_to_send() == b""
    assert session.record_failures == 1


def test_a_message_the_headend_may_not_send_fails_the_session() -> None:
    meter = new_meter(IDENTITIES)
    session, headend = _established(meter)
    with pytest.raises(SessionError):
        session.receive(headend.seal(SignedBatch(signed_day(meter)[1])), START)


def test_nothing_can_be_sent_before_the_handshake() -> None:
    meter = new_meter(IDENTITIES)
    session = MeterSession(meter.session_config(), DetRng())
    session.start()
    with pytest.raises(SessionError):
        session.send_batch(signed_day(meter)[1])
