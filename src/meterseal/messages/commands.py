"""Signed commands from the head-end to one meter, and the meter's checks before acting.

A command is a CBOR map (RFC 8949); all keys required, no others allowed:

===  ==========  ==================================================================
key  field       value
===  ==========  ==================================================================
1    command_id  uint 1..2^63-1, strictly increasing per meter (replay protection)
2    target      tstr, the meter id the command is for
3    issued_at   uint, Unix seconds (UTC) when the head-end signed it
4    expires_at  uint, Unix seconds (UTC); later than ``issued_at``
5    kind        uint, :class:`CommandKind`
6    params      map, the kind's parameters (table below)
===  ==========  ==================================================================

=====  ==========  =================================================================
kind   name        params map
=====  ==========  =================================================================
1      TIME_SYNC   ``{1: new_time}``, uint Unix seconds (UTC)
=====  ==========  =================================================================

Relay, tariff, credit, firmware and key-rotation commands are later kinds: each is one more
parameter class with its own key table, registered in ``_PARAMS``.

The head-end signs the encoded command as a COSE_Sign1 (RFC 9052 section 4.2) with the
external AAD ``"MeterSeal command v1"`` and, optionally, a kid naming its key. Before acting,
the meter runs :func:`verify_command`, which raises :class:`CommandRejectedError` with the first
failing check's reason: signature (``BAD_SIGNATURE``; ``MALFORMED`` for bytes that are no
command), target (``WRONG_TARGET``), not issued in the future beyond the skew allowance
(``NOT_YET_VALID``), not expired, with the same allowance (``EXPIRED``), and a command id
above the last accepted one (``REPLAYED``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import IntEnum
from typing import ClassVar, Final

from meterseal import cbor
from meterseal.crypto.cose import sign1 as cose_sign1
from meterseal.crypto.cose import verify1
from meterseal.crypto.interfaces import SignatureAlg, SigningKey
from meterseal.errors import EncodingError, SignatureError
from meterseal.messages.errors import CommandRejectedError, CommandRejectReason
from meterseal.messages.fields import (
    MAX_U63,
    METER_ID_PATTERN,
    expect_enum,
    expect_int,
    expect_map,
    expect_text,
    expect_time,
)
from meterseal.messages.sealing import require_canonical

COMMAND_AAD: Final = b"MeterSeal command v1"
"""External AAD of every command signature (domain separation)."""

DEFAULT_MAX_SKEW: Final = 300
"""Seconds of clock difference between head-end and meter that freshness checks allow."""


class CommandKind(IntEnum):
    """What a command asks the meter to do."""

    TIME_SYNC = 1


@dataclass(frozen=True, slots=True)
class TimeSync:
    """Set the meter's clock to ``new_time`` (integer Unix seconds, UTC)."""

    KIND: ClassVar[CommandKind] = CommandKind.TIME_SYNC
    new_time: int

    def __post_init__(self) -> None:
        expect_time(self.new_time, "TimeSync new_time")

    def to_cbor(self) -> dict[int, object]:
        """The params map."""
        return {1: self.new_time}

    @classmethod
    def from_cbor(cls, item: object) -> TimeSync:
        """Parse the params map."""
        return cls(expect_map(item, {1: "new_time"}, "TimeSync params")[1])


CommandParams = TimeSync
"""The parameters of any command kind (a union as kinds are added)."""

_PARAMS: Final[dict[CommandKind, Callable[[object], CommandParams]]] = {
    CommandKind.TIME_SYNC: TimeSync.from_cbor,
}

COMMAND_ID, TARGET, ISSUED_AT, EXPIRES_AT, KIND, PARAMS = range(1, 7)
COMMAND_KEYS: Final = {
    COMMAND_ID: "command_id",
    TARGET: "target",
    ISSUED_AT: "issued_at",
    EXPIRES_AT: "expires_at",
    KIND: "kind",
    PARAMS: "params",
}


@dataclass(frozen=True, slots=True)
class Command:
    """A command for one meter; its kind follows from its parameters."""

    command_id: int
    target: str
    issued_at: int
    expires_at: int
    params: CommandParams

    def __post_init__(self) -> None:
        expect_int(self.command_id, "Command command_id", 1, MAX_U63)
        expect_text(self.target, "Command target", METER_ID_PATTERN)
        expect_time(self.issued_at, "Command issued_at")
        expect_time(self.expires_at, "Command expires_at")
        if self.expires_at <= self.issued_at:
            raise EncodingError("Command expires_at must be later than issued_at")
        if not isinstance(self.params, CommandParams):
            raise EncodingError(f"Command params of unknown kind: {self.params!r}")

    @property
    def kind(self) -> CommandKind:
        """The command's kind."""
        return self.params.KIND


def encode_command(command: Command) -> bytes:
    """The command's CBOR encoding (the COSE_Sign1 payload)."""
    return cbor.encode(
        {
            COMMAND_ID: command.command_id,
            TARGET: command.target,
            ISSUED_AT: command.issued_at,
            EXPIRES_AT: command.expires_at,
            KIND: int(command.kind),
            PARAMS: command.params.to_cbor(),
        }
    )


def decode_command(data: bytes) -> Command:
    """Parse a command payload; raise :class:`EncodingError` naming the first bad field."""
    fields = expect_map(cbor.decode(data), COMMAND_KEYS, "Command")
    kind = expect_enum(CommandKind, fields[KIND], "Command kind")
    return Command(
        command_id=fields[COMMAND_ID],
        target=fields[TARGET],
        issued_at=fields[ISSUED_AT],
        expires_at=fields[EXPIRES_AT],
        params=_PARAMS[kind](fields[PARAMS]),
    )


def sign_command(
    command: Command, key: SigningKey, alg: SignatureAlg, *, kid: bytes | None = None
) -> bytes:
    """Sign ``command`` with the head-end's command key: a tagged COSE_Sign1."""
    return cose_sign1(key, alg, encode_command(command), kid=kid, external_aad=COMMAND_AAD)


def verify_command(
    signed: bytes,
    alg: SignatureAlg,
    headend_public_key: bytes,
    *,
    meter_id: str,
    now: int,
    last_command_id: int,
    max_skew: int = DEFAULT_MAX_SKEW,
) -> Command:
    """Return the command if this meter may act on it, else raise :class:`CommandRejectedError`.

    ``now`` is the meter's clock (Unix seconds) and ``last_command_id`` the id of the last
    command it accepted (0 before the first). The caller records the returned command's id
    as accepted once it acts on it.
    """
    command = _authenticated(signed, alg, headend_public_key)
    check_command(
        command, meter_id=meter_id, now=now, last_command_id=last_command_id, max_skew=max_skew
    )
    return command


def _authenticated(signed: bytes, alg: SignatureAlg, public_key: bytes) -> Command:
    """Verify the signature first, then parse; map failures to reject reasons."""
    try:
        message = verify1(signed, alg, public_key, external_aad=COMMAND_AAD)
        require_canonical(signed, message)
        return decode_command(message.payload)
    except SignatureError as exc:
        raise CommandRejectedError(CommandRejectReason.BAD_SIGNATURE, str(exc)) from exc
    except EncodingError as exc:
        raise CommandRejectedError(CommandRejectReason.MALFORMED, str(exc)) from exc


def check_command(
    command: Command, *, meter_id: str, now: int, last_command_id: int, max_skew: int
) -> None:
    """The target, freshness and replay checks of an authenticated command."""
    reason, detail = CommandRejectReason.NONE, ""
    if command.target != meter_id:
        reason, detail = CommandRejectReason.WRONG_TARGET, f"for {command.target!r}"
    elif command.issued_at > now + max_skew:
        reason, detail = CommandRejectReason.NOT_YET_VALID, f"issued at {command.issued_at}"
    elif now >= command.expires_at + max_skew:
        reason, detail = CommandRejectReason.EXPIRED, f"expired at {command.expires_at}"
    elif command.command_id <= last_command_id:
        reason, detail = CommandRejectReason.REPLAYED, f"last accepted id {last_command_id}"
    if reason is not CommandRejectReason.NONE:
        raise CommandRejectedError(reason, f"command {command.command_id} {detail} (now {now})")
