"""Queries: readings by range, daily consumption, latest state, counts, iteration order."""

from __future__ import annotations

from datetime import date

import pytest
from store_support import DAY, HOUR, T0, batch, meter

from meterseal.store import DayConsumption, MeterLatest, Register, Store
from meterseal.store import base as store_base

NOV = 11


def _day(n: int) -> date:
    return date(2023, NOV, n)


@pytest.fixture
def history(store: Store) -> Store:
    """M1 (electricity), hourly energy over 2023-11-14..18 with 11-17 missing; voltage too.

    Energy: 1000 at 11-14 23:00, 1010 at 11-15 00:00 (the end of 11-14), +10 an hour on
    11-15 (1250 at 11-16 00:00), +5 an hour on 11-16 (1370), nothing on 11-17, and
    1400..1423 on 11-18.
    """
    store.add_meter(meter("M1"))
    store.store_batches(
        [
            batch("M1", 1, (1000, 1010), start=T0 - 2 * HOUR),
            batch("M1", 2, [1010 + 10 * (i + 1) for i in range(24)], start=T0),
            batch("M1", 3, [1250 + 5 * (i + 1) for i in range(24)], start=T0 + DAY),
            batch("M1", 4, [1400 + i for i in range(24)], start=T0 + 3 * DAY),
            batch("M1", 5, [2300] * 24, start=T0, register=Register.VOLTAGE_DV),
        ]
    )
    return store


def test_readings_by_half_open_range_in_time_and_register_order(history: Store) -> None:
    rows = history.readings("M1", T0 + 2 * HOUR, T0 + 4 * HOUR)
    assert [(r.at, r.register, r.value, r.batch_seq) for r in rows] == [
        (T0 + 2 * HOUR, Register.ENERGY_IMPORT_WH, 1030, 2),
        (T0 + 2 * HOUR, Register.VOLTAGE_DV, 2300, 5),
        (T0 + 3 * HOUR, Register.ENERGY_IMPORT_WH, 1040, 2),
        (T0 + 3 * HOUR, Register.VOLTAGE_DV, 2300, 5),
    ]
    assert all(r.meter_id == "M1" for r in rows)


def test_readings_of_an_unknown_meter_or_empty_range_are_empty(history: Store) -> None:
    assert history.readings("nope", 0, 2**40) == []
    assert history.readings("M1", T0 + 10, T0 + 20) == []


def test_daily_consumption_across_utc_day_boundaries(history: Store) -> None:
    assert history.daily_consumption("M1", _day(15), _day(18)) == [
        DayConsumption(_day(15), 240),  # 1250 at 11-16 00:00 belongs to 11-15
        DayConsumption(_day(16), 120),
        DayConsumption(_day(18), 53),  # 11-17 is missing: its advance is counted here
    ]


def test_daily_consumption_of_one_day_uses_the_previous_days_last(history: Store) -> None:
    assert history.daily_consumption("M1", _day(16), _day(16)) == [DayConsumption(_day(16), 120)]


def test_first_day_counts_from_the_first_reading(history: Store) -> None:
    assert history.daily_consumption("M1", _day(14), _day(14)) == [DayConsumption(_day(14), 10)]


def test_daily_consumption_of_another_register_or_no_data(history: Store) -> None:
    assert history.daily_consumption("M1", _day(15), _day(15), register=Register.VOLTAGE_DV) == [
        DayConsumption(_day(15), 0)
    ]
    assert history.daily_consumption("M1", _day(20), _day(21)) == []
    assert history.daily_consumption("nope", _day(15), _day(16)) == []


def test_water_meters_use_the_volume_register(store: Store) -> None:
    store.add_meter(meter("W1", "water"))
    store.store_batches(
        [
            batch("W1", 1, (50, 75), start=T0 - 2 * HOUR, register=Register.VOLUME_L),
            batch("W1", 2, (80, 99), start=T0 + DAY - 2 * HOUR, register=Register.VOLUME_L),
        ]
    )
    assert store.daily_consumption("W1", _day(15), _day(15)) == [DayConsumption(_day(15), 24)]


def test_latest_state_of_each_meter(history: Store) -> None:
    history.add_meter(meter("M0"))
    history.store_batches([batch("M1", 0, (5, 6), start=T0 - 9 * DAY)])  # late and old
    assert history.latest_state() == [
        MeterLatest("M0", "registered", None, None, ()),
        MeterLatest(
            "M1",
            "registered",
            5,
            T0 + 4 * DAY,
            ((Register.ENERGY_IMPORT_WH, 1423), (Register.VOLTAGE_DV, 2300)),
        ),
    ]


def test_latest_value_of_one_register(history: Store) -> None:
    [latest] = history.latest_state()
    assert latest.value_of(Register.VOLTAGE_DV) == 2300
    assert latest.value_of(Register.VOLUME_L) is None


def test_counts(store: Store) -> None:
    store.add_meter(meter("M1"))
    assert (store.count_batches(), store.count_readings()) == (0, 0)
    store.store_batches([batch("M1", 1, (1,)), batch("M1", 2, (1, 2)), batch("M1", 3, (1, 2, 3))])
    assert (store.count_batches(), store.count_readings()) == (3, 6)


def test_iter_batches_in_meter_then_sequence_order_across_pages(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(store_base, "PAGE_SIZE", 2)
    for meter_id in ("B", "A", "C"):
        store.add_meter(meter(meter_id))
    keys = [("B", 3), ("A", 2), ("B", 1), ("A", 9), ("B", 2), ("A", 1), ("B", 5), ("B", 4)]
    store.store_batches([batch(meter_id, seq) for meter_id, seq in keys])
    assert [(b.meter_id, b.batch_seq) for b in store.iter_batches()] == sorted(keys)
