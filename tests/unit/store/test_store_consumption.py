"""Daily consumption arithmetic: UTC days, interval ends, baselines."""

from __future__ import annotations

from datetime import date

from meterseal.store import DayConsumption
from meterseal.store.consumption import (
    DAY_SECONDS,
    daily_figures,
    day_from_number,
    day_of_interval_end,
    day_start,
    query_window,
)

MIDNIGHT = 1_700_006_400  # 2023-11-15 00:00:00 UTC


def test_day_start_is_utc_midnight() -> None:
    assert day_start(date(2023, 11, 15)) == MIDNIGHT
    assert day_start(date(1970, 1, 1)) == 0


def test_an_interval_ending_at_midnight_belongs_to_the_day_before() -> None:
    assert day_from_number(day_of_interval_end(MIDNIGHT)) == date(2023, 11, 14)
    assert day_from_number(day_of_interval_end(MIDNIGHT + 1)) == date(2023, 11, 15)
    assert day_from_number(day_of_interval_end(MIDNIGHT + DAY_SECONDS)) == date(2023, 11, 15)


def test_query_window_covers_the_days_inclusive() -> None:
    assert query_window(date(2023, 11, 15), date(2023, 11, 16)) == (
        MIDNIGHT,
        MIDNIGHT + 2 * DAY_SECONDS,
    )


def test_daily_figures_are_differences_of_each_days_last_value() -> None:
    first = day_of_interval_end(MIDNIGHT + 1)
    assert daily_figures(1000, [(first, 1240), (first + 1, 1300), (first + 3, 1302)]) == [
        DayConsumption(date(2023, 11, 15), 240),
        DayConsumption(date(2023, 11, 16), 60),
        DayConsumption(date(2023, 11, 18), 2),
    ]


def test_no_days_no_figures() -> None:
    assert daily_figures(5, []) == []
