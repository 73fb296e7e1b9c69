"""Errors of the application messages, and the reason codes that acknowledgements carry.

They join the one error tree (:mod:`meterseal.errors`): a rejected command is a
:class:`~meterseal.errors.MeterSealError` carrying the :class:`CommandRejectReason` that the
meter sends back in its :class:`~meterseal.messages.acks.CommandAck`; the precise cause
stays in the message text, for the meter's log.
"""

from __future__ import annotations

from enum import IntEnum

from meterseal.errors import MeterSealError, VerificationError


class CommandRejectReason(IntEnum):
    """Why a meter refused a command (sent back in a command ack)."""

    NONE = 0
    MALFORMED = 1
    BAD_SIGNATURE = 2
    WRONG_TARGET = 3
    EXPIRED = 4
    NOT_YET_VALID = 5
    REPLAYED = 6
    UNSUPPORTED = 7


class CommandRejectedError(MeterSealError):
    """A meter refused a command; ``reason`` is the code for the acknowledgement."""

    def __init__(self, reason: CommandRejectReason, message: str) -> None:
        super().__init__(f"{reason.name}: {message}")
        self.reason = reason


class IdentityMismatchError(VerificationError):
    """A correctly signed message names another identity than the key id it was signed under."""
