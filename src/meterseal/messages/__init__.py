"""CBOR application messages (RFC 8949), sans-IO: reading batches, events, commands, acks.

Wire input becomes typed, immutable objects here, at the edge; anything malformed raises
:class:`~meterseal.errors.EncodingError` naming the message and field. Each module's
docstring holds its CBOR key table:

* :mod:`~meterseal.messages.batch`: :class:`ReadingBatch`, readings in
  :mod:`~meterseal.messages.readings` (columnar, RFC 8746 typed arrays) and events in
  :mod:`~meterseal.messages.events`;
* :mod:`~meterseal.messages.sealing`: the meter's COSE_Sign1 over a batch;
* :mod:`~meterseal.messages.commands`: signed head-end commands and the meter's checks;
* :mod:`~meterseal.messages.acks`: batch and command acknowledgements;
* :mod:`~meterseal.messages.envelope`: the type byte in front of every message.
"""

from meterseal.messages.acks import (
    AckStatus,
    BatchAck,
    BatchRejectReason,
    CommandAck,
    CommandStatus,
    decode_batch_ack,
    decode_command_ack,
    encode_batch_ack,
    encode_command_ack,
)
from meterseal.messages.batch import ReadingBatch, decode_batch, encode_batch
from meterseal.messages.commands import (
    Command,
    CommandKind,
    CommandParams,
    TimeSync,
    decode_command,
    encode_command,
    sign_command,
    verify_command,
)
from meterseal.messages.envelope import (
    AppMessage,
    MessageType,
    Ping,
    Pong,
    SignedBatch,
    SignedCommand,
    decode_app_message,
    encode_app_message,
)
from meterseal.messages.errors import (
    CommandRejectedError,
    CommandRejectReason,
    IdentityMismatchError,
)
from meterseal.messages.events import EventKind, MeterEvent
from meterseal.messages.readings import (
    ElectricityReading,
    ElectricityReadings,
    MeterType,
    Readings,
    VolumeReading,
    VolumeReadings,
)
from meterseal.messages.sealing import open_batch, peek_batch_header, seal_batch

__all__ = [
    "AckStatus",
    "AppMessage",
    "BatchAck",
    "BatchRejectReason",
    "Command",
    "CommandAck",
    "CommandKind",
    "CommandParams",
    "CommandRejectReason",
    "CommandRejectedError",
    "CommandStatus",
    "ElectricityReading",
    "ElectricityReadings",
    "EventKind",
    "IdentityMismatchError",
    "MessageType",
    "MeterEvent",
    "MeterType",
    "Ping",
    "Pong",
    "ReadingBatch",
    "Readings",
    "SignedBatch",
    "SignedCommand",
    "TimeSync",
    "VolumeReading",
    "VolumeReadings",
    "decode_app_message",
    "decode_batch",
    "decode_batch_ack",
    "decode_command",
    "decode_command_ack",
    "encode_app_message",
    "encode_batch",
    "encode_batch_ack",
    "encode_command",
    "encode_command_ack",
    "open_batch",
    "peek_batch_header",
    "seal_batch",
    "sign_command",
    "verify_command",
]
