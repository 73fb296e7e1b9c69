"""Shared builders for the message unit tests: sample batches, commands and raw maps."""

from __future__ import annotations

import random
from typing import Any

from meterseal import cbor
from meterseal.messages import (
    Command,
    ElectricityReadings,
    EventKind,
    MeterEvent,
    MeterType,
    ReadingBatch,
    TimeSync,
    VolumeReadings,
    encode_batch,
)

START = 1_736_121_600
"""2025-01-06T00:00:00Z, a Monday: the first interval of the sample batches."""

METER_ID = "ELEC-000001"


def electricity_readings(count: int = 96, seed: int = 1) -> ElectricityReadings:
    """``count`` plausible electricity readings with contiguous indexes."""
    rng = random.Random(seed)  # noqa: S311 - sample data, not secrets
    energy = [12_345_678]
    for _ in range(count - 1):
        energy.append(energy[-1] + rng.randrange(900))
    return ElectricityReadings(
        index=tuple(range(count)),
        energy_import_wh=tuple(energy),
        energy_export_wh=(0,) * count,
        voltage_dv=tuple(rng.randrange(2250, 2350) for _ in range(count)),
        current_ma=tuple(rng.randrange(100, 20_000) for _ in range(count)),
        power_w=tuple(rng.randrange(-3000, 5000) for _ in range(count)),
    )


def volume_readings(count: int = 96) -> VolumeReadings:
    """``count`` volume readings, with a gap after the first (a missed interval)."""
    index = (0, *range(2, count + 1))
    return VolumeReadings(index=index, volume_dl=tuple(50_000 + 3 * i for i in range(count)))


def electricity_batch(**changes: Any) -> ReadingBatch:
    """A day of electricity readings with two events; ``changes`` override fields."""
    fields: dict[str, Any] = {
        "meter_id": METER_ID,
        "batch_seq": 7,
        "meter_type": MeterType.ELECTRICITY,
        "interval_start": START,
        "interval_seconds": 900,
        "firmware": "2.1.0",
        "readings": electricity_readings(),
        "events": (
            MeterEvent(EventKind.COVER_OPENED, START + 100, 30),
            MeterEvent(EventKind.CLOCK_CHANGE, START + 7200, -45),
        ),
    }
    fields.update(changes)
    return ReadingBatch(**fields)


def volume_batch(meter_type: MeterType = MeterType.WATER) -> ReadingBatch:
    """A day of water (or gas) readings with no events."""
    return ReadingBatch("WATER-9", 1, meter_type, START, 900, "1.0", volume_readings())


def batch_map(batch: ReadingBatch | None = None) -> dict[Any, Any]:
    """A batch decoded to its raw CBOR map, for tests that edit the wire form."""
    decoded: dict[Any, Any] = cbor.decode(encode_batch(batch or electricity_batch()))
    return decoded


def time_sync(**changes: Any) -> Command:
    """A time-sync command for :data:`METER_ID`, valid from START for an hour."""
    fields: dict[str, Any] = {
        "command_id": 42,
        "target": METER_ID,
        "issued_at": START,
        "expires_at": START + 3600,
        "params": TimeSync(START + 5),
    }
    fields.update(changes)
    return Command(**fields)
