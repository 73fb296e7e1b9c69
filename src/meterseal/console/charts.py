"""Charts as server-rendered inline SVG: no script, no external files, scales to any width.

Each chart is an ``<svg>`` with a ``viewBox`` and no fixed width, so CSS sizes it (full
width on a phone); colours come from the stylesheet's classes, never from ``style``
attributes (the CSP allows no inline style). Every data point carries its value in a
``<title>`` (shown on hover and read by screen readers) and in ``data-*`` attributes.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime
from itertools import pairwise
from typing import Final

from markupsafe import Markup, escape

from meterseal.store import DayConsumption, ReadingRow, Register

WIDTH: Final = 600
HEIGHT: Final = 220
PAD_LEFT, PAD_RIGHT, PAD_TOP, PAD_BOTTOM = 48, 8, 12, 28


def _frame(label: str, body: str, top: int) -> Markup:
    plot_bottom = HEIGHT - PAD_BOTTOM
    axis = (
        f'<line class="axis" x1="{PAD_LEFT}" y1="{plot_bottom}" x2="{WIDTH - PAD_RIGHT}"'
        f' y2="{plot_bottom}"/>'
        f'<text class="tick" x="{PAD_LEFT - 4}" y="{PAD_TOP + 10}" text-anchor="end">{top}</text>'
        f'<text class="tick" x="{PAD_LEFT - 4}" y="{plot_bottom}" text-anchor="end">0</text>'
    )
    return Markup(  # noqa: S704 - every interpolated text is escaped or a number
        f'<svg class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" role="img"'
        f' aria-label="{escape(label)}" preserveAspectRatio="xMidYMid meet">'
        f"<title>{escape(label)}</title>{axis}{body}</svg>"
    )


def _scale(value: int, top: int) -> float:
    span = HEIGHT - PAD_TOP - PAD_BOTTOM
    return HEIGHT - PAD_BOTTOM - (span * value / top if top > 0 else 0)


def daily_bars(days: Sequence[DayConsumption], unit: str) -> Markup:
    """A bar per day (``rect.bar``, ``data-day``, ``data-value``), first and last day labelled."""
    top = max((max(day.consumption, 0) for day in days), default=0)
    slot = (WIDTH - PAD_LEFT - PAD_RIGHT) / max(len(days), 1)
    bars = []
    for i, day in enumerate(days):
        y = _scale(max(day.consumption, 0), top)
        x = PAD_LEFT + i * slot + slot * 0.1
        bars.append(
            f'<rect class="bar" x="{x:.1f}" y="{y:.1f}" width="{slot * 0.8:.1f}"'
            f' height="{HEIGHT - PAD_BOTTOM - y:.1f}" data-day="{day.day.isoformat()}"'
            f' data-value="{day.consumption}"><title>{day.day.isoformat()}:'
            f" {day.consumption} {escape(unit)}</title></rect>"
        )
    bars.extend(_day_labels(days, slot))
    return _frame(f"daily consumption, {unit}", "".join(bars), top)


def _day_labels(days: Sequence[DayConsumption], slot: float) -> list[str]:
    if not days:
        return []
    y = HEIGHT - 8
    last_x = PAD_LEFT + (len(days) - 1) * slot + slot / 2
    labels = [(PAD_LEFT + slot / 2, days[0].day, "start")]
    if len(days) > 1:
        labels.append((last_x, days[-1].day, "end"))
    return [
        f'<text class="tick" x="{x:.1f}" y="{y}" text-anchor="{anchor}">{_short(day)}</text>'
        for x, day, anchor in labels
    ]


def _short(day: date) -> str:
    return day.strftime("%d %b")


def line(points: Sequence[tuple[int, int]], label: str) -> Markup:
    """A polyline through ``(time, value)`` points (``data-count`` = number of points)."""
    if not points:
        return _frame(label, "", 0)
    top = max(0, *(value for _, value in points))
    first, last = points[0][0], points[-1][0]
    width = WIDTH - PAD_LEFT - PAD_RIGHT
    coords = " ".join(
        f"{PAD_LEFT + width * (at - first) / max(last - first, 1):.1f},"
        f"{_scale(max(value, 0), top):.1f}"
        for at, value in points
    )
    body = (
        f'<polyline class="line" points="{coords}" data-count="{len(points)}"/>'
        f'<text class="tick" x="{PAD_LEFT}" y="{HEIGHT - 8}">{_clock(first)}</text>'
        f'<text class="tick" x="{WIDTH - PAD_RIGHT}" y="{HEIGHT - 8}" text-anchor="end">'
        f"{_clock(last)}</text>"
    )
    return _frame(label, body, top)


def _clock(at: int) -> str:
    return datetime.fromtimestamp(at, UTC).strftime("%d %b %H:%M")


def load_profile(rows: Sequence[ReadingRow], meter_type: str) -> tuple[list[tuple[int, int]], str]:
    """The points of a day's load profile and their unit.

    Electricity: instantaneous active power (W) at each interval end. Water and gas: the
    volume used in each interval (decilitres), from differences of the cumulative register.
    """
    if meter_type == "electricity":
        power = [(row.at, row.value) for row in rows if row.register == Register.POWER_W]
        return power, "W"
    volume = [(row.at, row.value) for row in rows if row.register == Register.VOLUME_DL]
    used = [(at, value - before) for (_, before), (at, value) in pairwise(volume)]
    return used, "dl per interval"
