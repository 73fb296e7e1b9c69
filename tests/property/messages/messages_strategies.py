"""Hypothesis strategies for valid messages, and for CBOR items that are mostly not."""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

from meterseal import cbor
from meterseal.messages import (
    ElectricityReadings,
    EventKind,
    MeterEvent,
    MeterType,
    ReadingBatch,
    Readings,
    VolumeReadings,
)
from meterseal.messages.fields import LABEL_PATTERN, MAX_UNIX_TIME, METER_ID_PATTERN

U63 = (1 << 63) - 1

meter_ids = st.from_regex(METER_ID_PATTERN, fullmatch=True)
labels = st.from_regex(LABEL_PATTERN, fullmatch=True)
times = st.integers(0, MAX_UNIX_TIME)
small_or_large = st.one_of(st.integers(0, 255), st.integers(0, 1 << 56))


def _running(first: int, steps: list[int]) -> tuple[int, ...]:
    values = [first]
    for step in steps:
        values.append(values[-1] + step)
    return tuple(values)


@st.composite
def _counter(draw: st.DrawFn, count: int, *, min_step: int, high: int) -> tuple[int, ...]:
    """A column of ``count`` values growing by at least ``min_step``, ending at most ``high``."""
    first = draw(st.integers(0, high - count * max(min_step, 1)))
    room = (high - first) // max(count - 1, 1)
    step = st.integers(min_step, max(min_step, min(room, 1 << 56)))
    return _running(first, draw(st.lists(step, min_size=count - 1, max_size=count - 1)))


@st.composite
def electricity_readings(draw: st.DrawFn, count: int) -> ElectricityReadings:
    """Valid electricity columns of ``count`` readings, across every element width."""

    def column(values: st.SearchStrategy[int]) -> tuple[int, ...]:
        return tuple(draw(st.lists(values, min_size=count, max_size=count)))

    return ElectricityReadings(
        index=draw(_counter(count, min_step=1, high=0xFFFF)),
        energy_import_wh=draw(_counter(count, min_step=0, high=U63)),
        energy_export_wh=draw(_counter(count, min_step=0, high=U63)),
        voltage_dv=column(st.integers(0, 0xFFFF)),
        current_ma=column(st.one_of(st.integers(0, 255), st.integers(0, 0xFFFF_FFFF))),
        power_w=column(st.integers(-(1 << 31), (1 << 31) - 1)),
    )


@st.composite
def volume_readings(draw: st.DrawFn, count: int) -> VolumeReadings:
    """Valid volume columns of ``count`` readings."""
    return VolumeReadings(
        index=draw(_counter(count, min_step=1, high=0xFFFF)),
        volume_dl=draw(_counter(count, min_step=0, high=U63)),
    )


def readings_for(meter_type: MeterType, count: int) -> st.SearchStrategy[Readings]:
    """Readings of the register set of ``meter_type``."""
    if meter_type is MeterType.ELECTRICITY:
        return electricity_readings(count)
    return volume_readings(count)


events = st.builds(MeterEvent, st.sampled_from(EventKind), times, st.integers(-(1 << 63), U63))


@st.composite
def batches(draw: st.DrawFn, max_readings: int = 40) -> ReadingBatch:
    """Any valid reading batch."""
    meter_type = draw(st.sampled_from(MeterType))
    count = draw(st.integers(1, max_readings))
    return ReadingBatch(
        meter_id=draw(meter_ids),
        batch_seq=draw(st.integers(0, U63)),
        meter_type=meter_type,
        interval_start=draw(times),
        interval_seconds=draw(st.integers(1, 86_400)),
        firmware=draw(labels),
        readings=draw(readings_for(meter_type, count)),
        events=tuple(draw(st.lists(events, max_size=5))),
    )


_leaves = st.one_of(
    st.integers(-(1 << 70), 1 << 70),
    st.sampled_from([0, 1, 2, 7, 64, 69, 72, 255, 65_535]),
    st.text(max_size=8),
    st.binary(max_size=16),
    st.booleans(),
    st.none(),
    st.floats(allow_nan=False),
)


def _containers(children: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.one_of(
        st.lists(children, max_size=4),
        st.dictionaries(st.integers(-1, 9), children, max_size=9),
        st.builds(cbor.CBORTag, st.sampled_from([18, 64, 65, 69, 70, 71, 72, 79, 85]), children),
    )


cbor_items = st.recursive(_leaves, _containers, max_leaves=30)
"""Arbitrary CBOR data items, biased toward MeterSeal's keys and tags."""

typed_array_like = st.builds(
    cbor.CBORTag,
    st.sampled_from([64, 65, 69, 70, 71, 72, 77, 78, 79, 85]),
    st.one_of(st.binary(max_size=17), cbor_items),
)
"""Typed arrays (RFC 8746) of any element type and length, and tags that only look like one."""
