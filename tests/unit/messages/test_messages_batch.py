"""Reading batches: round trips, the columnar model, and what construction refuses."""

from __future__ import annotations

from dataclasses import replace

import pytest
from messages_support import (
    START,
    batch_map,
    electricity_batch,
    electricity_readings,
    volume_batch,
    volume_readings,
)

from meterseal import cbor
from meterseal.errors import EncodingError
from meterseal.messages import (
    ElectricityReading,
    ElectricityReadings,
    EventKind,
    MeterEvent,
    MeterType,
    VolumeReading,
    VolumeReadings,
    decode_batch,
    encode_batch,
)


def test_electricity_batch_round_trips_exactly() -> None:
    batch = electricity_batch()
    assert decode_batch(encode_batch(batch)) == batch


@pytest.mark.parametrize("meter_type", [MeterType.WATER, MeterType.GAS])
def test_volume_batch_round_trips_exactly(meter_type: MeterType) -> None:
    batch = volume_batch(meter_type)
    assert decode_batch(encode_batch(batch)) == batch


def test_single_reading_batch_round_trips() -> None:
    batch = electricity_batch(readings=electricity_readings(count=1), events=())
    assert decode_batch(encode_batch(batch)) == batch


def test_extreme_register_values_round_trip() -> None:
    top = (1 << 63) - 1
    readings = ElectricityReadings(
        (0, 65_535), (0, top), (top, top), (0, 65_535), (0, 0xFFFF_FFFF), (-(1 << 31), 2**31 - 1)
    )
    batch = electricity_batch(readings=readings)
    assert decode_batch(encode_batch(batch)).readings == readings


def test_encoding_uses_small_integer_keys() -> None:
    assert sorted(batch_map()) == [1, 2, 3, 4, 5, 6, 7, 8]
    assert sorted(batch_map()[7]) == [0, 1, 2, 3, 4, 5]
    assert sorted(batch_map(volume_batch())[7]) == [0, 6]


def test_counters_travel_as_first_value_and_typed_array_steps() -> None:
    first, steps = batch_map()[7][1]
    assert first == 12_345_678
    assert isinstance(steps, cbor.CBORTag)
    assert steps.tag == 69  # uint16 little-endian: every step is below 900
    assert len(steps.value) == 2 * 95


def test_rows_view_matches_the_columns() -> None:
    readings = electricity_readings(count=3)
    rows = list(readings)
    assert rows[2] == readings[2]
    assert rows[1] == ElectricityReading(
        1,
        readings.energy_import_wh[1],
        0,
        readings.voltage_dv[1],
        readings.current_ma[1],
        readings.power_w[1],
    )
    assert ElectricityReadings.from_rows(rows) == readings
    assert len(readings) == 3


def test_volume_rows_transpose_back_to_columns() -> None:
    readings = volume_readings(count=4)
    assert list(readings)[1] == VolumeReading(2, 50_003)
    assert VolumeReadings.from_rows(readings) == readings


def test_reading_times_follow_the_index() -> None:
    batch = volume_batch()
    assert batch.reading_times[:3] == (START, START + 1800, START + 2700)


def test_readings_need_at_least_one_row() -> None:
    with pytest.raises(EncodingError, match="at least one"):
        VolumeReadings.from_rows([])


def test_columns_of_different_lengths_are_refused() -> None:
    with pytest.raises(EncodingError, match="differ in length"):
        VolumeReadings((0, 1), (5,))


def test_readings_must_match_the_meter_type() -> None:
    with pytest.raises(EncodingError, match="ELECTRICITY meter cannot carry VolumeReadings"):
        electricity_batch(readings=volume_readings())


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("meter_id", "", "meter_id"),
        ("meter_id", "meter 1", "meter_id"),
        ("batch_seq", -1, "batch_seq"),
        ("batch_seq", True, "batch_seq must be an integer"),
        ("interval_start", 2.5, "interval_start must be an integer"),
        ("interval_seconds", 0, "interval_seconds"),
        ("firmware", "x" * 33, "firmware"),
        ("meter_type", 1, "meter_type must be a MeterType"),
    ],
)
def test_construction_refuses_bad_fields(field: str, value: object, message: str) -> None:
    with pytest.raises(EncodingError, match=message):
        electricity_batch(**{field: value})


def test_events_refuse_bad_values() -> None:
    with pytest.raises(EncodingError, match="MeterEvent at"):
        MeterEvent(EventKind.POWER_OUTAGE, -1)
    with pytest.raises(EncodingError, match="MeterEvent kind"):
        MeterEvent(3, START)  # type: ignore[arg-type]


def test_encoder_refuses_a_decreasing_register() -> None:
    readings = ElectricityReadings((0, 1), (10, 9), (0, 0), (2300, 2300), (1, 1), (1, 1))
    with pytest.raises(EncodingError, match="energy_import_wh must increase"):
        encode_batch(electricity_batch(readings=readings))


def test_encoder_refuses_repeated_interval_index() -> None:
    readings = VolumeReadings((3, 3), (1, 2))
    with pytest.raises(EncodingError, match="index must increase by at least 1"):
        encode_batch(replace(volume_batch(), readings=readings))


def test_encoder_refuses_out_of_range_gauges() -> None:
    readings = ElectricityReadings((0,), (1,), (0,), (70_000,), (1,), (1,))
    with pytest.raises(EncodingError, match="voltage_dv must lie in"):
        encode_batch(electricity_batch(readings=readings))


def test_encoder_refuses_float_registers() -> None:
    readings = ElectricityReadings((0, 1), (1, 2), (0, 0), (2300, 2300.5), (1, 1), (1, 1))  # type: ignore[arg-type]
    with pytest.raises(EncodingError, match="voltage_dv must hold integers"):
        encode_batch(electricity_batch(readings=readings))
