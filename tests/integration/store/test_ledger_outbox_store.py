"""The ledger outbox in the store, on both backends: leaves queued in the same transaction
as what they record, and the submission bookkeeping of the forwarder."""

from __future__ import annotations

import hashlib

import pytest
from store_support import Backend, batch, meter

from meterseal.ledger.interface import Submitted
from meterseal.ledger.leaves import (
    BatchAccepted,
    OperatorCommand,
    leaf_data,
    parse_leaf,
)
from meterseal.store import BatchItem, BatchRow, Store, StoreError, StoreOutcome

_REFUSE_SQLITE = (
    "CREATE TRIGGER refuse_leaves BEFORE INSERT ON ledger_outbox"
    " BEGIN SELECT RAISE(ABORT, 'outbox refused'); END"
)
_REFUSE_POSTGRES = (
    "CREATE FUNCTION refuse_leaves() RETURNS trigger LANGUAGE plpgsql AS"
    " $$ BEGIN RAISE EXCEPTION 'outbox refused'; END $$;"
    " CREATE TRIGGER refuse_leaves BEFORE INSERT ON ledger_outbox"
    " FOR EACH ROW EXECUTE FUNCTION refuse_leaves()"
)


def queued(store: Store) -> list[bytes]:
    return [leaf for _, leaf in store.pending_leaves(100_000)]


def accepted(item: BatchItem) -> bytes:
    """The leaf the ledger must get for a stored batch (docs/ledger.md section 6)."""
    row, _ = item
    return leaf_data(BatchAccepted(row.meter_id, row.batch_seq, row.batch_hash))


def test_each_stored_batch_queues_its_batch_accepted_leaf_in_order(store: Store) -> None:
    store.add_meter(meter("M1"))
    store.add_meter(meter("M2"))
    items = [batch("M1", 1), batch("M2", 7), batch("M1", 2)]
    assert store.store_batches(items) == [StoreOutcome.STORED] * 3
    leaves = queued(store)
    assert leaves == [accepted(item) for item in items]
    assert parse_leaf(leaves[1]) == BatchAccepted("M2", 7, items[1][0].batch_hash)


def test_duplicates_and_conflicts_queue_no_leaf(store: Store) -> None:
    store.add_meter(meter("M1"))
    store.store_batches([batch("M1", 1)])
    again = store.store_batches([batch("M1", 1), batch("M1", 1, variant=b"x"), batch("M1", 2)])
    assert again == [StoreOutcome.DUPLICATE, StoreOutcome.CONFLICT, StoreOutcome.STORED]
    assert queued(store) == [accepted(batch("M1", 1)), accepted(batch("M1", 2))]


def test_a_call_of_many_batches_queues_every_leaf(store: Store) -> None:
    store.add_meter(meter("M1"))
    items = [batch("M1", seq, (seq,)) for seq in range(300)]  # over 256 rows per statement
    store.store_batches(items)
    assert queued(store) == [accepted(item) for item in items]
    assert store.count_pending_leaves() == 300


def test_when_the_leaf_cannot_be_queued_the_batch_is_not_stored(
    store: Store, backend: Backend
) -> None:
    store.add_meter(meter("M1"))
    backend.execute(_REFUSE_SQLITE if backend.name == "sqlite" else _REFUSE_POSTGRES)
    with pytest.raises(StoreError):
        store.store_batches([batch("M1", 1)])
    assert store.count_batches() == 0
    assert store.last_batch_seq("M1") is None
    assert store.count_pending_leaves() == 0


def test_a_submission_in_flight_then_marked_leaves_a_record_and_no_queue(store: Store) -> None:
    store.enqueue_leaves([b"a", b"b", b"c"], now=100)
    pending = store.pending_leaves(2)
    assert [leaf for _, leaf in pending] == [b"a", b"b"]
    ids = [row_id for row_id, _ in pending]
    store.begin_submission(ids, size_hint=5, now=101)
    with pytest.raises(StoreError):
        store.begin_submission(ids, size_hint=5, now=101)  # one chunk in flight at a time
    inflight = store.inflight_submission()
    assert inflight is not None
    assert (inflight.ids, inflight.leaves, inflight.size_hint) == (tuple(ids), (b"a", b"b"), 5)
    store.mark_submitted(ids, Submitted(7, 2, 9, b"checkpoint"), now=102)
    assert store.inflight_submission() is None
    assert queued(store) == [b"c"]
    [record] = store.ledger_submissions()
    assert (record.first_outbox_id, record.last_outbox_id, record.count) == (ids[0], ids[1], 2)
    assert (record.first_index, record.tree_size, record.checkpoint) == (7, 9, b"checkpoint")
    assert (record.recovered, record.submitted_at) == (False, 102)
    assert store.last_tree_size() == 9


def test_marking_needs_as_many_rows_as_the_ledger_took(store: Store) -> None:
    store.enqueue_leaves([b"a"], now=1)
    [(row_id, _)] = store.pending_leaves(10)
    with pytest.raises(StoreError):
        store.mark_submitted([row_id], Submitted(0, 2, 2, b"cp"), now=2)
    assert queued(store) == [b"a"]


def test_the_submissions_record_is_append_only(store: Store, backend: Backend) -> None:
    store.enqueue_leaves([b"a"], now=1)
    [(row_id, _)] = store.pending_leaves(1)
    store.mark_submitted([row_id], Submitted(0, 1, 1, b"cp"), now=2)
    for statement in (
        "UPDATE ledger_submissions SET tree_size = 5",
        "DELETE FROM ledger_submissions",
    ):
        with pytest.raises(Exception, match="append-only"):
            backend.execute(statement)
    assert [r.tree_size for r in store.ledger_submissions()] == [1]


def test_a_logged_command_queues_its_operator_command_leaf(store: Store) -> None:
    store.add_meter(meter("M1"))
    row = store.queue_logged_command(
        "M1", 1, 1000, 1300, lambda command_id: b"signed %d" % command_id, operator="alice"
    )
    digest = hashlib.sha256(row.signed_command).digest()
    expected = OperatorCommand("alice", "M1", row.command_id, digest, 1000)
    assert queued(store) == [leaf_data(expected)]


def test_a_command_whose_signing_fails_queues_neither_command_nor_leaf(store: Store) -> None:
    store.add_meter(meter("M1"))

    def broken(command_id: int) -> bytes:
        raise StoreError(f"no key for command {command_id}")

    with pytest.raises(StoreError):
        store.queue_logged_command("M1", 1, 1000, 1300, broken, operator="alice")
    assert store.open_commands("M1", 1000) == []
    assert store.count_pending_leaves() == 0


def test_upgrading_to_version_5_queues_the_leaves_of_batches_already_stored(
    backend: Backend,
) -> None:
    store = backend.open()
    try:
        store.migrate(target=4)
        store.add_meter(meter("M1"))
        store.add_meter(meter("M2"))
        items = [batch("M2", 3), batch("M1", 1), batch("M1", 2)]
        for row, _ in items:
            backend.execute(_raw_batch_insert(backend, row))  # as version 4 stored it
        store.migrate()
        leaves = store.pending_leaves(10)
    finally:
        store.close()
    assert [leaf for _, leaf in leaves] == [
        accepted(items[1]),
        accepted(items[2]),
        accepted(items[0]),
    ]


def _raw_batch_insert(backend: Backend, row: BatchRow) -> str:
    """The SQL that stores ``row`` in the batches table, beside the store."""
    columns = "meter_ref, batch_seq, interval_start, interval_seconds, signed_batch, batch_hash"
    values = (
        f"{row.batch_seq}, 0, 900, {_blob(backend, 'ab')}, {_blob(backend, row.batch_hash.hex())}"
    )
    return (
        f"INSERT INTO batches ({columns}, received_at, reading_count)"  # noqa: S608 - test data
        f" SELECT id, {values}, {row.received_at}, 0 FROM meters WHERE meter_id = '{row.meter_id}'"
    )


def _blob(backend: Backend, hex_digits: str) -> str:
    """A blob literal of the backend."""
    return f"x'{hex_digits}'" if backend.name == "sqlite" else f"'\\x{hex_digits}'::bytea"
