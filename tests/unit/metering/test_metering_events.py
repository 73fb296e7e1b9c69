"""Meter events: their rate, their kinds, their timing, recorded events, outages and leaks."""

from __future__ import annotations

from metering_support import DAY, JANUARY, register, seeded

from meterseal.messages import EventKind, MeterEvent
from meterseal.meter.metering import (
    ElectricityMeter,
    MeterModel,
    MeterSettings,
    WaterMeter,
    build_batch,
)
from meterseal.meter.profiles import ElectricityProfile, WaterProfile


def _events(meter: MeterModel, days: int) -> list[MeterEvent]:
    return [
        event for day in range(days) for event in build_batch(meter, JANUARY + day * DAY).events
    ]


class _OutageProneMeter(ElectricityMeter):
    """An electricity meter whose every random event is a power outage."""

    @property
    def event_kinds(self) -> tuple[EventKind, ...]:
        return (EventKind.POWER_OUTAGE,)


def test_events_arrive_at_roughly_the_configured_rate() -> None:
    meter = ElectricityMeter("E", seeded(1), MeterSettings(event_rate=0.05))
    count = len(_events(meter, 30))
    assert 100 < count < 190  # 2880 intervals: expected 144, standard deviation 12


def test_no_events_at_rate_zero() -> None:
    meter = ElectricityMeter("E", seeded(1), MeterSettings(event_rate=0.0))
    assert _events(meter, 10) == []


def test_event_kinds_fit_the_meter() -> None:
    solar = ElectricityMeter(
        "PV", seeded(2), MeterSettings(event_rate=0.5), ElectricityProfile(solar_peak_w=3000)
    )
    water = WaterMeter("W", seeded(2), MeterSettings(event_rate=0.5))
    solar_kinds = {event.kind for event in _events(solar, 5)}
    water_kinds = {event.kind for event in _events(water, 5)}
    assert EventKind.REVERSE_FLOW not in solar_kinds
    assert EventKind.CURRENT_BYPASS in solar_kinds
    assert {EventKind.REVERSE_FLOW, EventKind.BATTERY_LOW} <= water_kinds
    assert EventKind.CURRENT_BYPASS not in water_kinds


def test_events_are_sorted_and_inside_the_batch() -> None:
    meter = ElectricityMeter("E", seeded(3), MeterSettings(event_rate=0.2))
    batch = build_batch(meter, JANUARY)
    times = [event.at for event in batch.events]
    assert times == sorted(times)
    assert times[0] >= JANUARY
    assert times[-1] < JANUARY + DAY


def test_recorded_event_goes_into_the_next_batch_only() -> None:
    meter = WaterMeter("W", seeded(4), MeterSettings(event_rate=0.0))
    tamper = MeterEvent(EventKind.SECURE_ELEMENT_TAMPER, JANUARY - 60, 1)
    meter.record_event(tamper)
    assert build_batch(meter, JANUARY).events == (tamper,)
    assert build_batch(meter, JANUARY + DAY).events == ()


def test_power_outages_reduce_the_energy_registered() -> None:
    settings = MeterSettings(event_rate=1.0)
    outages = register(_OutageProneMeter("E", seeded(5), settings), "energy_import_wh", JANUARY, 14)
    normal = register(ElectricityMeter("E", seeded(5)), "energy_import_wh", JANUARY, 14)
    assert outages[-1] - outages[0] < 0.85 * (normal[-1] - normal[0])


def test_outage_lasts_at_most_to_the_end_of_its_interval() -> None:
    meter = _OutageProneMeter("E", seeded(6), MeterSettings(event_rate=1.0))
    for event in build_batch(meter, JANUARY).events:
        assert 1 <= event.detail <= 900 - (event.at - JANUARY) % 900


def test_a_day_of_uninterrupted_flow_raises_one_leak_alarm() -> None:
    profile = WaterProfile(leak_start_rate=1.0, leak_stop_rate=0.0)
    meter = WaterMeter("W", seeded(7), MeterSettings(event_rate=0.0), profile)
    events = _events(meter, 3)
    assert events == [MeterEvent(EventKind.LEAK_SUSPECTED, JANUARY + DAY - 900, 24)]


def test_ordinary_water_use_raises_no_leak_alarm() -> None:
    meter = WaterMeter("W", seeded(8), MeterSettings(event_rate=0.0))
    assert _events(meter, 30) == []
