"""Daily consumption from a cumulative register (energy in Wh, volume in litres), in UTC.

Definition. A reading's ``at`` is the END of its interval, so the interval ending at
00:00:00 belongs to the day before: day D covers readings with ``D 00:00 < at <= D+1
00:00``. The consumption of day D is

    (the last value with ``at <= D+1 00:00``) - (the last value with ``at <= D 00:00``)

that is, the day's last cumulative value minus the last value before the day (normally
the previous day's last). This equals the sum of the day's interval deltas when no
interval is missing, and stays exact when some are: only the cumulative register is
trusted, never a sum of reported deltas. Consequences, all deliberate:

* a day with no readings is omitted; the consumption of a gap is counted on the first
  day with readings after it, so the days' figures always add up to the meter's advance;
* on the meter's first day (no reading before it) the baseline is the day's first
  reading, so the figure is what was observed, not the unknown advance before it;
* a register that decreases (meter replaced, rollover) yields a negative figure; the
  store reports it rather than guessing.

The backends compute the baseline and the per-day last values in SQL; the arithmetic
lives here so that both agree exactly.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, timedelta

from meterseal.store.rows import DayConsumption

DAY_SECONDS = 86_400
_EPOCH = date(1970, 1, 1)


def day_start(day: date) -> int:
    """Unix seconds of 00:00:00 UTC on ``day``."""
    return (day - _EPOCH).days * DAY_SECONDS


def day_of_interval_end(at: int) -> int:
    """The day number (days since 1970-01-01) an interval ending at ``at`` belongs to."""
    return (at - 1) // DAY_SECONDS


def day_from_number(number: int) -> date:
    """The date of day number ``number``."""
    return _EPOCH + timedelta(days=number)


def query_window(start_day: date, end_day: date) -> tuple[int, int]:
    """``(low, high)`` such that the days' readings are those with ``low < at <= high``."""
    return day_start(start_day), day_start(end_day) + DAY_SECONDS


def daily_figures(baseline: int, day_lasts: Iterable[tuple[int, int]]) -> list[DayConsumption]:
    """Consumption per day from the baseline and each day's last value, in day order.

    ``day_lasts`` holds ``(day number, last value of that day)`` pairs, ascending.
    """
    figures = []
    previous = baseline
    for number, last in day_lasts:
        figures.append(DayConsumption(day_from_number(number), last - previous))
        previous = last
    return figures
