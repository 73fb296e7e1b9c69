"""Store-and-forward: every signed batch stays on the meter until the head-end acknowledges it.

docs/protocol.md section 5, step 6: the meter sends its batches oldest first and drops one
only on ACCEPTED or DUPLICATE. A REJECTED batch with reason UNAVAILABLE stays pending (the
head-end asks for it again later); any other rejection is final, and the batch is kept
aside as *rejected* (evidence for the operator) instead of being resent forever.

The buffer also keeps the id of the last command the meter accepted, so that a replayed
command is refused after a restart too (docs/protocol.md, 8.2).

Two backends behind :class:`BatchBuffer`: :class:`MemoryBuffer` (tests, throw-away
simulations) and :class:`SqliteBuffer` (one SQLite file, usable by a whole fleet: every row
is keyed by ``(meter_id, batch_seq)``).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, Protocol

from meterseal.errors import MeterSealError
from meterseal.messages.acks import BatchRejectReason


class StoreForwardError(MeterSealError):
    """The store-and-forward buffer could not be read or written."""


@dataclass(frozen=True, slots=True)
class PendingBatch:
    """One buffered signed batch, exactly as the secure element signed it."""

    meter_id: str
    batch_seq: int
    signed: bytes


class BatchBuffer(Protocol):
    """Where a meter keeps its batches until they are acknowledged."""

    def put(self, meter_id: str, batch_seq: int, signed: bytes) -> None:
        """Keep a new batch; a (meter, sequence) already buffered is an error."""
        ...

    def pending(self, meter_id: str, limit: int | None = None) -> list[PendingBatch]:
        """The meter's unacknowledged batches, oldest (lowest sequence) first."""
        ...

    def acknowledged(self, meter_id: str, batch_seq: int) -> None:
        """ACCEPTED or DUPLICATE: forget the batch (no error if it is already gone)."""
        ...

    def rejected(self, meter_id: str, batch_seq: int, reason: BatchRejectReason) -> None:
        """A final rejection: keep the batch aside; it is no longer pending."""
        ...

    def rejected_batches(self, meter_id: str) -> list[tuple[int, BatchRejectReason]]:
        """The meter's finally rejected batches and why, by sequence."""
        ...

    def last_command_id(self, meter_id: str) -> int:
        """The id of the last command the meter accepted (0 before the first)."""
        ...

    def command_accepted(self, meter_id: str, command_id: int) -> None:
        """Record an accepted command's id, durably, before the meter acts on it."""
        ...

    def close(self) -> None:
        """Release the backend."""
        ...


def _check_increasing(last: int, command_id: int) -> None:
    if command_id <= last:
        raise StoreForwardError(f"command id {command_id} is not above the last accepted {last}")


class MemoryBuffer:
    """A buffer in memory: lost with the process."""

    def __init__(self) -> None:
        self._pending: dict[str, dict[int, bytes]] = {}
        self._rejected: dict[str, dict[int, BatchRejectReason]] = {}
        self._commands: dict[str, int] = {}

    def put(self, meter_id: str, batch_seq: int, signed: bytes) -> None:
        """Keep a new batch."""
        batches = self._pending.setdefault(meter_id, {})
        if batch_seq in batches or batch_seq in self._rejected.get(meter_id, {}):
            raise StoreForwardError(f"batch {batch_seq} of {meter_id!r} is already buffered")
        batches[batch_seq] = signed

    def pending(self, meter_id: str, limit: int | None = None) -> list[PendingBatch]:
        """Oldest first."""
        batches = self._pending.get(meter_id, {})
        order = sorted(batches)[:limit]
        return [PendingBatch(meter_id, seq, batches[seq]) for seq in order]

    def acknowledged(self, meter_id: str, batch_seq: int) -> None:
        """Forget the batch."""
        self._pending.get(meter_id, {}).pop(batch_seq, None)

    def rejected(self, meter_id: str, batch_seq: int, reason: BatchRejectReason) -> None:
        """Move the batch aside."""
        if self._pending.get(meter_id, {}).pop(batch_seq, None) is not None:
            self._rejected.setdefault(meter_id, {})[batch_seq] = reason

    def rejected_batches(self, meter_id: str) -> list[tuple[int, BatchRejectReason]]:
        """By sequence."""
        return sorted(self._rejected.get(meter_id, {}).items())

    def last_command_id(self, meter_id: str) -> int:
        """0 before the first command."""
        return self._commands.get(meter_id, 0)

    def command_accepted(self, meter_id: str, command_id: int) -> None:
        """Record the id."""
        _check_increasing(self.last_command_id(meter_id), command_id)
        self._commands[meter_id] = command_id

    def close(self) -> None:
        """Nothing to release."""


_SCHEMA: Final = (
    """CREATE TABLE IF NOT EXISTS meter_batches (
        meter_id  TEXT    NOT NULL,
        batch_seq INTEGER NOT NULL,
        signed    BLOB    NOT NULL,
        rejected  INTEGER,
        PRIMARY KEY (meter_id, batch_seq)
    ) WITHOUT ROWID""",
    """CREATE TABLE IF NOT EXISTS meter_commands (
        meter_id        TEXT    PRIMARY KEY,
        last_command_id INTEGER NOT NULL
    ) WITHOUT ROWID""",
)
"""``rejected`` is NULL while a batch is pending, else its BatchRejectReason."""


class SqliteBuffer:
    """A durable buffer in one SQLite file (WAL), shared by any number of meters.

    ``synchronous`` is SQLite's setting: FULL (the default) survives power loss; NORMAL
    survives a crash of the process, which is enough for a simulated fleet.
    """

    def __init__(self, path: str | Path, *, synchronous: str = "FULL") -> None:
        if synchronous.upper() not in ("FULL", "NORMAL", "OFF"):
            raise StoreForwardError(f"unknown synchronous setting {synchronous!r}")
        try:
            self._db = sqlite3.connect(str(path), isolation_level=None)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute(f"PRAGMA synchronous={synchronous.upper()}")
            for statement in _SCHEMA:
                self._db.execute(statement)
        except sqlite3.Error as exc:
            raise StoreForwardError(f"cannot open the buffer {path}: {exc}") from exc

    def _run(self, sql: str, params: Iterable[object] = ()) -> list[tuple[Any, ...]]:
        """Run one statement (autocommit: durable on return); translate sqlite3 errors."""
        try:
            return self._db.execute(sql, tuple(params)).fetchall()
        except sqlite3.IntegrityError as exc:
            raise StoreForwardError(f"buffer constraint failed: {exc}") from exc
        except sqlite3.Error as exc:
            raise StoreForwardError(f"buffer query failed: {exc}") from exc

    def put(self, meter_id: str, batch_seq: int, signed: bytes) -> None:
        """Keep a new batch (durable when this returns)."""
        self._run(
            "INSERT INTO meter_batches (meter_id, batch_seq, signed) VALUES (?, ?, ?)",
            (meter_id, batch_seq, signed),
        )

    def pending(self, meter_id: str, limit: int | None = None) -> list[PendingBatch]:
        """Oldest first."""
        rows = self._run(
            "SELECT batch_seq, signed FROM meter_batches WHERE meter_id = ? AND rejected IS NULL"
            " ORDER BY batch_seq LIMIT ?",
            (meter_id, -1 if limit is None else limit),
        )
        return [PendingBatch(meter_id, int(seq), _blob(signed)) for seq, signed in rows]

    def acknowledged(self, meter_id: str, batch_seq: int) -> None:
        """Forget the batch."""
        self._run(
            "DELETE FROM meter_batches WHERE meter_id = ? AND batch_seq = ? AND rejected IS NULL",
            (meter_id, batch_seq),
        )

    def rejected(self, meter_id: str, batch_seq: int, reason: BatchRejectReason) -> None:
        """Move the batch aside."""
        self._run(
            "UPDATE meter_batches SET rejected = ? WHERE meter_id = ? AND batch_seq = ?",
            (int(reason), meter_id, batch_seq),
        )

    def rejected_batches(self, meter_id: str) -> list[tuple[int, BatchRejectReason]]:
        """By sequence."""
        rows = self._run(
            "SELECT batch_seq, rejected FROM meter_batches"
            " WHERE meter_id = ? AND rejected IS NOT NULL ORDER BY batch_seq",
            (meter_id,),
        )
        return [(int(seq), BatchRejectReason(reason)) for seq, reason in rows]

    def last_command_id(self, meter_id: str) -> int:
        """0 before the first command."""
        rows = self._run(
            "SELECT last_command_id FROM meter_commands WHERE meter_id = ?", (meter_id,)
        )
        return int(rows[0][0]) if rows else 0

    def command_accepted(self, meter_id: str, command_id: int) -> None:
        """Record the id (durable when this returns)."""
        _check_increasing(self.last_command_id(meter_id), command_id)
        self._run(
            "INSERT INTO meter_commands (meter_id, last_command_id) VALUES (?, ?)"
            " ON CONFLICT (meter_id) DO UPDATE SET last_command_id = excluded.last_command_id",
            (meter_id, command_id),
        )

    def close(self) -> None:
        """Close the database."""
        self._db.close()


def _blob(value: object) -> bytes:
    """A stored signed batch; anything but bytes means a damaged buffer."""
    if not isinstance(value, bytes):
        raise StoreForwardError("a buffered batch is not a blob")
    return value
