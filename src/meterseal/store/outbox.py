"""The ledger outbox: leaves queued in the collection store on their way to the ledger.

A transactional outbox (docs/ledger.md, "From ingest to the ledger"). Whatever the ledger
must record is written into ``ledger_outbox`` *in the same transaction* as the thing it
records: ``store_batches`` adds the :class:`~meterseal.ledger.leaves.BatchAccepted` leaf
of every STORED batch (not of a DUPLICATE or CONFLICT), :meth:`OutboxQueries.queue_logged_command`
the :class:`~meterseal.ledger.leaves.OperatorCommand` leaf of a queued command. So a batch
is acked only once it is stored *and* durably queued for the ledger, and no crash can
lose a leaf. Other producers (the head-end's authentication results) call
:meth:`OutboxQueries.enqueue_leaves`.

One forwarder per store (:mod:`meterseal.headend.ledger_forwarder`) drains the queue,
oldest first, in chunks. It holds a lease (``ledger_forwarder``, one row, taken and
renewed by :meth:`OutboxQueries.take_forwarder_lease`) so that a second forwarder on the
same store (another head-end machine on the same PostgreSQL) waits on standby instead of
submitting the same leaves. Each round:

1. ``pending_leaves(limit)``: the oldest queued leaves, ``(id, leaf)``;
2. ``begin_submission(ids, size_hint)``: record the chunk as *in flight*
   (``ledger_inflight``, one row), with a lower bound of the tree size it will land at
   (the last tree size the ledger reported to this store);
3. ``Ledger.submit(leaves)``;
4. ``mark_submitted(ids, submitted)``: one transaction deletes the chunk's outbox rows
   and the in-flight row and appends a ``ledger_submissions`` row (outbox ids, first leaf
   index, tree size, signed checkpoint). Outbox rows are a queue, not evidence; the
   submissions are kept, append-only (triggers refuse UPDATE and DELETE).

A leaf the ledger refuses as malformed (a leaf this code would not write, but a tool
could) would block the queue forever; the forwarder moves such leaves, and only those,
to ``ledger_refused`` with the reason (:meth:`OutboxQueries.refuse_leaves`) and goes on.

If the forwarder dies, or the ledger's answer is lost, between 3 and 4, the in-flight
row survives; before anything else the forwarder looks for the chunk in the ledger from
``size_hint`` on and either marks it submitted where it landed (``recovered``) or submits
it again. Each leaf therefore enters the log exactly once.

Outbox ids come from the database (SQLite ``AUTOINCREMENT``, a PostgreSQL identity), so
they order leaves by when they were queued; under PostgreSQL a transaction may commit a
lower id after a higher one was read, which is why chunks are marked by their exact ids,
never by a range.
"""

from __future__ import annotations

import hashlib
import struct
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Final, Protocol

from meterseal.cbor import encode_bstr, encode_int, encode_tstr
from meterseal.ledger.interface import Submitted
from meterseal.ledger.leaves import OperatorCommand, leaf_data
from meterseal.store.commands import CommandRow, SignCommand
from meterseal.store.errors import StoreError

_BATCH_LEAF_HEAD: Final = b"\x82\x01\xa3\x01"
"""``[1, {1: `` in canonical CBOR: kind BATCH_ACCEPTED, a map of three fields, key 1."""

ROWS_PER_STATEMENT: Final = 200
"""Rows per multi-row statement of the generic (non-bulk) paths."""

_ID = struct.Struct(">q")

_PENDING = "SELECT id, leaf FROM ledger_outbox ORDER BY id LIMIT ?"
_COUNT = "SELECT count(*) FROM ledger_outbox"
_INFLIGHT = "SELECT outbox_ids, size_hint FROM ledger_inflight WHERE slot = 1"
_BEGIN = "INSERT INTO ledger_inflight (slot, outbox_ids, size_hint, claimed_at) VALUES (1, ?, ?, ?)"
_SUBMISSIONS = (
    "SELECT first_outbox_id, last_outbox_id, count, first_index, tree_size, checkpoint,"
    " recovered, submitted_at FROM ledger_submissions ORDER BY submission_id"
)
_LAST_SIZE = "SELECT max(tree_size) FROM ledger_submissions"
_RECORD = (
    "INSERT INTO ledger_submissions (first_outbox_id, last_outbox_id, count, first_index,"
    " tree_size, checkpoint, recovered, submitted_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
)
_ENQUEUE_ONE = "INSERT INTO ledger_outbox (leaf, created_at) VALUES (?, ?)"
BACKFILL_PAGE_SIZE: Final = 10_000
_BACKFILL_PAGE = (
    "SELECT b.meter_ref, b.batch_seq, m.meter_id, b.batch_hash, b.received_at"
    " FROM batches b JOIN meters m ON m.id = b.meter_ref"
    " WHERE (b.meter_ref, b.batch_seq) > (?, ?) ORDER BY b.meter_ref, b.batch_seq LIMIT ?"
)
_NEW_LEASE = (
    "INSERT INTO ledger_forwarder (slot, holder, expires_at) VALUES (1, ?, ?)"
    " ON CONFLICT (slot) DO NOTHING"
)
_RENEW_LEASE = (
    "UPDATE ledger_forwarder SET holder = ?, expires_at = ?"
    " WHERE slot = 1 AND (holder = ? OR expires_at <= ?)"
)
_REFUSE = (
    "INSERT INTO ledger_refused (outbox_id, leaf, created_at, refused_at, reason)"
    " SELECT id, leaf, created_at, ?, ? FROM ledger_outbox WHERE id IN ({})"
)


def batch_leaf(meter_id: str, batch_seq: int, batch_hash: bytes) -> bytes:
    """The leaf data of ``BatchAccepted(meter_id, batch_seq, batch_hash)``, encoded directly.

    Byte for byte :func:`~meterseal.ledger.leaves.leaf_data` of that entry (docs/ledger.md
    section 6: ``[1, {1: meter_id, 2: batch_seq, 3: batch_hash}]``, canonical CBOR), at a
    fraction of its cost: it runs inside the ingest transaction, once per stored batch.
    """
    return b"".join(
        (
            _BATCH_LEAF_HEAD,
            encode_tstr(meter_id),
            b"\x02",
            encode_int(batch_seq),
            b"\x03",
            encode_bstr(batch_hash),
        )
    )


def pack_ids(ids: Sequence[int]) -> bytes:
    """Outbox ids as the ``ledger_inflight.outbox_ids`` blob (big-endian int64 each)."""
    return b"".join(map(_ID.pack, ids))


def unpack_ids(blob: bytes) -> tuple[int, ...]:
    """The ids :func:`pack_ids` packed."""
    return tuple(value for (value,) in _ID.iter_unpack(blob))


@dataclass(frozen=True, slots=True)
class InFlight:
    """The chunk on its way to the ledger: its outbox ids and leaves, in order, and a
    lower bound of the tree size it lands at (so where to look for it)."""

    ids: tuple[int, ...]
    leaves: tuple[bytes, ...]
    size_hint: int


@dataclass(frozen=True, slots=True)
class SubmissionRow:
    """Where one submitted chunk of the outbox landed in the log."""

    first_outbox_id: int
    last_outbox_id: int
    count: int
    first_index: int
    tree_size: int
    checkpoint: bytes
    recovered: bool  # found in the log after a lost answer, not returned by submit
    submitted_at: int


class _Query(Protocol):
    def one(self, sql: str, params: Sequence[object] = ()) -> tuple[Any, ...] | None: ...

    def all(self, sql: str, params: Sequence[object] = ()) -> list[tuple[Any, ...]]: ...

    def run(self, sql: str, params: Sequence[object] = ()) -> int: ...


@lru_cache(maxsize=16)
def _enqueue_sql(rows: int) -> str:
    values = ", ".join(["(?, ?)"] * rows)
    return f"INSERT INTO ledger_outbox (leaf, created_at) VALUES {values}"  # noqa: S608 - placeholders only


@lru_cache(maxsize=16)
def _ids_sql(template: str, count: int) -> str:
    return template.format(", ".join("?" * count))


def _groups(values: Sequence[Any], size: int) -> Iterator[Sequence[Any]]:
    return (values[start : start + size] for start in range(0, len(values), size))


def _rows_by_id(query: _Query, ids: Sequence[int]) -> dict[int, bytes]:
    found: dict[int, bytes] = {}
    for group in _groups(ids, ROWS_PER_STATEMENT):
        sql = _ids_sql("SELECT id, leaf FROM ledger_outbox WHERE id IN ({})", len(group))
        found.update((int(row_id), bytes(leaf)) for row_id, leaf in query.all(sql, group))
    return found


def insert_leaves(query: _Query, entries: Sequence[bytes], now: int) -> None:
    """Queue leaf data entries with multi-row INSERTs on a connection in a transaction."""
    _insert_rows(query, [(leaf, now) for leaf in entries])


def _insert_rows(query: _Query, rows: Sequence[tuple[bytes, int]]) -> None:
    """``(leaf, created_at)`` rows into the outbox, in order."""
    for group in _groups(rows, ROWS_PER_STATEMENT):
        query.run(_enqueue_sql(len(group)), [item for row in group for item in row])


def backfill_batch_leaves(query: _Query) -> None:
    """Schema version 5: queue the BatchAccepted leaf of every batch stored before the
    outbox existed, in (meter, sequence) order, a page at a time."""
    after: tuple[int, int] = (-1, -1)
    while rows := query.all(_BACKFILL_PAGE, (*after, BACKFILL_PAGE_SIZE)):
        _insert_rows(
            query,
            [
                (batch_leaf(meter_id, seq, bytes(digest)), at)
                for _, seq, meter_id, digest, at in rows
            ],
        )
        after = rows[-1][0], rows[-1][1]


def _submission(row: tuple[Any, ...]) -> SubmissionRow:
    first, last, count, index, size, checkpoint, recovered, at = row
    return SubmissionRow(first, last, count, index, size, bytes(checkpoint), bool(recovered), at)


class OutboxQueries:
    """The outbox methods of both SQL backends (mixed into ``SqlStore``)."""

    def _reading(self) -> AbstractContextManager[_Query]:
        raise NotImplementedError  # pragma: no cover - provided by SqlStore

    def _writing(self) -> AbstractContextManager[_Query]:
        raise NotImplementedError  # pragma: no cover - provided by SqlStore

    def queue_command(
        self, meter_id: str, kind: int, created_at: int, expires_at: int, sign: SignCommand
    ) -> CommandRow:
        raise NotImplementedError  # pragma: no cover - provided by CommandQueries

    def enqueue_leaves(self, entries: Sequence[bytes], now: int) -> None:
        """Queue leaf data entries for the ledger, in order, in one transaction."""
        if entries:
            with self._writing() as query:
                insert_leaves(query, entries, now)

    def pending_leaves(self, limit: int) -> list[tuple[int, bytes]]:
        """The oldest ``limit`` queued leaves as ``(outbox id, leaf data)``, by id."""
        with self._reading() as query:
            rows = query.all(_PENDING, (limit,))
        return [(int(row_id), bytes(leaf)) for row_id, leaf in rows]

    def count_pending_leaves(self) -> int:
        """The number of leaves queued and not yet submitted."""
        with self._reading() as query:
            row = query.one(_COUNT)
        return 0 if row is None else int(row[0])

    def take_forwarder_lease(self, holder: str, now: int, ttl: int) -> bool:
        """Take or renew the forwarder lease for ``ttl`` seconds; False while another
        holder's lease runs. The conditional UPDATE decides between racing takers (a
        PostgreSQL UPDATE re-checks its condition on the row another one just changed)."""
        with self._writing() as query:
            if query.run(_NEW_LEASE, (holder, now + ttl)) == 1:
                return True
            return query.run(_RENEW_LEASE, (holder, now + ttl, holder, now)) == 1

    def release_forwarder_lease(self, holder: str) -> None:
        """Give the lease up (if ``holder`` has it), so that a standby takes over at once."""
        with self._writing() as query:
            query.run("DELETE FROM ledger_forwarder WHERE holder = ?", (holder,))

    def begin_submission(self, ids: Sequence[int], size_hint: int, now: int) -> None:
        """Record the chunk ``ids`` as in flight; :class:`StoreError` if one already is."""
        if not ids:
            raise StoreError("a submission needs at least one outbox id")
        with self._writing() as query:
            if query.one(_INFLIGHT) is not None:
                raise StoreError("a ledger submission is already in flight")
            query.run(_BEGIN, (pack_ids(ids), size_hint, now))

    def inflight_submission(self) -> InFlight | None:
        """The chunk recorded in flight and not marked submitted, or None."""
        with self._reading() as query:
            row = query.one(_INFLIGHT)
            if row is None:
                return None
            ids = unpack_ids(bytes(row[0]))
            found = _rows_by_id(query, ids)
        if len(found) != len(ids):
            raise StoreError("outbox rows of the submission in flight are missing")
        return InFlight(ids, tuple(found[row_id] for row_id in ids), int(row[1]))

    def mark_submitted(
        self, ids: Sequence[int], submitted: Submitted, now: int, *, recovered: bool = False
    ) -> None:
        """In one transaction: drop the outbox rows ``ids`` and the in-flight record, and
        append where they landed to ``ledger_submissions``."""
        if len(ids) != submitted.count:
            raise StoreError(f"{len(ids)} outbox rows but the ledger took {submitted.count}")
        record = (
            min(ids),
            max(ids),
            submitted.count,
            submitted.first_index,
            submitted.tree_size,
            submitted.checkpoint,
            recovered,
            now,
        )
        with self._writing() as query:
            for group in _groups(ids, ROWS_PER_STATEMENT):
                sql = _ids_sql("DELETE FROM ledger_outbox WHERE id IN ({})", len(group))
                query.run(sql, group)
            query.run("DELETE FROM ledger_inflight WHERE slot = 1")
            query.run(_RECORD, record)

    def refuse_leaves(self, ids: Sequence[int], reason: str, now: int) -> None:
        """Move the outbox rows ``ids`` (leaves the ledger refused as malformed) to
        ``ledger_refused`` and drop the in-flight record, in one transaction."""
        with self._writing() as query:
            for group in _groups(ids, ROWS_PER_STATEMENT):
                query.run(_ids_sql(_REFUSE, len(group)), (now, reason, *group))
                query.run(_ids_sql("DELETE FROM ledger_outbox WHERE id IN ({})", len(group)), group)
            query.run("DELETE FROM ledger_inflight WHERE slot = 1")

    def refused_leaves(self) -> list[tuple[int, bytes, str]]:
        """The leaves set aside as malformed: ``(outbox id, leaf data, reason)``."""
        with self._reading() as query:
            rows = query.all("SELECT outbox_id, leaf, reason FROM ledger_refused ORDER BY 1")
        return [(int(row_id), bytes(leaf), reason) for row_id, leaf, reason in rows]

    def ledger_submissions(self) -> list[SubmissionRow]:
        """Every recorded submission, oldest first."""
        with self._reading() as query:
            rows = query.all(_SUBMISSIONS)
        return [_submission(row) for row in rows]

    def last_tree_size(self) -> int:
        """The largest tree size the ledger reported for this store's submissions (0)."""
        with self._reading() as query:
            row = query.one(_LAST_SIZE)
        return 0 if row is None or row[0] is None else int(row[0])

    def queue_logged_command(
        self,
        meter_id: str,
        kind: int,
        created_at: int,
        expires_at: int,
        sign: SignCommand,
        *,
        operator: str,
    ) -> CommandRow:
        """:meth:`queue_command`, and its ``OperatorCommand`` leaf queued in the same
        transaction (``command_hash``: SHA-256 of the signed command bytes)."""
        return self.queue_command(
            meter_id,
            kind,
            created_at,
            expires_at,
            self._logging(sign, meter_id, operator, created_at),
        )

    def _logging(self, sign: SignCommand, meter_id: str, operator: str, now: int) -> SignCommand:
        """``sign``, then queue the command's leaf. ``queue_command`` calls ``sign`` inside
        its write transaction, holding the store's (re-entrant) lock, so the statement runs
        on that transaction: both commit, or neither does."""

        def sign_and_log(command_id: int) -> bytes:
            signed = sign(command_id)
            digest = hashlib.sha256(signed).digest()
            entry = OperatorCommand(operator, meter_id, command_id, digest, now)
            with self._reading() as query:
                query.run(_ENQUEUE_ONE, (leaf_data(entry), now))
            return signed

        return sign_and_log
