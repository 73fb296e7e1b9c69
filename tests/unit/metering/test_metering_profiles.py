"""Consumption shapes: daily peaks, weekday against weekend, seasons, solar, night water."""

from __future__ import annotations

from dataclasses import replace

import pytest
from metering_support import DAY, JANUARY, JULY, hourly, register, seeded, usage_by_interval

from meterseal.meter.metering import ElectricityMeter, GasMeter, WaterMeter
from meterseal.meter.profiles import (
    ElectricityProfile,
    GasProfile,
    LocalTime,
    daily_bump,
    local_time,
)


def test_local_time_knows_weekday_hour_and_day_of_year() -> None:
    assert local_time(JANUARY + 7 * 3600 + 1800) == LocalTime(7.5, 0, 6)
    assert local_time(JANUARY, utc_offset_seconds=8 * 3600).hour == 8.0
    assert local_time(JANUARY + 5 * DAY).weekend


def test_daily_bump_wraps_around_midnight() -> None:
    assert daily_bump(23.5, 0.5, 1.0) == pytest.approx(daily_bump(1.5, 0.5, 1.0))


def test_electricity_evening_peak_exceeds_night_trough_over_four_weeks() -> None:
    usage = usage_by_interval(ElectricityMeter("E", seeded(1)), "energy_import_wh", JANUARY, 28)
    assert hourly(usage, 19) > 3 * hourly(usage, 3)
    assert hourly(usage, 7) > 1.5 * hourly(usage, 3)


def test_weekday_and_weekend_have_different_shapes() -> None:
    profile = ElectricityProfile()
    monday, saturday = local_time(JANUARY), local_time(JANUARY + 5 * DAY)
    assert (monday.weekend, saturday.weekend) == (False, True)
    assert profile.load_w(replace(monday, hour=7.0)) > profile.load_w(replace(saturday, hour=7.0))
    assert profile.load_w(replace(saturday, hour=13.0)) > profile.load_w(replace(monday, hour=13.0))


def test_electricity_heating_makes_winter_days_heavier_than_spring_days() -> None:
    april = JANUARY + 95 * DAY
    winter = register(ElectricityMeter("E", seeded(2)), "energy_import_wh", JANUARY, 7)
    spring = register(ElectricityMeter("E", seeded(2)), "energy_import_wh", april, 7)
    assert winter[-1] - winter[0] > 1.2 * (spring[-1] - spring[0])


def test_solar_meter_exports_by_day_only() -> None:
    meter = ElectricityMeter("PV", seeded(3), profile=ElectricityProfile(solar_peak_w=4000))
    usage = usage_by_interval(meter, "energy_export_wh", JULY, 14)
    assert hourly(usage, 12) > 1000
    assert hourly(usage, 0) == hourly(usage, 23) == 0


def test_meter_without_solar_never_exports() -> None:
    values = register(ElectricityMeter("E", seeded(4)), "energy_export_wh", JULY, 7)
    assert len(set(values)) == 1


def test_water_is_near_zero_at_three_in_the_morning() -> None:
    usage = usage_by_interval(WaterMeter("W", seeded(5)), "volume_dl", JANUARY, 28)
    assert hourly(usage, 3) < 10  # under a litre an hour on average: a rare flush
    assert hourly(usage, 3) < 0.03 * hourly(usage, 7)
    assert hourly(usage, 20) > 100


def test_gas_in_january_far_exceeds_gas_in_july() -> None:
    january = register(GasMeter("G", seeded(6)), "volume_dl", JANUARY, 14)
    july = register(GasMeter("G", seeded(6)), "volume_dl", JULY, 14)
    assert january[-1] - january[0] > 5 * (july[-1] - july[0])


def test_gas_has_a_dinner_cooking_peak_in_summer() -> None:
    usage = usage_by_interval(GasMeter("G", seeded(7)), "volume_dl", JULY, 14)
    assert hourly(usage, 18) > 3 * hourly(usage, 3)


def test_gas_profile_heats_less_when_warmer() -> None:
    profile = GasProfile()
    cold, warm = LocalTime(7.0, 0, 15), LocalTime(7.0, 0, 196)
    assert profile.outdoor_temp_c(cold) < profile.outdoor_temp_c(warm)
    assert profile.flow_l_per_h(cold) > 5 * profile.flow_l_per_h(warm)
