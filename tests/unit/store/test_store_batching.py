"""The backend-independent half of store_batches: outcomes and rows to write."""

from __future__ import annotations

import pytest

from meterseal.store import (
    BatchRow,
    IntervalColumns,
    InvalidRowError,
    ReadingRow,
    Register,
    StoreOutcome,
)
from meterseal.store.batching import (
    INTERVAL_COLUMNS,
    batch_rows,
    classify,
    first_occurrences,
    latest_tuples,
    plan_batches,
)

STORED, DUPLICATE, CONFLICT = StoreOutcome.STORED, StoreOutcome.DUPLICATE, StoreOutcome.CONFLICT
H1, H2 = b"\x01" * 32, b"\x02" * 32
ENERGY, VOLTAGE = Register.ENERGY_IMPORT_WH, Register.VOLTAGE_DV


def _item(
    seq: int, digest: bytes = H1, values: tuple[int, ...] = (7, 8)
) -> tuple[BatchRow, list[ReadingRow]]:
    row = BatchRow("M1", seq, 0, 900, b"signed", digest, 0, len(values))
    readings = [ReadingRow("M1", seq, 900 * (i + 1), ENERGY, v) for i, v in enumerate(values)]
    return row, readings


def _columns(seq: int = 5) -> tuple[BatchRow, IntervalColumns]:
    columns = IntervalColumns(
        "M1", seq, range(900, 2700, 900), energy_import_wh=(7, 8), voltage_dv=(2300, 2310)
    )
    return BatchRow("M1", seq, 0, 900, b"signed", H1, 0, len(columns)), columns


def test_classify_new_known_and_conflicting_keys() -> None:
    keys = [(1, 1), (1, 2), (1, 3)]
    assert classify(keys, [H1, H1, H2], {(1, 2): H1, (1, 3): H1}) == [STORED, DUPLICATE, CONFLICT]


def test_classify_a_key_repeated_within_the_call() -> None:
    keys = [(1, 1), (1, 1), (1, 1)]
    assert classify(keys, [H1, H1, H2], {}) == [STORED, DUPLICATE, CONFLICT]


def test_first_occurrences() -> None:
    assert first_occurrences([(1, 1), (2, 1), (1, 1), (1, 2)]) == [0, 1, 3]


def test_interval_rows_follow_the_table_column_order() -> None:
    assert INTERVAL_COLUMNS == (
        "meter_ref",
        "at",
        "batch_seq",
        "energy_import_wh",
        "energy_export_wh",
        "volume_dl",
        "voltage_dv",
        "current_ma",
        "power_w",
    )


def test_columns_become_one_wide_row_per_interval() -> None:
    assert list(batch_rows(42, *_columns())) == [
        (42, 900, 5, 7, None, None, 2300, None, None),
        (42, 1800, 5, 8, None, None, 2310, None, None),
    ]


def test_register_values_are_grouped_into_the_same_wide_rows() -> None:
    row, columns = _columns()
    assert batch_rows(42, row, list(columns)) == list(batch_rows(42, row, columns))


def test_rows_refuse_a_wrong_count_or_a_stray_reading() -> None:
    row, readings = _item(5)
    with pytest.raises(InvalidRowError, match="says 2 readings"):
        batch_rows(42, row, readings[:1])
    with pytest.raises(InvalidRowError, match="another batch"):
        batch_rows(42, row, [readings[0], ReadingRow("M1", 6, 1800, ENERGY, 8)])
    with pytest.raises(InvalidRowError, match="another batch"):
        batch_rows(42, _columns(6)[0], _columns(5)[1])


def test_rows_refuse_a_register_twice_or_one_without_a_column() -> None:
    row, readings = _item(5)
    with pytest.raises(InvalidRowError, match="twice"):
        batch_rows(42, row, [readings[0], readings[0]])
    with pytest.raises(InvalidRowError, match="unknown"):
        batch_rows(42, row, [readings[0], ReadingRow("M1", 5, 1800, 99, 8)])


def test_latest_tuples_take_the_greatest_time_and_the_later_row_on_a_tie() -> None:
    rows = [(1, 1, 300, 30), (1, 1, 100, 10), (1, 1, 300, 31), (2, 4, 50, 5)]
    assert sorted(latest_tuples(rows)) == [(1, 1, 300, 31), (2, 4, 50, 5)]


def test_plan_writes_rows_of_stored_batches_only() -> None:
    items = [_item(1), _item(2, H2, (9,)), _item(1)]
    plan = plan_batches(items, [7, 7, 7], {(7, 2): H1})
    assert plan.outcomes == [STORED, CONFLICT, DUPLICATE]
    assert plan.stored == [0]
    assert list(plan.interval_rows()) == [
        (7, 900, 1, 7, None, None, None, None, None),
        (7, 1800, 1, 8, None, None, None, None, None),
    ]
    assert plan.latest == [(7, ENERGY, 1800, 8)]


def test_plan_of_columns_takes_each_registers_last_value() -> None:
    plan = plan_batches([_columns()], [3], {})
    assert sorted(plan.latest) == [(3, ENERGY, 1800, 8), (3, VOLTAGE, 1800, 2310)]


def test_outcomes_say_what_may_be_acknowledged() -> None:
    assert STORED.durable
    assert DUPLICATE.durable
    assert not CONFLICT.durable
