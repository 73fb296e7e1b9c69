"""Pure parts of the console: chart SVG, load profiles, durations, register names, roles."""

from __future__ import annotations

import re
from datetime import date

from meterseal.api.roles import PERMISSIONS, Action, Role, permissions
from meterseal.api.views import duration, register_name
from meterseal.console.charts import daily_bars, line, load_profile
from meterseal.store import DayConsumption, ReadingRow, Register


def test_bars_carry_their_day_and_value_and_scale_to_the_largest() -> None:
    svg = str(
        daily_bars(
            [DayConsumption(date(2024, 1, 1), 50), DayConsumption(date(2024, 1, 2), 100)], "Wh"
        )
    )
    bars = re.findall(r'height="([\d.]+)" data-day="([^"]+)" data-value="(\d+)"', svg)
    assert [(day, value) for _, day, value in bars] == [("2024-01-01", "50"), ("2024-01-02", "100")]
    assert float(bars[1][0]) == 2 * float(bars[0][0])
    assert "style=" not in svg  # the CSP allows no inline style
    assert 'viewBox="0 0 600 220"' in svg
    assert "width=" not in svg.split(">", 1)[0]  # no fixed width: CSS sizes the chart


def test_chart_labels_are_escaped() -> None:
    svg = str(daily_bars([DayConsumption(date(2024, 1, 1), 5)], "<script>"))
    assert "<script>" not in svg
    assert "&lt;script&gt;" in svg


def test_an_empty_line_chart_is_still_an_svg() -> None:
    svg = str(line([], "nothing"))
    assert svg.startswith("<svg")
    assert "polyline" not in svg


def test_line_points_span_the_plot() -> None:
    svg = str(line([(0, 0), (900, 10), (1800, 5)], "W"))
    points = re.search(r'points="([^"]+)" data-count="3"', svg)
    assert points is not None
    xs = [float(pair.split(",")[0]) for pair in points.group(1).split()]
    assert xs == [48.0, 320.0, 592.0]


def test_load_profile_is_power_for_electricity_and_volume_steps_otherwise() -> None:
    rows = [
        ReadingRow("M", 0, 900, Register.POWER_W, 400),
        ReadingRow("M", 0, 900, Register.VOLUME_DL, 10),
        ReadingRow("M", 0, 1800, Register.POWER_W, 500),
        ReadingRow("M", 0, 1800, Register.VOLUME_DL, 13),
    ]
    assert load_profile(rows, "electricity") == ([(900, 400), (1800, 500)], "W")
    assert load_profile(rows, "water") == ([(1800, 3)], "dl per interval")


def test_durations_read_well() -> None:
    assert duration(40 * 60) == "40 min"
    assert duration(5 * 3600) == "5 h"
    assert duration(12 * 86_400 + 5) == "12 days"


def test_register_names_carry_the_unit() -> None:
    assert register_name(Register.ENERGY_IMPORT_WH) == "energy_import_wh"
    assert register_name(3) == "volume_dl"
    assert register_name(99) == "register 99"


def test_token_caps_only_ever_narrow() -> None:
    for role in Role:
        for cap in Role:
            assert permissions(role, cap) <= PERMISSIONS[role]
    assert permissions("admin", "readonly") == PERMISSIONS[Role.READONLY]
    assert Action.KEYS_READ not in permissions("operator")
