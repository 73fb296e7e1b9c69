"""Meter models: cumulative registers, interval freeze readings and events, as batches.

Each model keeps the registers a real meter keeps (monotonic energy or volume counters,
held internally in finer integer units so that no rounding is ever lost) and freezes them
at the end of every interval, 15 minutes by default. Demand comes from
:mod:`meterseal.meter.profiles`; noise, events and the initial register values come from
the ``random.Random`` the caller passes in, and time is the caller's ``interval_start``:
no I/O, no clock, and the same seed gives the same batches.

Events arrive at ``event_rate`` per interval (at most one random event per interval),
drawn uniformly from the kinds that fit the meter; a water meter also raises
``LEAK_SUSPECTED`` itself after a day of uninterrupted flow, and events recorded with
:meth:`MeterModel.record_event` (a tamper signal, for instance) go into the next batch.
A power outage stops an electricity meter's registers for its duration.

:func:`build_batch` freezes N intervals (96 = one day of 15-minute intervals) into the
meter's next :class:`~meterseal.messages.batch.ReadingBatch`.
"""

from __future__ import annotations

import math
import random
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from typing import ClassVar, Final

from meterseal.messages.batch import ReadingBatch
from meterseal.messages.events import EventKind, MeterEvent
from meterseal.messages.readings import ElectricityReadings, MeterType, Readings, VolumeReadings
from meterseal.meter.profiles import (
    ElectricityProfile,
    GasProfile,
    WaterProfile,
    local_time,
)

DEFAULT_INTERVAL_SECONDS: Final = 900
INTERVALS_PER_DAY: Final = 96
NOMINAL_VOLTAGE_DV: Final = 2300
LEAK_ALARM_INTERVALS: Final = INTERVALS_PER_DAY
"""Uninterrupted flow for this many intervals raises ``LEAK_SUSPECTED``."""


@dataclass(frozen=True, slots=True)
class MeterSettings:
    """What a meter is configured with, beside its profile."""

    interval_seconds: int = DEFAULT_INTERVAL_SECONDS
    event_rate: float = 0.001
    firmware: str = "1.0.0"
    utc_offset_seconds: int = 0


def noise_factor(rng: random.Random, sigma: float) -> float:
    """A multiplicative noise factor around 1, never negative."""
    return max(0.0, rng.gauss(1.0, sigma))


def poisson(rng: random.Random, mean: float) -> int:
    """A Poisson-distributed count (Knuth's method: fine for one interval's small mean)."""
    limit, count, product = math.exp(-mean), 0, rng.random()
    while product > limit:
        count += 1
        product *= rng.random()
    return count


_DETAILS: Final[dict[EventKind, Callable[[random.Random, int], int]]] = {
    EventKind.COVER_OPENED: lambda rng, _left: rng.randrange(5, 600),
    EventKind.TERMINAL_COVER_OPENED: lambda rng, _left: rng.randrange(5, 600),
    EventKind.MAGNETIC_INTERFERENCE: lambda rng, _left: rng.randrange(50, 500),
    EventKind.REVERSE_FLOW: lambda rng, _left: rng.randrange(1, 50),
    EventKind.POWER_OUTAGE: lambda rng, left: rng.randrange(1, left + 1),
    EventKind.FIRMWARE_READ_ATTEMPT: lambda rng, _left: rng.randrange(3),
    EventKind.CLOCK_CHANGE: lambda rng, _left: rng.choice((-1, 1)) * rng.randrange(1, 121),
    EventKind.CURRENT_BYPASS: lambda rng, _left: rng.randrange(500, 20_000),
    EventKind.BATTERY_LOW: lambda rng, _left: rng.randrange(2_900, 3_300),
}
"""A plausible ``detail`` per kind, given the seconds left in the interval."""

_COMMON_KINDS: Final = (
    EventKind.COVER_OPENED,
    EventKind.MAGNETIC_INTERFERENCE,
    EventKind.POWER_OUTAGE,
    EventKind.FIRMWARE_READ_ATTEMPT,
    EventKind.CLOCK_CHANGE,
)


class MeterModel(ABC):
    """A meter's registers and event source; subclasses say how registers advance."""

    meter_type: ClassVar[MeterType]

    def __init__(self, meter_id: str, rng: random.Random, settings: MeterSettings) -> None:
        self.meter_id = meter_id
        self.settings = settings
        self.next_batch_seq = 1
        self._rng = rng
        self._next_interval: int | None = None
        self._pending: list[MeterEvent] = []

    @property
    @abstractmethod
    def event_kinds(self) -> tuple[EventKind, ...]:
        """The kinds of random event this meter can raise."""

    @abstractmethod
    def _advance(self, interval_start: int, events: list[MeterEvent]) -> tuple[int, ...]:
        """Advance the registers over one interval; return the frozen register values.

        ``events`` holds the interval's events so far: a model may read them (an outage
        stops an electricity meter) or add its own (a water meter's leak alarm).
        """

    @abstractmethod
    def columns(self, rows: list[tuple[int, ...]]) -> Readings:
        """Columns for frozen rows of register values, with indexes 0..len(rows)-1."""

    def record_event(self, event: MeterEvent) -> None:
        """Queue an event (a tamper signal, say) for the next batch."""
        self._pending.append(event)

    def freeze(self, interval_start: int) -> tuple[tuple[int, ...], list[MeterEvent]]:
        """Freeze one interval: its register values and the events raised during it."""
        events = self._draw_events(interval_start)
        return self._advance(interval_start, events), events

    def _draw_events(self, interval_start: int) -> list[MeterEvent]:
        rng, step = self._rng, self.settings.interval_seconds
        if rng.random() >= self.settings.event_rate:
            return []
        kind = rng.choice(self.event_kinds)
        at = interval_start + rng.randrange(step)
        return [MeterEvent(kind, at, _DETAILS[kind](rng, interval_start + step - at))]

    def start_batch(self, interval_start: int) -> list[MeterEvent]:
        """Check the batch start and take the queued events; raise ValueError if misused."""
        step = self.settings.interval_seconds
        if interval_start % step:
            raise ValueError(f"interval_start {interval_start} is not a multiple of {step}")
        if self._next_interval is not None and interval_start < self._next_interval:
            raise ValueError(f"interval {interval_start} was already frozen")
        events, self._pending = self._pending, []
        return events

    def finish_batch(self, next_interval: int) -> int:
        """Note where the next batch may start; return this batch's sequence number."""
        self._next_interval = next_interval
        self.next_batch_seq += 1
        return self.next_batch_seq - 1


class ElectricityMeter(MeterModel):
    """An electricity meter: import and export energy, voltage, current, active power."""

    meter_type = MeterType.ELECTRICITY

    def __init__(
        self,
        meter_id: str,
        rng: random.Random,
        settings: MeterSettings | None = None,
        profile: ElectricityProfile | None = None,
    ) -> None:
        super().__init__(meter_id, rng, settings or MeterSettings())
        self.profile = profile or ElectricityProfile()
        self._import_mwh = rng.randrange(20_000_000) * 1000
        self._export_mwh = rng.randrange(5_000_000) * 1000 if self.profile.solar_peak_w else 0

    @property
    def energy_import_wh(self) -> int:
        """The import register."""
        return self._import_mwh // 1000

    @property
    def energy_export_wh(self) -> int:
        """The export register."""
        return self._export_mwh // 1000

    @property
    def event_kinds(self) -> tuple[EventKind, ...]:
        """Reverse energy flow is an anomaly only for a meter without solar."""
        extra = (EventKind.TERMINAL_COVER_OPENED, EventKind.CURRENT_BYPASS)
        reverse = () if self.profile.solar_peak_w else (EventKind.REVERSE_FLOW,)
        return (*_COMMON_KINDS, *extra, *reverse)

    def _advance(self, interval_start: int, events: list[MeterEvent]) -> tuple[int, ...]:
        step, rng, profile = self.settings.interval_seconds, self._rng, self.profile
        t = local_time(interval_start + step // 2, self.settings.utc_offset_seconds)
        load_w = profile.load_w(t) * noise_factor(rng, profile.noise)
        solar_w = profile.solar_w(t) * noise_factor(rng, profile.noise)
        outage = sum(e.detail for e in events if e.kind is EventKind.POWER_OUTAGE)
        net_w = (load_w - solar_w) * (1 - min(outage, step) / step)
        self._import_mwh += round(max(net_w, 0.0) * step / 3.6)
        self._export_mwh += round(max(-net_w, 0.0) * step / 3.6)
        return (self.energy_import_wh, self.energy_export_wh, *self._instantaneous(net_w))

    def _instantaneous(self, net_w: float) -> tuple[int, int, int]:
        """Voltage (dV), current (mA) and signed power (W) at the freeze instant."""
        power_w = round(net_w * noise_factor(self._rng, 0.1))
        voltage_dv = round(NOMINAL_VOLTAGE_DV + self._rng.gauss(0.0, 12.0) - power_w / 250)
        return voltage_dv, abs(power_w) * 10_000 // voltage_dv, power_w

    def columns(self, rows: list[tuple[int, ...]]) -> Readings:
        return ElectricityReadings(tuple(range(len(rows))), *zip(*rows, strict=True))


class _VolumeMeter(MeterModel):
    """A water or gas meter: one cumulative volume register (held in millilitres)."""

    def __init__(self, meter_id: str, rng: random.Random, settings: MeterSettings) -> None:
        super().__init__(meter_id, rng, settings)
        self._volume_ml = rng.randrange(5_000_000) * 100

    @property
    def volume_dl(self) -> int:
        """The volume register, decilitres."""
        return self._volume_ml // 100

    @property
    def event_kinds(self) -> tuple[EventKind, ...]:
        """Battery-powered: low battery instead of bypass; reverse flow is always odd."""
        return (*_COMMON_KINDS, EventKind.REVERSE_FLOW, EventKind.BATTERY_LOW)

    def columns(self, rows: list[tuple[int, ...]]) -> Readings:
        return VolumeReadings(tuple(range(len(rows))), tuple(row[0] for row in rows))


class WaterMeter(_VolumeMeter):
    """A water meter: bursty household draws, and leaks that start and stop at random."""

    meter_type = MeterType.WATER

    def __init__(
        self,
        meter_id: str,
        rng: random.Random,
        settings: MeterSettings | None = None,
        profile: WaterProfile | None = None,
    ) -> None:
        super().__init__(meter_id, rng, settings or MeterSettings())
        self.profile = profile or WaterProfile()
        self.leaking = False
        self._flowing_intervals = 0

    def _advance(self, interval_start: int, events: list[MeterEvent]) -> tuple[int, ...]:
        step, rng, profile = self.settings.interval_seconds, self._rng, self.profile
        t = local_time(interval_start + step // 2, self.settings.utc_offset_seconds)
        draws = poisson(rng, profile.draw_rate_per_h(t) * step / 3600)
        volume_ml = sum(rng.expovariate(1 / profile.mean_draw_l) for _ in range(draws)) * 1000
        self._update_leak()
        if self.leaking:
            volume_ml += profile.leak_l_per_h * step / 3.6 * noise_factor(rng, 0.1)
        self._volume_ml += round(volume_ml)
        self._flowing_intervals = self._flowing_intervals + 1 if round(volume_ml) else 0
        events.extend(self._leak_alarm(interval_start))
        return (self.volume_dl,)

    def _update_leak(self) -> None:
        rate = self.profile.leak_stop_rate if self.leaking else self.profile.leak_start_rate
        if self._rng.random() < rate:
            self.leaking = not self.leaking

    def _leak_alarm(self, interval_start: int) -> list[MeterEvent]:
        """``LEAK_SUSPECTED`` once flow has not stopped for a whole day."""
        if self._flowing_intervals != LEAK_ALARM_INTERVALS:
            return []
        hours = LEAK_ALARM_INTERVALS * self.settings.interval_seconds // 3600
        return [MeterEvent(EventKind.LEAK_SUSPECTED, interval_start, hours)]


class GasMeter(_VolumeMeter):
    """A gas meter: heating-driven seasonal demand with cooking and hot-water peaks."""

    meter_type = MeterType.GAS

    def __init__(
        self,
        meter_id: str,
        rng: random.Random,
        settings: MeterSettings | None = None,
        profile: GasProfile | None = None,
    ) -> None:
        super().__init__(meter_id, rng, settings or MeterSettings())
        self.profile = profile or GasProfile()

    def _advance(
        self,
        interval_start: int,
        events: list[MeterEvent],  # noqa: ARG002 - a gas register neither stops nor alarms here
    ) -> tuple[int, ...]:
        step, profile = self.settings.interval_seconds, self.profile
        t = local_time(interval_start + step // 2, self.settings.utc_offset_seconds)
        flow = profile.flow_l_per_h(t) * noise_factor(self._rng, profile.noise)
        self._volume_ml += round(flow * step / 3.6)
        return (self.volume_dl,)


def build_batch(
    meter: MeterModel, interval_start: int, intervals: int = INTERVALS_PER_DAY
) -> ReadingBatch:
    """Freeze ``intervals`` consecutive intervals from ``interval_start`` into a batch.

    ``interval_start`` must be a multiple of the interval length and not before the end of
    the meter's previous batch; each batch takes the meter's next sequence number.
    """
    if intervals < 1:
        raise ValueError("a batch holds at least one interval")
    events = meter.start_batch(interval_start)
    step, rows = meter.settings.interval_seconds, []
    for i in range(intervals):
        values, raised = meter.freeze(interval_start + i * step)
        rows.append(values)
        events.extend(raised)
    return ReadingBatch(
        meter_id=meter.meter_id,
        batch_seq=meter.finish_batch(interval_start + intervals * step),
        meter_type=meter.meter_type,
        interval_start=interval_start,
        interval_seconds=step,
        firmware=meter.settings.firmware,
        readings=meter.columns(rows),
        events=tuple(sorted(events, key=lambda event: event.at)),
    )
