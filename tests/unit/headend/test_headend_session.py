"""The sans-IO head-end session: handshake, records, refusals and protocol errors."""

from __future__ import annotations

import pytest
from headend_unit_support import (
    Drive,
    frames,
    headend_identities,
    make_meter,
    new_session,
    replies,
)

from meterseal.crypto.suites import SUITE_GMT
from meterseal.edhoc import Method, connection_id
from meterseal.edhoc.encoding import split_sequence
from meterseal.edhoc.messages import ErrorMessage
from meterseal.framing import FrameKind, encode_frame
from meterseal.headend import (
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
    SessionLimits,
    SessionState,
)
from meterseal.headend.session import SessionStateError
from meterseal.messages import (
    AckStatus,
    BatchAck,
    CommandAck,
    CommandStatus,
    Ping,
    Pong,
    SignedBatch,
)
from meterseal.records import RecordLayer, RecordType


def edhoc_error(events: list[SessionEvent]) -> tuple[int, object]:
    """The EDHOC error message the session sent."""
    [frame] = replies(events)
    assert frame.kind is FrameKind.EDHOC
    error = ErrorMessage.from_items(split_sequence(frame.body))
    return error.code, error.info


def closed(events: list[SessionEvent]) -> SessionClosed:
    assert isinstance(events[-1], SessionClosed)
    return events[-1]


@pytest.mark.parametrize("method", list(Method))
def test_handshake_establishes_the_meter_its_kid_names(method: Method) -> None:
    drive = Drive(make_meter("ELEC-1", method=method), new_session())
    events = drive.establish()
    assert events[-1] == SessionEstablished("ELEC-1", 2, method)
    assert drive.session.meter_id == "ELEC-1"
    assert drive.session.state is SessionState.OPEN


def test_handshake_with_the_gmt_suite() -> None:
    drive = Drive(make_meter("GMT-1", suite=SUITE_GMT), new_session(suite=SUITE_GMT))
    assert drive.establish()[-1] == SessionEstablished("GMT-1", -24, Method.STATIC_STATIC)


def test_message_3_asks_for_the_credential_of_the_named_meter() -> None:
    drive = Drive(make_meter("W-77"), new_session())
    [requested] = drive.message_3()
    assert isinstance(requested, CredentialRequested)
    assert requested.meter_id == "W-77"
    assert drive.session.meter_id is None  # only a claim until verified


def test_c_r_differs_from_a_meter_c_i_equal_to_the_default() -> None:
    drive = Drive(make_meter("ELEC-1"), new_session(), c_i=connection_id(-8))
    drive.establish()
    assert drive.initiator is not None
    assert drive.initiator.result is not None
    assert drive.initiator.result.c_r == connection_id(-9)


def test_a_batch_record_is_reported_with_the_session_meter() -> None:
    drive = Drive(make_meter("ELEC-1"), new_session())
    drive.establish()
    signed = drive.meter.signed_batch(1)
    assert drive.send(SignedBatch(signed)) == [BatchReceived("ELEC-1", signed)]


def test_a_ping_is_answered_with_a_pong() -> None:
    drive = Drive(make_meter("ELEC-1"), new_session())
    drive.establish()
    assert drive.messages(drive.send(Ping(42))) == [Pong(42)]


def test_pongs_and_command_acks_are_reported() -> None:
    drive = Drive(make_meter("ELEC-1"), new_session())
    drive.establish()
    ack = CommandAck(5, CommandStatus.EXECUTED, detail=-3)
    assert drive.send(Pong(7)) == [PongReceived(7)]
    assert drive.send(ack) == [CommandAckReceived("ELEC-1", ack)]


def test_acks_and_commands_the_session_seals_open_at_the_meter() -> None:
    drive = Drive(make_meter("ELEC-1"), new_session())
    drive.establish()
    ack = BatchAck("ELEC-1", 3, AckStatus.ACCEPTED)
    assert drive.messages([Reply(drive.session.send_batch_ack(ack))]) == [ack]
    assert drive.messages([Reply(drive.session.send_ping(9))]) == [Ping(9)]


def test_an_unknown_meter_gets_err_code_3() -> None:
    drive = Drive(make_meter("GHOST"), new_session())
    drive.message_3()
    events = drive.session.unknown_meter()
    assert edhoc_error(events) == (3, True)
    assert closed(events).reason is CloseReason.UNKNOWN_METER
    assert drive.session.state is SessionState.CLOSED


def test_an_inactive_meter_gets_err_code_1_without_detail() -> None:
    drive = Drive(make_meter("OLD-1"), new_session())
    drive.message_3()
    events = drive.session.inactive_meter("meter OLD-1 is revoked")
    assert edhoc_error(events) == (1, "")
    assert closed(events) == SessionClosed(CloseReason.INACTIVE_METER, "meter OLD-1 is revoked")


def test_a_credential_that_is_not_the_named_one_counts_as_unknown() -> None:
    drive = Drive(make_meter("ELEC-1"), new_session())
    drive.message_3()
    other = make_meter("ELEC-2").identity.credential
    events = drive.session.provide_credential(other)
    assert edhoc_error(events) == (3, True)
    assert closed(events).reason is CloseReason.UNKNOWN_METER


def test_a_credential_with_the_right_kid_but_another_key_fails_the_handshake() -> None:
    drive = Drive(make_meter("ELEC-1"), new_session())
    drive.message_3()
    impostor = make_meter("ELEC-1").identity.credential  # same kid, other key
    events = drive.session.provide_credential(impostor)
    assert edhoc_error(events) == (1, "")
    assert closed(events).reason is CloseReason.HANDSHAKE_FAILED


def test_a_tampered_message_3_fails_without_detail() -> None:
    drive = Drive(make_meter("ELEC-1"), new_session())
    message_2 = replies(drive.start())
    initiator = drive.initiator
    assert initiator is not None
    initiator.receive(message_2[0].body)
    initiator.provide_credential(headend_identities()[(2, Method.STATIC_STATIC)].credential)
    message_3 = bytearray(initiator.send_message_3())
    message_3[-1] ^= 1
    events = drive.session.receive(encode_frame(FrameKind.EDHOC, bytes(message_3)))
    assert edhoc_error(events) == (1, "")
    assert closed(events).reason is CloseReason.HANDSHAKE_FAILED


def test_a_record_before_the_handshake_is_an_edhoc_protocol_error() -> None:
    session = new_session()
    events = session.receive(encode_frame(FrameKind.RECORD, b"\x40\x00" + bytes(16)))
    assert edhoc_error(events) == (1, "protocol error")
    assert closed(events).reason is CloseReason.PROTOCOL


def test_an_edhoc_frame_after_the_handshake_closes_with_a_close_record() -> None:
    drive = Drive(make_meter("ELEC-1"), new_session())
    drive.establish()
    events = drive.session.receive(encode_frame(FrameKind.EDHOC, b"\x03"))
    [record] = drive.open(events)
    assert record.type is RecordType.CLOSE
    assert closed(events).reason is CloseReason.PROTOCOL


def test_a_c_i_too_long_for_the_record_nonce_ends_the_handshake() -> None:
    drive = Drive(make_meter("ELEC-1"), new_session(), c_i=b"\x01" * 7)
    drive.message_3()
    events = drive.session.provide_credential(drive.meter.identity.credential)
    assert edhoc_error(events) == (1, "protocol error")
    assert closed(events).reason is CloseReason.PROTOCOL


@pytest.mark.parametrize(
    "garbage",
    [b"\x00\x05\x07hello", b"\x40\x01\x01", b"\x00\x00\x01"],
    ids=["unknown-kind", "oversized", "zero-length"],
)
def test_framing_errors_close_without_a_reply(garbage: bytes) -> None:
    session = new_session(limits=SessionLimits(max_frame_body=1024))
    events = session.receive(garbage)
    assert events == [closed(events)]
    assert closed(events).reason is CloseReason.FRAMING
    assert session.receive(b"anything") == []


def test_records_that_fail_to_authenticate_are_dropped_until_the_limit() -> None:
    drive = Drive(make_meter("ELEC-1"), new_session(limits=SessionLimits(max_record_failures=2)))
    drive.establish()
    forged = encode_frame(FrameKind.RECORD, b"\x40\x07" + bytes(20))
    dropped = RecordRejected("record did not authenticate")
    assert drive.session.receive(forged) == [dropped]  # dropped and reported, not closed
    assert drive.session.receive(forged) == [dropped]
    assert drive.send(Ping(1)) != []  # still open
    events = drive.session.receive(forged)
    assert closed(events).reason is CloseReason.RECORD_FAILURES
    assert drive.open(events)[0].type is RecordType.CLOSE


def test_records_sent_during_the_lookup_are_processed_after_it() -> None:
    drive = Drive(make_meter("ELEC-1"), new_session(message_4=False), message_4=False)
    drive.message_3()
    assert drive.initiator is not None
    assert drive.initiator.result is not None
    result = drive.initiator.result
    drive.layer = RecordLayer.for_initiator(
        result.suite, drive.initiator.exporter, result.c_i, result.c_r
    )
    assert drive.send(Ping(3)) == []  # buffered
    events = drive.session.provide_credential(drive.meter.identity.credential)
    assert isinstance(events[0], SessionEstablished)
    assert drive.messages(events[1:]) == [Pong(3)]


def test_a_close_record_from_the_meter_ends_the_session() -> None:
    drive = Drive(make_meter("ELEC-1"), new_session())
    drive.establish()
    assert drive.layer is not None
    events = drive.session.receive(encode_frame(FrameKind.RECORD, drive.layer.close(b"bye")))
    assert closed(events).reason is CloseReason.PEER_CLOSED
    assert drive.open(events)[0].type is RecordType.CLOSE


def test_a_meter_may_not_send_batch_acks() -> None:
    drive = Drive(make_meter("ELEC-1"), new_session())
    drive.establish()
    events = drive.send(BatchAck("ELEC-1", 1, AckStatus.ACCEPTED))
    assert closed(events).reason is CloseReason.PROTOCOL


def test_an_undecodable_application_message_closes_the_session() -> None:
    drive = Drive(make_meter("ELEC-1"), new_session())
    drive.establish()
    assert drive.layer is not None
    events = drive.session.receive(encode_frame(FrameKind.RECORD, drive.layer.seal(b"\x63")))
    assert closed(events).reason is CloseReason.MALFORMED


def test_a_method_without_an_identity_is_refused() -> None:
    drive = Drive(make_meter("ELEC-1"), new_session(identities=lambda _suite, _method: None))
    events = drive.start()
    assert edhoc_error(events) == (1, "method not offered")
    assert closed(events).reason is CloseReason.UNSUPPORTED


def test_an_unoffered_suite_gets_err_code_2() -> None:
    drive = Drive(make_meter("GMT-1", suite=SUITE_GMT), new_session())
    events = drive.start()
    assert edhoc_error(events) == (2, 2)
    assert closed(events).reason is CloseReason.UNSUPPORTED


def test_closing_an_open_session_sends_a_close_record_and_nothing_more() -> None:
    drive = Drive(make_meter("ELEC-1"), new_session())
    drive.establish()
    [record] = drive.open([Reply(drive.session.close(CloseReason.IDLE_TIMEOUT))])
    assert (record.type, record.payload) == (RecordType.CLOSE, b"idle_timeout")
    with pytest.raises(SessionStateError):
        drive.session.send_ping(1)


def test_closing_during_the_handshake_sends_nothing() -> None:
    drive = Drive(make_meter("ELEC-1"), new_session())
    drive.start()
    assert drive.session.close(CloseReason.HANDSHAKE_TIMEOUT) == b""
    assert drive.session.state is SessionState.CLOSED


def test_frames_split_across_reads_are_reassembled() -> None:
    drive = Drive(make_meter("ELEC-1"), new_session())
    drive.establish()
    data = drive.record(Ping(5)) + drive.record(Ping(6))
    first = drive.session.receive(data[:3])
    second = drive.session.receive(data[3:])
    assert first == []
    assert drive.messages(second) == [Pong(5), Pong(6)]
    assert len(frames(b"".join(e.data for e in second if isinstance(e, Reply)))) == 2
