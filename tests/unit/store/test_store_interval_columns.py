"""IntervalColumns: the columnar insert form, and the register values it stands for."""

from __future__ import annotations

import pytest

from meterseal.store import IntervalColumns, InvalidRowError, ReadingRow, Register

ENERGY, VOLTAGE = Register.ENERGY_IMPORT_WH, Register.VOLTAGE_DV


def _columns() -> IntervalColumns:
    return IntervalColumns(
        "M1", 4, range(900, 3600, 900), energy_import_wh=(10, 11, 12), voltage_dv=[230, 231, 232]
    )


def test_it_is_a_sequence_of_register_values_in_time_then_register_order() -> None:
    assert list(_columns()) == [
        ReadingRow("M1", 4, 900, ENERGY, 10),
        ReadingRow("M1", 4, 900, VOLTAGE, 230),
        ReadingRow("M1", 4, 1800, ENERGY, 11),
        ReadingRow("M1", 4, 1800, VOLTAGE, 231),
        ReadingRow("M1", 4, 2700, ENERGY, 12),
        ReadingRow("M1", 4, 2700, VOLTAGE, 232),
    ]


def test_length_counts_register_values_and_indexing_agrees_with_iteration() -> None:
    columns = _columns()
    assert len(columns) == 6
    assert [columns[i] for i in range(len(columns))] == list(columns)
    assert columns[-1] == ReadingRow("M1", 4, 2700, VOLTAGE, 232)
    assert columns[1:3] == list(columns)[1:3]
    with pytest.raises(IndexError):
        columns[6]


def test_present_names_the_reported_registers_in_register_order() -> None:
    assert [register for register, _ in _columns().present()] == [ENERGY, VOLTAGE]


def test_columns_of_another_length_are_refused() -> None:
    with pytest.raises(InvalidRowError, match="differ in length"):
        IntervalColumns("M1", 4, (900, 1800), energy_import_wh=(10,))


@pytest.mark.parametrize("ends", [(1800, 900), (900, 900), range(1800, 0, -900)])
def test_interval_ends_must_strictly_increase(ends: tuple[int, ...] | range) -> None:
    with pytest.raises(InvalidRowError, match="increase"):
        IntervalColumns("M1", 4, ends, volume_dl=(1, 2))
