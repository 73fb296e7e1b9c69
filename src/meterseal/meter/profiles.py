"""Consumption profiles: the expected demand of a household at a given local time.

The profiles are deterministic functions of local time; the meter models in
:mod:`meterseal.meter.metering` add the noise (from a seeded ``random.Random``) and turn
demand into register increments. Shapes follow the usual residential load research (daily
profiles with morning and evening peaks, weekday versus weekend, a seasonal factor):

* electricity: base load (refrigeration, standby), a morning peak (07:00 on weekdays,
  later and broader at weekends), a daytime plateau at weekends, an evening peak around
  19:30, electric heating in winter and cooling on summer afternoons; optional rooftop
  solar, a bell curve between sunrise and sunset whose height and width follow the season;
* water: discrete draws (showers, taps, toilet, appliances) arriving at a rate that peaks
  in the morning and evening and nearly vanishes at night, plus summer garden watering;
  a leak adds a small constant flow;
* gas: space heating driven by heating degrees (outdoor temperature below a balance point,
  coldest in mid-January), with a night setback, plus cooking peaks at lunch and dinner and
  hot water in the morning and evening.

The seasons are those of the northern hemisphere. Local time is UTC plus a fixed offset.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date
from typing import Final

SECONDS_PER_DAY: Final = 86_400
_EPOCH_ORDINAL: Final = date(1970, 1, 1).toordinal()
_DAYS_PER_YEAR: Final = 365.25
MID_WINTER_DAY: Final = 15
"""Day of year of the coldest weather (mid-January)."""
MID_SUMMER_DAY: Final = 196
"""Day of year of the warmest weather (mid-July)."""
SOLSTICE_DAY: Final = 172
"""Day of year of the longest day (21 June)."""


@dataclass(frozen=True, slots=True)
class LocalTime:
    """The calendar facts a profile needs: hour of day, weekday and day of year."""

    hour: float
    weekday: int
    day_of_year: int

    @property
    def weekend(self) -> bool:
        """Saturday or Sunday."""
        return self.weekday >= 5


def local_time(unix: int, utc_offset_seconds: int = 0) -> LocalTime:
    """Local time at ``unix`` (integer seconds, UTC) for a fixed offset from UTC."""
    days, seconds = divmod(unix + utc_offset_seconds, SECONDS_PER_DAY)
    day_of_year = date.fromordinal(_EPOCH_ORDINAL + days).timetuple().tm_yday
    return LocalTime(seconds / 3600, (days + 3) % 7, day_of_year)  # 1970-01-01 was a Thursday


def daily_bump(hour: float, center: float, width: float) -> float:
    """A Gaussian bump of height 1 at ``center`` hours, ``width`` hours wide, wrapping at 24."""
    distance = (hour - center + 12) % 24 - 12
    return math.exp(-0.5 * (distance / width) ** 2)


def seasonal(day_of_year: int, peak_day: int) -> float:
    """A yearly cosine: 1 on ``peak_day``, -1 half a year later."""
    return math.cos(2 * math.pi * (day_of_year - peak_day) / _DAYS_PER_YEAR)


@dataclass(frozen=True, slots=True)
class ElectricityProfile:
    """A household's electric load in watts, and optionally its rooftop solar output."""

    base_w: float = 180.0
    morning_w: float = 700.0
    midday_w: float = 450.0
    evening_w: float = 1500.0
    heating_w: float = 600.0
    cooling_w: float = 350.0
    solar_peak_w: float = 0.0
    noise: float = 0.2

    def load_w(self, t: LocalTime) -> float:
        """Mean household demand at ``t``."""
        morning = daily_bump(t.hour, 8.5, 1.3) if t.weekend else daily_bump(t.hour, 7.0, 0.8)
        midday = daily_bump(t.hour, 13.0, 2.5) * (1.0 if t.weekend else 0.3)
        evening = daily_bump(t.hour, 19.5, 1.8)
        occupied = self.morning_w * morning + self.midday_w * midday + self.evening_w * evening
        return self.base_w + occupied + self._climate_w(t, morning + midday + evening)

    def _climate_w(self, t: LocalTime, occupancy: float) -> float:
        """Heating follows occupancy in winter; cooling follows summer afternoons."""
        winter = max(0.0, seasonal(t.day_of_year, MID_WINTER_DAY))
        summer = max(0.0, seasonal(t.day_of_year, MID_SUMMER_DAY))
        heating = self.heating_w * winter * (0.3 + min(occupancy, 1.0))
        return heating + self.cooling_w * summer * daily_bump(t.hour, 16.0, 3.0)

    def solar_w(self, t: LocalTime) -> float:
        """Mean PV output at ``t``: a bell between sunrise and sunset, larger in summer."""
        if self.solar_peak_w <= 0:
            return 0.0
        summer = seasonal(t.day_of_year, SOLSTICE_DAY)
        day_length = 12.0 + 4.0 * summer
        position = (t.hour - (12.0 - day_length / 2)) / day_length
        if not 0.0 < position < 1.0:
            return 0.0
        return self.solar_peak_w * (0.6 + 0.4 * summer) * math.sin(math.pi * position) ** 2


@dataclass(frozen=True, slots=True)
class WaterProfile:
    """A household's water draws: rates in draws per hour, volumes in litres."""

    morning_draws_per_h: float = 6.0
    evening_draws_per_h: float = 4.5
    daytime_draws_per_h: float = 1.5
    night_draws_per_h: float = 0.04
    mean_draw_l: float = 7.0
    summer_factor: float = 0.25
    leak_l_per_h: float = 2.0
    leak_start_rate: float = 0.0
    leak_stop_rate: float = 0.005

    def draw_rate_per_h(self, t: LocalTime) -> float:
        """Expected number of draws per hour at ``t``."""
        morning = daily_bump(t.hour, 8.5, 1.3) if t.weekend else daily_bump(t.hour, 7.0, 0.9)
        evening = daily_bump(t.hour, 20.0, 1.6)
        daytime = daily_bump(t.hour, 13.0, 3.0) * (1.4 if t.weekend else 1.0)
        summer = 1.0 + self.summer_factor * max(0.0, seasonal(t.day_of_year, MID_SUMMER_DAY))
        active = (
            self.morning_draws_per_h * morning
            + self.evening_draws_per_h * evening
            + self.daytime_draws_per_h * daytime
        )
        return self.night_draws_per_h + active * summer


@dataclass(frozen=True, slots=True)
class GasProfile:
    """A household's gas use in litres per hour (1 m3 of natural gas is about 10 kWh)."""

    heating_l_per_h: float = 1200.0
    balance_temp_c: float = 15.5
    design_temp_c: float = -5.0
    mean_temp_c: float = 10.0
    temp_swing_c: float = 9.0
    cooking_l_per_h: float = 90.0
    hot_water_l_per_h: float = 60.0
    noise: float = 0.25

    def outdoor_temp_c(self, t: LocalTime) -> float:
        """Typical outdoor temperature: coldest in mid-January and at 05:00."""
        season = self.temp_swing_c * seasonal(t.day_of_year, MID_WINTER_DAY)
        return self.mean_temp_c - season - 3.0 * daily_bump(t.hour, 5.0, 4.0)

    def flow_l_per_h(self, t: LocalTime) -> float:
        """Mean gas flow at ``t``: heating by degrees below balance, cooking and hot water."""
        span = self.balance_temp_c - self.design_temp_c
        demand = min(1.0, max(0.0, (self.balance_temp_c - self.outdoor_temp_c(t)) / span))
        comfort = max(daily_bump(t.hour, 7.0, 1.5), daily_bump(t.hour, 19.0, 2.5))
        heating = self.heating_l_per_h * demand * (0.3 + 0.7 * comfort)
        cooking = 0.6 * daily_bump(t.hour, 12.5, 0.6) + daily_bump(t.hour, 18.5, 0.7)
        hot_water = daily_bump(t.hour, 7.0, 0.8) + 0.7 * daily_bump(t.hour, 21.0, 1.2)
        return heating + self.cooking_l_per_h * cooking + self.hot_water_l_per_h * hot_water
