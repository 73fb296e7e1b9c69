"""Acknowledgements and the application-message envelope: round trips and refusals."""

from __future__ import annotations

import os

import pytest
from messages_support import METER_ID, electricity_batch, time_sync

from meterseal import cbor
from meterseal.crypto.suites import SUITE_2
from meterseal.errors import EncodingError
from meterseal.messages import (
    AckStatus,
    AppMessage,
    BatchAck,
    BatchRejectReason,
    CommandAck,
    CommandRejectReason,
    CommandStatus,
    MessageType,
    Ping,
    Pong,
    SignedBatch,
    SignedCommand,
    decode_app_message,
    decode_batch_ack,
    decode_command_ack,
    encode_app_message,
    encode_batch_ack,
    encode_command_ack,
    open_batch,
    seal_batch,
    sign_command,
)

KEY = SUITE_2.signature.generate(os.urandom)
SEALED = seal_batch(electricity_batch(), KEY, SUITE_2.signature)

MESSAGES: list[AppMessage] = [
    SignedBatch(SEALED),
    BatchAck(METER_ID, 7, AckStatus.ACCEPTED),
    BatchAck(METER_ID, 7, AckStatus.DUPLICATE),
    BatchAck(METER_ID, 8, AckStatus.REJECTED, BatchRejectReason.UNAVAILABLE),
    SignedCommand(sign_command(time_sync(), KEY, SUITE_2.signature)),
    CommandAck(42, CommandStatus.EXECUTED, detail=-3),
    CommandAck(43, CommandStatus.REJECTED, CommandRejectReason.REPLAYED),
    Ping(0),
    Pong((1 << 63) - 1),
]


@pytest.mark.parametrize("message", MESSAGES, ids=lambda m: type(m).__name__)
def test_every_message_kind_round_trips(message: AppMessage) -> None:
    assert decode_app_message(encode_app_message(message)) == message


def test_type_byte_precedes_the_untouched_signed_batch() -> None:
    data = encode_app_message(SignedBatch(SEALED))
    assert data == bytes([MessageType.SIGNED_BATCH]) + SEALED
    received = decode_app_message(data)
    assert isinstance(received, SignedBatch)
    assert open_batch(received.data, SUITE_2.signature, KEY.public_key) == electricity_batch()


def test_acks_round_trip_through_their_own_codecs() -> None:
    ack = BatchAck(METER_ID, 3, AckStatus.REJECTED, BatchRejectReason.BAD_SIGNATURE)
    assert decode_batch_ack(encode_batch_ack(ack)) == ack
    command_ack = CommandAck(9, CommandStatus.FAILED, detail=7)
    assert decode_command_ack(encode_command_ack(command_ack)) == command_ack


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda: BatchAck(METER_ID, 1, AckStatus.REJECTED), "reason must be given"),
        (
            lambda: BatchAck(METER_ID, 1, AckStatus.ACCEPTED, BatchRejectReason.MALFORMED),
            "reason must be given",
        ),
        (lambda: CommandAck(1, CommandStatus.REJECTED), "reason must be given"),
        (lambda: CommandAck(1, CommandStatus.EXECUTED, detail=1 << 64), "detail must lie in"),
        (lambda: BatchAck(METER_ID, 1, 0), "status must be an AckStatus"),  # type: ignore[arg-type]
        (lambda: SignedBatch(b"\xa0"), "must be a tagged COSE_Sign1"),
        (lambda: Ping(-1), "Ping token must lie in"),
    ],
)
def test_inconsistent_messages_cannot_be_built(build: object, message: str) -> None:
    with pytest.raises(EncodingError, match=message):
        build()  # type: ignore[operator]


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "empty"),
        (b"\x07", "unknown application message type byte 0x07"),
        (b"\x18\x05", "unknown application message type byte 0x18"),
        (b"\x01\xa0", "SignedBatch must be a tagged COSE_Sign1"),
        (b"\x03", "SignedCommand must be a tagged COSE_Sign1"),
        (b"\x02" + cbor.encode({1: METER_ID, 2: 1, 3: 5, 4: 0}), "5 is not a known AckStatus"),
        (b"\x02" + cbor.encode({1: METER_ID, 2: 1, 3: 0}), "missing key 4"),
        (b"\x04" + cbor.encode({1: 1, 2: 0, 3: 0, 4: 0, 5: 0}), "unknown key 5"),
        (b"\x05" + cbor.encode("x"), "Ping token must be an integer"),
        (b"\x06" + cbor.encode(1) + b"\x00", "expected one CBOR data item"),
    ],
)
def test_malformed_app_messages_are_refused(data: bytes, message: str) -> None:
    with pytest.raises(EncodingError, match=message):
        decode_app_message(data)


def test_unknown_python_object_is_not_encoded() -> None:
    with pytest.raises(EncodingError, match="not an application message"):
        encode_app_message(electricity_batch())  # type: ignore[arg-type]
