"""Acknowledgements: the head-end's answer to a batch, the meter's answer to a command.

A meter keeps every batch until the head-end acknowledges it, and the head-end
acknowledges only after the batch is durable (docs: DESIGN "Upload"). ``DUPLICATE`` tells
the meter a batch was already stored; ``REJECTED`` with ``UNAVAILABLE`` asks it to send
again later; any other rejection is final for that batch.

BatchAck map (all keys required, no others):

===  ==========  ===============================================================
key  field       value
===  ==========  ===============================================================
1    meter_id    tstr, the meter id
2    batch_seq   uint, the acknowledged batch
3    status      uint, :class:`AckStatus`
4    reason      uint, :class:`BatchRejectReason`; 0 unless status is REJECTED
===  ==========  ===============================================================

CommandAck map (all keys required, no others):

===  ==========  ===============================================================
key  field       value
===  ==========  ===============================================================
1    command_id  uint, the acknowledged command
2    status      uint, :class:`CommandStatus`
3    reason      uint, :class:`~meterseal.messages.errors.CommandRejectReason`;
                 0 unless status is REJECTED
4    detail      int (signed 64-bit), kind-specific outcome, e.g. the clock
                 adjustment in seconds a time sync made; 0 if none
===  ==========  ===============================================================
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum
from typing import Final

from meterseal import cbor
from meterseal.errors import EncodingError
from meterseal.messages.errors import CommandRejectReason
from meterseal.messages.fields import (
    MAX_U63,
    METER_ID_PATTERN,
    MIN_S64,
    expect_enum,
    expect_int,
    expect_map,
    expect_text,
    expect_uint,
)


class AckStatus(IntEnum):
    """The head-end's verdict on a batch."""

    ACCEPTED = 0
    DUPLICATE = 1
    REJECTED = 2


class BatchRejectReason(IntEnum):
    """Why the head-end rejected a batch."""

    NONE = 0
    MALFORMED = 1
    BAD_SIGNATURE = 2
    UNKNOWN_METER = 3
    WRONG_METER = 4
    UNAVAILABLE = 5


class CommandStatus(IntEnum):
    """The meter's outcome for a command."""

    EXECUTED = 0
    REJECTED = 1
    FAILED = 2


def _check_reason(rejected: bool, reason: IntEnum, what: str) -> None:
    """A reason is given exactly when the status is a rejection."""
    if rejected == (reason == 0):
        raise EncodingError(f"{what} reason must be given exactly when the status is REJECTED")


@dataclass(frozen=True, slots=True)
class BatchAck:
    """The head-end's acknowledgement of one batch."""

    meter_id: str
    batch_seq: int
    status: AckStatus
    reason: BatchRejectReason = BatchRejectReason.NONE

    def __post_init__(self) -> None:
        expect_text(self.meter_id, "BatchAck meter_id", METER_ID_PATTERN)
        expect_uint(self.batch_seq, "BatchAck batch_seq")
        if not isinstance(self.status, AckStatus):
            raise EncodingError(f"BatchAck status must be an AckStatus: {self.status!r}")
        if not isinstance(self.reason, BatchRejectReason):
            raise EncodingError(f"BatchAck reason must be a BatchRejectReason: {self.reason!r}")
        _check_reason(self.status is AckStatus.REJECTED, self.reason, "BatchAck")


@dataclass(frozen=True, slots=True)
class CommandAck:
    """The meter's acknowledgement of one command."""

    command_id: int
    status: CommandStatus
    reason: CommandRejectReason = CommandRejectReason.NONE
    detail: int = 0

    def __post_init__(self) -> None:
        expect_uint(self.command_id, "CommandAck command_id")
        if not isinstance(self.status, CommandStatus):
            raise EncodingError(f"CommandAck status must be a CommandStatus: {self.status!r}")
        if not isinstance(self.reason, CommandRejectReason):
            raise EncodingError(f"CommandAck reason must be a reject reason: {self.reason!r}")
        _check_reason(self.status is CommandStatus.REJECTED, self.reason, "CommandAck")
        expect_int(self.detail, "CommandAck detail", MIN_S64, MAX_U63)


_BATCH_ACK_KEYS: Final = {1: "meter_id", 2: "batch_seq", 3: "status", 4: "reason"}
_COMMAND_ACK_KEYS: Final = {1: "command_id", 2: "status", 3: "reason", 4: "detail"}


def encode_batch_ack(ack: BatchAck) -> bytes:
    """The batch ack's CBOR map."""
    return cbor.encode({1: ack.meter_id, 2: ack.batch_seq, 3: int(ack.status), 4: int(ack.reason)})


def decode_batch_ack(data: bytes) -> BatchAck:
    """Parse a batch ack."""
    fields = expect_map(cbor.decode(data), _BATCH_ACK_KEYS, "BatchAck")
    return BatchAck(
        meter_id=fields[1],
        batch_seq=fields[2],
        status=expect_enum(AckStatus, fields[3], "BatchAck status"),
        reason=expect_enum(BatchRejectReason, fields[4], "BatchAck reason"),
    )


def encode_command_ack(ack: CommandAck) -> bytes:
    """The command ack's CBOR map."""
    return cbor.encode({1: ack.command_id, 2: int(ack.status), 3: int(ack.reason), 4: ack.detail})


def decode_command_ack(data: bytes) -> CommandAck:
    """Parse a command ack."""
    fields = expect_map(cbor.decode(data), _COMMAND_ACK_KEYS, "CommandAck")
    return CommandAck(
        command_id=fields[1],
        status=expect_enum(CommandStatus, fields[2], "CommandAck status"),
        reason=expect_enum(CommandRejectReason, fields[3], "CommandAck reason"),
        detail=fields[4],
    )
