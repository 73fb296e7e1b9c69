"""RecordLayer: round trips, replay protection, rejection without state change, closing."""

from __future__ import annotations

import pytest
from records_support import C_I, C_R, fake_exporter, make_pair, suite_params

from meterseal.crypto.suites import SUITE_2, CipherSuite
from meterseal.errors import DecryptionError, RecordError, ReplayError
from meterseal.records import LABEL_MASTER_SALT, LABEL_MASTER_SECRET, RecordLayer, RecordType
from meterseal.records.wire import encode_header


@pytest.mark.parametrize("suite", suite_params())
def test_round_trip_in_both_directions(suite: CipherSuite) -> None:
    initiator, responder = make_pair(suite)
    for n in range(3):
        record = responder.open(initiator.seal(b"reading %d" % n))
        assert (record.type, record.epoch, record.seq) == (RecordType.APPLICATION_DATA, 0, n)
        assert record.payload == b"reading %d" % n
        assert initiator.open(responder.seal(b"ack %d" % n)).payload == b"ack %d" % n


@pytest.mark.parametrize("suite", suite_params())
def test_empty_and_large_payloads_round_trip(suite: CipherSuite) -> None:
    initiator, responder = make_pair(suite)
    for payload in (b"", bytes(range(256)) * 64):
        assert responder.open(initiator.seal(payload)).payload == payload


def test_exporter_is_asked_for_the_private_use_labels() -> None:
    calls: list[object] = []
    RecordLayer.for_initiator(SUITE_2, fake_exporter(calls=calls), C_I, C_R)
    assert calls == [(LABEL_MASTER_SECRET, b"", 32), (LABEL_MASTER_SALT, b"", 8)]
    assert (LABEL_MASTER_SECRET, LABEL_MASTER_SALT) == (32768, 32769)


def test_directions_have_different_keys() -> None:
    initiator, responder = make_pair(SUITE_2)
    assert initiator.seal(b"same") != responder.seal(b"same")
    with pytest.raises(RecordError, match="authenticate"):
        initiator.open(make_pair(SUITE_2)[0].seal(b"from myself"))


def test_record_overhead_is_two_bytes_plus_tag_for_small_sequence_numbers() -> None:
    initiator, _ = make_pair(SUITE_2)
    assert len(initiator.seal(bytes(64))) == 64 + 2 + 16
    # Half of A128GCM's 2^23 messages per epoch: sequence numbers need at most 3 bytes.
    assert initiator.overhead == 1 + 3 + 16
    assert initiator.overhead == len(encode_header(0, 0, 2**22 - 1)) + 16


def test_replayed_record_raises_replay_error_and_keeps_state() -> None:
    initiator, responder = make_pair(SUITE_2)
    record = initiator.seal(b"once")
    responder.open(record)
    before = responder.status
    with pytest.raises(ReplayError):
        responder.open(record)
    assert responder.status == before


def test_reordered_records_are_accepted_once() -> None:
    initiator, responder = make_pair(SUITE_2)
    records = [initiator.seal(b"%d" % n) for n in range(10)]
    for n in (9, 0, 5, 1, 8, 2, 7, 3, 6, 4):
        assert responder.open(records[n]).seq == n
    for record in records:
        with pytest.raises(ReplayError):
            responder.open(record)


def test_record_left_of_the_window_raises_replay_error() -> None:
    initiator, responder = make_pair(SUITE_2)
    records = [initiator.seal(b"") for _ in range(66)]
    responder.open(records[64])
    assert responder.open(records[1]).seq == 1
    before = responder.status
    with pytest.raises(ReplayError, match="left of the replay window"):
        responder.open(records[0])
    assert responder.status == before


def test_every_truncation_raises_record_error_and_keeps_state() -> None:
    initiator, responder = make_pair(SUITE_2)
    record = initiator.seal(b"truncate me")
    before = responder.status
    for end in range(len(record)):
        with pytest.raises(RecordError):
            responder.open(record[:end])
    assert responder.status == before
    assert responder.open(record).payload == b"truncate me"


def test_every_bit_flip_raises_record_error_and_keeps_state() -> None:
    initiator, responder = make_pair(SUITE_2)
    record = initiator.seal(b"flip")
    before = responder.status
    for bit in range(8 * len(record)):
        flipped = bytearray(record)
        flipped[bit // 8] ^= 1 << (bit % 8)
        with pytest.raises(RecordError):
            responder.open(bytes(flipped))
    assert responder.status == before
    assert responder.open(record).payload == b"flip"


def test_changed_record_type_does_not_authenticate() -> None:
    initiator, responder = make_pair(SUITE_2)
    record = bytearray(initiator.seal(b"data"))
    record[0] |= RecordType.CLOSE << 4
    with pytest.raises(RecordError, match="authenticate") as caught:
        responder.open(bytes(record))
    assert isinstance(caught.value.__cause__, DecryptionError)
    assert not responder.status.recv_closed


def test_wrong_session_key_raises_record_error_from_decryption_error() -> None:
    initiator, _ = make_pair(SUITE_2)
    _, stranger = make_pair(SUITE_2, exporter=fake_exporter(b"\x22" * 32))
    before = stranger.status
    with pytest.raises(RecordError) as caught:
        stranger.open(initiator.seal(b"hello"))
    assert isinstance(caught.value.__cause__, DecryptionError)
    assert stranger.status == before


def test_garbage_raises_record_error() -> None:
    _, responder = make_pair(SUITE_2)
    for garbage in (b"", b"\x00", bytes(18), b"\xff" * 40, b"\x40" + bytes(17)):
        with pytest.raises(RecordError):
            responder.open(garbage)


def test_close_ends_both_directions_of_the_stream() -> None:
    initiator, responder = make_pair(SUITE_2)
    record = responder.open(initiator.close(b"bye"))
    assert (record.type, record.payload) == (RecordType.CLOSE, b"bye")
    with pytest.raises(RecordError, match="sending direction is closed"):
        initiator.seal(b"more")
    with pytest.raises(RecordError, match="receiving direction is closed"):
        responder.open(b"\x40\x01" + bytes(16))
    assert initiator.open(responder.seal(b"last words")).payload == b"last words"


def test_equal_connection_identifiers_are_refused() -> None:
    with pytest.raises(RecordError, match="must differ"):
        RecordLayer.for_initiator(SUITE_2, fake_exporter(), b"\x37", b"\x37")


def test_connection_identifier_longer_than_the_nonce_allows_is_refused() -> None:
    RecordLayer.for_initiator(SUITE_2, fake_exporter(), bytes(6), C_R)
    with pytest.raises(RecordError, match="room for 6"):
        RecordLayer.for_initiator(SUITE_2, fake_exporter(), bytes(7), C_R)
