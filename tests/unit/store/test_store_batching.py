"""The backend-independent half of store_batches: outcomes and rows to write."""

from __future__ import annotations

import pytest

from meterseal.store import BatchRow, InvalidRowError, ReadingRow, StoreOutcome
from meterseal.store.batching import (
    classify,
    first_occurrences,
    latest_tuples,
    plan_batches,
    reading_tuples,
)

STORED, DUPLICATE, CONFLICT = StoreOutcome.STORED, StoreOutcome.DUPLICATE, StoreOutcome.CONFLICT
H1, H2 = b"\x01" * 32, b"\x02" * 32


def _item(
    seq: int, digest: bytes = H1, values: tuple[int, ...] = (7, 8)
) -> tuple[BatchRow, list[ReadingRow]]:
    row = BatchRow("M1", seq, 0, 900, b"signed", digest, 0, len(values))
    readings = [ReadingRow("M1", seq, 900 * (i + 1), 1, v) for i, v in enumerate(values)]
    return row, readings


def test_classify_new_known_and_conflicting_keys() -> None:
    keys = [(1, 1), (1, 2), (1, 3)]
    assert classify(keys, [H1, H1, H2], {(1, 2): H1, (1, 3): H1}) == [STORED, DUPLICATE, CONFLICT]


def test_classify_a_key_repeated_within_the_call() -> None:
    keys = [(1, 1), (1, 1), (1, 1)]
    assert classify(keys, [H1, H1, H2], {}) == [STORED, DUPLICATE, CONFLICT]


def test_first_occurrences() -> None:
    assert first_occurrences([(1, 1), (2, 1), (1, 1), (1, 2)]) == [0, 1, 3]


def test_reading_tuples_in_table_column_order() -> None:
    row, readings = _item(5)
    assert reading_tuples(42, row, readings) == [(42, 900, 1, 5, 7), (42, 1800, 1, 5, 8)]


def test_reading_tuples_refuse_a_wrong_count_or_a_stray_reading() -> None:
    row, readings = _item(5)
    with pytest.raises(InvalidRowError, match="says 2 readings"):
        reading_tuples(42, row, readings[:1])
    with pytest.raises(InvalidRowError, match="another batch"):
        reading_tuples(42, row, [readings[0], ReadingRow("M1", 6, 1800, 1, 8)])


def test_latest_tuples_take_the_greatest_time_and_the_later_row_on_a_tie() -> None:
    rows = [(1, 300, 1, 1, 30), (1, 100, 1, 2, 10), (1, 300, 1, 3, 31), (2, 50, 4, 1, 5)]
    assert sorted(latest_tuples(rows)) == [(1, 1, 300, 31), (2, 4, 50, 5)]


def test_plan_writes_readings_of_stored_batches_only() -> None:
    items = [_item(1), _item(2, H2, (9,)), _item(1)]
    plan = plan_batches(items, [7, 7, 7], {(7, 2): H1})
    assert plan.outcomes == [STORED, CONFLICT, DUPLICATE]
    assert plan.stored == [0]
    assert plan.readings == [(7, 900, 1, 1, 7), (7, 1800, 1, 1, 8)]
    assert plan.latest == [(7, 1, 1800, 8)]


def test_outcomes_say_what_may_be_acknowledged() -> None:
    assert STORED.durable
    assert DUPLICATE.durable
    assert not CONFLICT.durable
