"""Properties of the record layer (docs/protocol.md), checked with Hypothesis."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from records_strategies import make_pair, suites

from meterseal.crypto.suites import CipherSuite
from meterseal.errors import MeterSealError, RecordError, ReplayError
from meterseal.records import RecordConfig, RecordType
from meterseal.records.window import WINDOW_SIZE
from meterseal.records.wire import MAX_SEQ, encode_header

payloads = st.binary(max_size=600)


@given(suite=suites, payload=payloads)
def test_any_payload_round_trips(suite: CipherSuite, payload: bytes) -> None:
    initiator, responder = make_pair(suite)
    record = responder.open(initiator.seal(payload))
    assert (record.type, record.payload) == (RecordType.APPLICATION_DATA, payload)
    assert initiator.open(responder.seal(payload)).payload == payload


@given(payload=st.binary(max_size=64), earlier=st.integers(0, 3), data=st.data())
def test_single_bit_flip_is_rejected_and_changes_nothing(
    payload: bytes, earlier: int, data: st.DataObject
) -> None:
    initiator, responder = make_pair()
    for _ in range(earlier):
        responder.open(initiator.seal(b"before"))
    record = initiator.seal(payload)
    bit = data.draw(st.integers(0, 8 * len(record) - 1), label="bit")
    flipped = bytearray(record)
    flipped[bit // 8] ^= 1 << (bit % 8)
    before = responder.status
    with pytest.raises(RecordError):
        responder.open(bytes(flipped))
    assert responder.status == before
    assert responder.open(record).payload == payload


@given(order=st.integers(1, WINDOW_SIZE).flatmap(lambda n: st.permutations(range(n))))
@settings(max_examples=50)
def test_any_order_within_the_window_is_accepted_once(order: list[int]) -> None:
    initiator, responder = make_pair()
    records = [initiator.seal(b"%d" % n) for n in range(len(order))]
    assert [responder.open(records[n]).seq for n in order] == order
    for record in records:
        before = responder.status
        with pytest.raises(ReplayError):
            responder.open(record)
        assert responder.status == before


@given(data=st.binary(max_size=80))
def test_random_bytes_raise_only_meterseal_errors(data: bytes) -> None:
    _, responder = make_pair()
    before = responder.status
    try:
        responder.open(data)
    except MeterSealError:
        assert responder.status == before


@given(
    rtype=st.integers(0, 3),
    phase=st.integers(0, 1),
    seq=st.integers(0, MAX_SEQ),
    body=st.binary(max_size=40),
)
def test_well_formed_headers_with_random_bodies_are_rejected(
    rtype: int, phase: int, seq: int, body: bytes
) -> None:
    _, responder = make_pair()
    before = responder.status
    with pytest.raises(RecordError):
        responder.open(encode_header(rtype, phase, seq) + body)
    assert responder.status == before


actions = st.lists(st.sampled_from(["i", "r", "i-request", "r-request"]), max_size=40)


@given(suite=suites, threshold=st.integers(1, 4), script=actions)
@settings(max_examples=60)
def test_both_sides_keep_working_across_key_updates(
    suite: CipherSuite, threshold: int, script: list[str]
) -> None:
    pair = make_pair(suite, RecordConfig(update_after=threshold))
    for step, action in enumerate(script):
        sender, receiver = pair if action[0] == "i" else pair[::-1]
        epoch_before = sender.status.send_epoch
        if action.endswith("request"):
            record = receiver.open(sender.request_key_update())
        else:
            record = receiver.open(sender.seal(b"%d" % step))
            assert record.payload == b"%d" % step
        assert record.seq < threshold
        assert sender.status.send_seq <= threshold
        assert record.epoch in (epoch_before, epoch_before + 1)
        assert receiver.status.recv_epoch == record.epoch == sender.status.send_epoch
