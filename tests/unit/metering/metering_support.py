"""Shared helpers for the metering tests: dates, seeded meters and per-interval usage."""

from __future__ import annotations

import calendar
import random
from itertools import pairwise

from meterseal.meter.metering import MeterModel, build_batch

JANUARY = calendar.timegm((2025, 1, 6, 0, 0, 0))
"""Monday 6 January 2025, 00:00 UTC."""
JULY = calendar.timegm((2025, 7, 7, 0, 0, 0))
"""Monday 7 July 2025, 00:00 UTC."""
DAY = 86_400


def seeded(seed: int) -> random.Random:
    """A seeded generator for simulation noise."""
    return random.Random(seed)  # noqa: S311 - simulation noise, not secrets


def register(meter: MeterModel, name: str, start: int, days: int) -> list[int]:
    """The register ``name`` at every freeze of ``days`` consecutive daily batches."""
    values: list[int] = []
    for day in range(days):
        values.extend(getattr(build_batch(meter, start + day * DAY).readings, name))
    return values


def usage_by_interval(meter: MeterModel, name: str, start: int, days: int) -> list[float]:
    """Mean increase of register ``name`` in each of the 96 daily intervals over ``days``."""
    values = register(meter, name, start, days)
    steps = [later - earlier for earlier, later in pairwise(values)]
    steps.insert(0, steps[0])  # no earlier freeze for the very first interval
    return [sum(steps[i::96]) / days for i in range(96)]


def hourly(usage: list[float], hour: int) -> float:
    """Usage in the four 15-minute intervals of ``hour``."""
    return sum(usage[4 * hour : 4 * hour + 4])
