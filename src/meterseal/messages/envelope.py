"""The application message: what travels inside one protected record.

An application message is a CBOR sequence (RFC 8742) of two items: a type code, then the
body. Every type code is below 24, so it is exactly one byte (RFC 8949 section 3.1), and the
body is the rest of the record::

    app message = type (1 byte, uint 1..23) || body

====  ==============  ===================================================================
type  message         body
====  ==============  ===================================================================
1     SignedBatch     a batch's COSE_Sign1, byte for byte (:mod:`~.sealing`)
2     BatchAck        the BatchAck map (:mod:`~.acks`)
3     SignedCommand   a command's COSE_Sign1, byte for byte (:mod:`~.commands`)
4     CommandAck      the CommandAck map (:mod:`~.acks`)
5     Ping            uint token (0..2^63-1): a keep-alive asking for a Pong
6     Pong            uint token, echoing the Ping's
====  ==============  ===================================================================

Signed bodies are kept as the exact bytes that were signed, so the head-end can verify
them, store them and hash them into the ledger without re-encoding. They are *not*
verified here: :func:`decode_app_message` only checks that they start as a tagged
COSE_Sign1; ``open_batch`` and ``verify_command`` authenticate and parse them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import IntEnum
from typing import Any, Final

from meterseal import cbor
from meterseal.errors import EncodingError
from meterseal.messages.acks import (
    BatchAck,
    CommandAck,
    decode_batch_ack,
    decode_command_ack,
    encode_batch_ack,
    encode_command_ack,
)
from meterseal.messages.fields import expect_bytes, expect_uint

_COSE_SIGN1_HEAD: Final = b"\xd2"
"""The initial byte of a tagged COSE_Sign1: major type 6, tag 18."""


class MessageType(IntEnum):
    """The type code in front of every application message."""

    SIGNED_BATCH = 1
    BATCH_ACK = 2
    SIGNED_COMMAND = 3
    COMMAND_ACK = 4
    PING = 5
    PONG = 6


def _check_signed(data: bytes, what: str) -> None:
    expect_bytes(data, what)
    if not data.startswith(_COSE_SIGN1_HEAD):
        raise EncodingError(f"{what} must be a tagged COSE_Sign1")


@dataclass(frozen=True, slots=True)
class SignedBatch:
    """A signed reading batch, NOT yet verified: pass ``data`` to ``open_batch``."""

    data: bytes

    def __post_init__(self) -> None:
        _check_signed(self.data, "SignedBatch")


@dataclass(frozen=True, slots=True)
class SignedCommand:
    """A signed command, NOT yet verified: pass ``data`` to ``verify_command``."""

    data: bytes

    def __post_init__(self) -> None:
        _check_signed(self.data, "SignedCommand")


@dataclass(frozen=True, slots=True)
class Ping:
    """A keep-alive; the peer answers with a :class:`Pong` echoing ``token``."""

    token: int

    def __post_init__(self) -> None:
        expect_uint(self.token, "Ping token")


@dataclass(frozen=True, slots=True)
class Pong:
    """The answer to a :class:`Ping`."""

    token: int

    def __post_init__(self) -> None:
        expect_uint(self.token, "Pong token")


AppMessage = SignedBatch | BatchAck | SignedCommand | CommandAck | Ping | Pong
"""Any message that travels inside a protected record."""

_ENCODERS: Final[dict[type[Any], tuple[MessageType, Callable[[Any], bytes]]]] = {
    SignedBatch: (MessageType.SIGNED_BATCH, lambda m: m.data),
    BatchAck: (MessageType.BATCH_ACK, encode_batch_ack),
    SignedCommand: (MessageType.SIGNED_COMMAND, lambda m: m.data),
    CommandAck: (MessageType.COMMAND_ACK, encode_command_ack),
    Ping: (MessageType.PING, lambda m: cbor.encode(m.token)),
    Pong: (MessageType.PONG, lambda m: cbor.encode(m.token)),
}

_DECODERS: Final[dict[MessageType, Callable[[bytes], AppMessage]]] = {
    MessageType.SIGNED_BATCH: SignedBatch,
    MessageType.BATCH_ACK: decode_batch_ack,
    MessageType.SIGNED_COMMAND: SignedCommand,
    MessageType.COMMAND_ACK: decode_command_ack,
    MessageType.PING: lambda body: Ping(cbor.decode(body)),
    MessageType.PONG: lambda body: Pong(cbor.decode(body)),
}


def encode_app_message(message: AppMessage) -> bytes:
    """The type byte followed by the message's body."""
    try:
        message_type, encode_body = _ENCODERS[type(message)]
    except KeyError:
        raise EncodingError(f"not an application message: {type(message).__name__}") from None
    return bytes((message_type,)) + encode_body(message)


def decode_app_message(data: bytes) -> AppMessage:
    """Parse the type byte and the body; signed bodies stay unverified bytes."""
    if not data:
        raise EncodingError("application message is empty")
    try:
        message_type = MessageType(data[0])
    except ValueError:
        raise EncodingError(f"unknown application message type byte {data[0]:#04x}") from None
    return _DECODERS[message_type](data[1:])
