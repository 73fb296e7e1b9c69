"""Store-and-forward buffer semantics, in memory and in SQLite."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from meterseal.messages import BatchRejectReason
from meterseal.meter.buffer import (
    BatchBuffer,
    MemoryBuffer,
    PendingBatch,
    SqliteBuffer,
    StoreForwardError,
)

METER = "ELEC-000001"


@pytest.fixture(params=["memory", "sqlite"])
def buffer(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[BatchBuffer]:
    """Each backend in turn."""
    made: BatchBuffer = (
        MemoryBuffer() if request.param == "memory" else SqliteBuffer(tmp_path / "buffer.db")
    )
    yield made
    made.close()


def test_pending_batches_come_oldest_first(buffer: BatchBuffer) -> None:
    for seq in (3, 1, 2):
        buffer.put(METER, seq, b"batch %d" % seq)
    assert [p.batch_seq for p in buffer.pending(METER)] == [1, 2, 3]
    assert buffer.pending(METER, limit=2) == [
        PendingBatch(METER, 1, b"batch 1"),
        PendingBatch(METER, 2, b"batch 2"),
    ]


def test_acknowledged_batch_leaves_the_buffer(buffer: BatchBuffer) -> None:
    buffer.put(METER, 1, b"a")
    buffer.put(METER, 2, b"b")
    buffer.acknowledged(METER, 1)
    buffer.acknowledged(METER, 1)
    assert [p.batch_seq for p in buffer.pending(METER)] == [2]


def test_finally_rejected_batch_is_kept_aside_not_pending(buffer: BatchBuffer) -> None:
    buffer.put(METER, 1, b"a")
    buffer.put(METER, 2, b"b")
    buffer.rejected(METER, 1, BatchRejectReason.BAD_SIGNATURE)
    assert [p.batch_seq for p in buffer.pending(METER)] == [2]
    assert buffer.rejected_batches(METER) == [(1, BatchRejectReason.BAD_SIGNATURE)]


def test_the_same_batch_cannot_be_buffered_twice(buffer: BatchBuffer) -> None:
    buffer.put(METER, 1, b"a")
    with pytest.raises(StoreForwardError):
        buffer.put(METER, 1, b"a")


def test_meters_sharing_a_buffer_see_only_their_batches(buffer: BatchBuffer) -> None:
    buffer.put(METER, 1, b"mine")
    buffer.put("GAS-000002", 1, b"theirs")
    buffer.acknowledged("GAS-000002", 1)
    assert buffer.pending(METER) == [PendingBatch(METER, 1, b"mine")]
    assert buffer.pending("GAS-000002") == []


def test_last_command_id_starts_at_zero_and_only_rises(buffer: BatchBuffer) -> None:
    assert buffer.last_command_id(METER) == 0
    buffer.command_accepted(METER, 7)
    assert buffer.last_command_id(METER) == 7
    with pytest.raises(StoreForwardError):
        buffer.command_accepted(METER, 7)
    assert buffer.last_command_id("GAS-000002") == 0


def test_durable_buffer_survives_reopening(tmp_path: Path) -> None:
    path = tmp_path / "fleet.db"
    first = SqliteBuffer(path)
    first.put(METER, 1, b"a")
    first.put(METER, 2, b"b")
    first.acknowledged(METER, 1)
    first.put(METER, 3, b"c")
    first.rejected(METER, 3, BatchRejectReason.MALFORMED)
    first.command_accepted(METER, 12)
    first.close()
    reopened = SqliteBuffer(path, synchronous="NORMAL")
    assert reopened.pending(METER) == [PendingBatch(METER, 2, b"b")]
    assert reopened.rejected_batches(METER) == [(3, BatchRejectReason.MALFORMED)]
    assert reopened.last_command_id(METER) == 12
    reopened.close()


def test_unknown_synchronous_setting_is_refused(tmp_path: Path) -> None:
    with pytest.raises(StoreForwardError):
        SqliteBuffer(tmp_path / "x.db", synchronous="SOMETIMES")
