"""Meter registers: monotonic and continuous, deterministic per seed, valid on the wire."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import replace

import pytest
from metering_support import DAY, JANUARY, register, seeded

from meterseal.crypto.suites import SUITE_0, SUITE_2
from meterseal.messages import (
    ElectricityReadings,
    MeterType,
    VolumeReadings,
    decode_batch,
    encode_batch,
    seal_batch,
)
from meterseal.meter.metering import (
    ElectricityMeter,
    GasMeter,
    MeterModel,
    MeterSettings,
    WaterMeter,
    build_batch,
)
from meterseal.meter.profiles import ElectricityProfile

MODELS: dict[str, Callable[[int], MeterModel]] = {
    "electricity": lambda seed: ElectricityMeter("E-1", seeded(seed)),
    "solar": lambda seed: ElectricityMeter(
        "E-2", seeded(seed), profile=ElectricityProfile(solar_peak_w=5000)
    ),
    "water": lambda seed: WaterMeter("W-1", seeded(seed)),
    "gas": lambda seed: GasMeter("G-1", seeded(seed)),
}
REGISTERS = {
    "electricity": ("energy_import_wh", "energy_export_wh"),
    "solar": ("energy_import_wh", "energy_export_wh"),
    "water": ("volume_dl",),
    "gas": ("volume_dl",),
}


@pytest.mark.parametrize("model", sorted(MODELS))
def test_registers_never_decrease_within_or_across_batches(model: str) -> None:
    for name in REGISTERS[model]:
        values = register(MODELS[model](1), name, JANUARY, 10)
        assert len(values) == 960
        assert values == sorted(values)


@pytest.mark.parametrize("model", sorted(MODELS))
def test_same_seed_gives_the_same_batches(model: str) -> None:
    first, second = MODELS[model](9), MODELS[model](9)
    for day in range(3):
        start = JANUARY + day * DAY
        assert build_batch(first, start) == build_batch(second, start)


def test_same_seed_gives_the_same_signed_bytes_under_eddsa() -> None:
    key = SUITE_0.signature.generate(os.urandom)
    sealed = [
        seal_batch(build_batch(MODELS["water"](3), JANUARY), key, SUITE_0.signature)
        for _ in range(2)
    ]
    assert sealed[0] == sealed[1]


@pytest.mark.parametrize("model", sorted(MODELS))
def test_different_seeds_give_different_batches(model: str) -> None:
    assert build_batch(MODELS[model](1), JANUARY) != build_batch(MODELS[model](2), JANUARY)


@pytest.mark.parametrize("model", sorted(MODELS))
def test_built_batches_survive_the_wire(model: str) -> None:
    batch = build_batch(MODELS[model](4), JANUARY)
    assert decode_batch(encode_batch(batch)) == batch


def test_batches_carry_the_meter_identity_and_increasing_sequence() -> None:
    meter = WaterMeter("W-7", seeded(1), MeterSettings(firmware="3.0.1"))
    batches = [build_batch(meter, JANUARY + day * DAY) for day in range(3)]
    assert [b.batch_seq for b in batches] == [1, 2, 3]
    assert {(b.meter_id, b.meter_type, b.firmware) for b in batches} == {
        ("W-7", MeterType.WATER, "3.0.1")
    }
    assert batches[1].interval_start == JANUARY + DAY
    assert batches[0].readings.index == tuple(range(96))


def test_interval_length_and_count_are_configurable() -> None:
    meter = GasMeter("G-2", seeded(1), MeterSettings(interval_seconds=3600))
    batch = build_batch(meter, JANUARY, intervals=24)
    assert (batch.interval_seconds, len(batch.readings)) == (3600, 24)
    assert batch.reading_times[-1] == JANUARY + 23 * 3600


def test_instantaneous_values_are_consistent() -> None:
    readings = build_batch(ElectricityMeter("E-3", seeded(2)), JANUARY).readings
    assert isinstance(readings, ElectricityReadings)
    for reading in readings:
        assert 2200 <= reading.voltage_dv <= 2400
        expected_ma = abs(reading.power_w) * 10_000 / reading.voltage_dv
        assert reading.current_ma == pytest.approx(expected_ma, abs=1)


def test_solar_meter_reports_negative_power_at_noon_in_summer() -> None:
    meter = MODELS["solar"](5)
    readings = build_batch(meter, JANUARY + 180 * DAY).readings
    assert isinstance(readings, ElectricityReadings)
    assert min(readings.power_w[44:52]) < 0


@pytest.mark.parametrize(
    ("start", "intervals", "message"),
    [
        (JANUARY + 1, 96, "not a multiple of 900"),
        (JANUARY, 0, "at least one interval"),
    ],
)
def test_misuse_is_refused(start: int, intervals: int, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        build_batch(MODELS["gas"](1), start, intervals)


def test_frozen_intervals_cannot_be_frozen_again() -> None:
    meter: MeterModel = MODELS["electricity"](1)
    build_batch(meter, JANUARY)
    with pytest.raises(ValueError, match="already frozen"):
        build_batch(meter, JANUARY + DAY - 900)


def test_a_gap_between_batches_is_allowed() -> None:
    meter = MODELS["water"](1)
    first = build_batch(meter, JANUARY)
    later = build_batch(meter, JANUARY + 3 * DAY)
    assert later.batch_seq == first.batch_seq + 1
    assert isinstance(first.readings, VolumeReadings)
    assert isinstance(later.readings, VolumeReadings)
    assert later.readings.volume_dl[0] >= first.readings.volume_dl[-1]


def test_built_batch_is_compact_when_signed() -> None:
    batch = build_batch(MODELS["electricity"](1), JANUARY)
    sealed = seal_batch(
        replace(batch, events=()), SUITE_2.signature.generate(os.urandom), SUITE_2.signature
    )
    assert len(sealed) < 1200
