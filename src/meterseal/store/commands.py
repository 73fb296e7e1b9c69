"""The command queue: signed head-end commands per meter, their delivery and the meter's ack.

A command row is created ``queued`` with the head-end's signed bytes, becomes ``sent``
when the head-end hands it to a connected meter, and ends ``acked`` (the meter executed
it), ``rejected`` (the meter refused it), ``failed`` (the meter tried and failed) or
``expired`` (it was still undelivered at its expiry time). A ``sent`` command whose ack
never arrived (the connection dropped) is delivered again on the next connection: the
meter's replay check (command ids strictly increase per meter) makes that safe.

Command ids come from the database (SQLite ``AUTOINCREMENT``, a PostgreSQL identity), so
they increase across the whole table and hence per meter. The id is signed inside the
command, so :meth:`CommandQueries.queue_command` allocates the id, asks the caller to sign
the command with it, and stores the signature in one transaction; concurrent queuers for
the same meter are serialised by a row lock on the meter, so ids reach a meter in the
order they commit.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any, Protocol

from meterseal.store.errors import UnknownMeterError

COMMAND_QUEUED = "queued"
COMMAND_SENT = "sent"
COMMAND_ACKED = "acked"
COMMAND_REJECTED = "rejected"
COMMAND_FAILED = "failed"
COMMAND_EXPIRED = "expired"
COMMAND_STATES = (
    COMMAND_QUEUED,
    COMMAND_SENT,
    COMMAND_ACKED,
    COMMAND_REJECTED,
    COMMAND_FAILED,
    COMMAND_EXPIRED,
)
OPEN_COMMAND_STATES = (COMMAND_QUEUED, COMMAND_SENT)
"""States in which a command still awaits its ack (and is delivered on connect)."""

SignCommand = Callable[[int], bytes]
"""Given the allocated command id, return the signed command (COSE_Sign1 bytes)."""


@dataclass(frozen=True, slots=True)
class CommandRow:
    """One queued command and what became of it."""

    command_id: int
    meter_id: str
    kind: int  # a CommandKind value
    signed_command: bytes  # the COSE_Sign1 the meter receives, byte for byte
    created_at: int  # unix seconds
    expires_at: int  # unix seconds; undelivered after this, the command expires
    state: str  # one of COMMAND_STATES
    sent_at: int | None = None
    acked_at: int | None = None
    ack_status: int | None = None  # CommandStatus of the meter's ack
    ack_reason: int | None = None  # CommandRejectReason of the meter's ack
    ack_detail: int | None = None  # kind-specific outcome (time sync: adjustment, s)


_COLUMNS = (
    "c.command_id, m.meter_id, c.kind, c.signed_command, c.created_at, c.expires_at, c.state,"
    " c.sent_at, c.acked_at, c.ack_status, c.ack_reason, c.ack_detail"
)
_SELECT = f"SELECT {_COLUMNS} FROM commands c JOIN meters m ON m.id = c.meter_ref"  # noqa: S608
_LOCK_METER = "UPDATE meters SET state = state WHERE meter_id = ?"
_INSERT = (
    "INSERT INTO commands (meter_ref, kind, signed_command, created_at, expires_at, state)"
    " SELECT id, ?, ?, ?, ?, 'queued' FROM meters WHERE meter_id = ? RETURNING command_id"
)
_SET_SIGNED = "UPDATE commands SET signed_command = ? WHERE command_id = ?"
_OPEN = _SELECT + " WHERE m.meter_id = ? AND c.state IN ('queued', 'sent') ORDER BY c.command_id"
_EXPIRE = (
    "UPDATE commands SET state = 'expired' WHERE state IN ('queued', 'sent') AND expires_at <= ?"
    " AND meter_ref = (SELECT id FROM meters WHERE meter_id = ?)"
)
_MARK_SENT = "UPDATE commands SET state = 'sent', sent_at = ? WHERE command_id = ? AND state = ?"
_ACK = (
    "UPDATE commands SET state = ?, acked_at = ?, ack_status = ?, ack_reason = ?, ack_detail = ?"
    " WHERE command_id = ? AND state IN ('queued', 'sent')"
    " AND meter_ref = (SELECT id FROM meters WHERE meter_id = ?)"
)


class _Query(Protocol):
    def one(self, sql: str, params: Sequence[object] = ()) -> tuple[Any, ...] | None: ...

    def all(self, sql: str, params: Sequence[object] = ()) -> list[tuple[Any, ...]]: ...

    def run(self, sql: str, params: Sequence[object] = ()) -> int: ...


def _row(row: tuple[Any, ...]) -> CommandRow:
    return CommandRow(row[0], row[1], row[2], bytes(row[3]), *row[4:])


class CommandQueries:
    """The command-queue methods of both SQL backends (mixed into ``SqlStore``)."""

    def _reading(self) -> AbstractContextManager[_Query]:
        raise NotImplementedError  # pragma: no cover - provided by SqlStore

    def _writing(self) -> AbstractContextManager[_Query]:
        raise NotImplementedError  # pragma: no cover - provided by SqlStore

    def queue_command(
        self, meter_id: str, kind: int, created_at: int, expires_at: int, sign: SignCommand
    ) -> CommandRow:
        """Allocate a command id, sign the command with it, store it ``queued``.

        :class:`UnknownMeterError` if the meter is not registered; if ``sign`` raises,
        nothing is stored.
        """
        with self._writing() as query:
            if query.run(_LOCK_METER, (meter_id,)) == 0:
                raise UnknownMeterError(f"meter {meter_id!r} is not registered")
            row = query.one(_INSERT, (kind, b"", created_at, expires_at, meter_id))
            if row is None:  # pragma: no cover - the meter row is locked above
                raise UnknownMeterError(f"meter {meter_id!r} is not registered")
            command_id = int(row[0])
            signed = sign(command_id)
            query.run(_SET_SIGNED, (signed, command_id))
        return CommandRow(command_id, meter_id, kind, signed, created_at, expires_at, "queued")

    def get_command(self, command_id: int) -> CommandRow | None:
        """The command with this id, or None."""
        with self._reading() as query:
            row = query.one(_SELECT + " WHERE c.command_id = ?", (command_id,))
        return None if row is None else _row(row)

    def open_commands(self, meter_id: str, now: int) -> list[CommandRow]:
        """The meter's commands still to deliver, oldest first; expire the stale ones."""
        with self._writing() as query:
            query.run(_EXPIRE, (now, meter_id))
            rows = query.all(_OPEN, (meter_id,))
        return [_row(row) for row in rows]

    def mark_commands_sent(self, command_ids: Sequence[int], sent_at: int) -> None:
        """Record that these commands were handed to the meter (queued -> sent)."""
        with self._writing() as query:
            for command_id in command_ids:
                query.run(_MARK_SENT, (sent_at, command_id, COMMAND_QUEUED))

    def record_command_ack(
        self,
        meter_id: str,
        command_id: int,
        *,
        state: str,
        acked_at: int,
        status: int,
        reason: int,
        detail: int,
    ) -> bool:
        """Record the meter's ack of its own open command; False if there was none."""
        params = (state, acked_at, status, reason, detail, command_id, meter_id)
        with self._writing() as query:
            return query.run(_ACK, params) == 1
