"""Interval freeze readings: typed rows, and the columnar form that batches carry.

A meter freezes its registers at the end of every interval (15 minutes by default). A
batch carries its readings *column by column* (see :mod:`meterseal.messages.columns`):
:class:`ElectricityReadings` and :class:`VolumeReadings` hold one tuple per register, and
yield typed rows (:class:`ElectricityReading`, :class:`VolumeReading`) on demand. Values
are integers in scaled units; nothing that is billed is a float:

* energy in watt-hours (Wh), volume in decilitres (dL, 0.1 litre);
* voltage in decivolts (dV, 0.1 V), current in milliamperes (mA);
* active power in watts (W), signed: positive imports, negative exports.

``index`` numbers the interval from the batch's ``interval_start``: reading ``i`` covers
``interval_start + index[i] * interval_seconds`` onwards. Indexes strictly increase; a gap
is an interval the meter did not freeze (for example during a power outage).

Column keys (the readings map, key 7 of a batch; every key of the meter type is required,
any other key is an error):

===  ==================  ==================  =====================================
key  column              meter types         wire form and range
===  ==================  ==================  =====================================
0    index               all                 counter, steps >= 1, 0..65535
1    energy_import_wh    electricity         counter, 0..2^63-1
2    energy_export_wh    electricity         counter, 0..2^63-1
3    voltage_dv          electricity         gauge, 0..65535
4    current_ma          electricity         gauge, 0..2^32-1
5    power_w             electricity         gauge, -2^31..2^31-1
6    volume_dl           water, gas          counter, 0..2^63-1
===  ==================  ==================  =====================================
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from enum import IntEnum
from operator import attrgetter
from typing import Any, Final

from meterseal.errors import EncodingError
from meterseal.messages.columns import decode_counter, decode_gauge, encode_counter, encode_typed
from meterseal.messages.fields import MAX_U63, expect_map

MAX_READINGS: Final = 4096
"""Most readings one batch may carry (42 days of 15-minute intervals)."""

MAX_INDEX: Final = 0xFFFF
MAX_VOLTAGE_DV: Final = 0xFFFF
MAX_CURRENT_MA: Final = 0xFFFF_FFFF
POWER_RANGE_W: Final = (-(1 << 31), (1 << 31) - 1)


class MeterType(IntEnum):
    """What a meter measures; it fixes the register set of its readings."""

    ELECTRICITY = 1
    WATER = 2
    GAS = 3


@dataclass(frozen=True, slots=True)
class ElectricityReading:
    """One electricity interval freeze: cumulative energy and instantaneous values."""

    index: int
    energy_import_wh: int
    energy_export_wh: int
    voltage_dv: int
    current_ma: int
    power_w: int


@dataclass(frozen=True, slots=True)
class VolumeReading:
    """One water or gas interval freeze: the cumulative volume register."""

    index: int
    volume_dl: int


_ELECTRICITY_FIELDS = (
    "index",
    "energy_import_wh",
    "energy_export_wh",
    "voltage_dv",
    "current_ma",
    "power_w",
)
_VOLUME_FIELDS = ("index", "volume_dl")


def _check_shape(columns: tuple[tuple[int, ...], ...], what: str) -> None:
    """Every column holds the same number of readings, 1..MAX_READINGS."""
    count = len(columns[0])
    if not 1 <= count <= MAX_READINGS:
        raise EncodingError(f"{what} must hold 1..{MAX_READINGS} readings, got {count}")
    if any(len(column) != count for column in columns):
        raise EncodingError(f"{what} columns differ in length")


@dataclass(frozen=True, slots=True)
class ElectricityReadings:
    """The readings of an electricity batch, one tuple per register (same length each).

    Construction checks the shape; value ranges and monotonic counters are checked by the
    codec on both sides of the wire (:func:`encode_readings`, :func:`decode_readings`).
    """

    index: tuple[int, ...]
    energy_import_wh: tuple[int, ...]
    energy_export_wh: tuple[int, ...]
    voltage_dv: tuple[int, ...]
    current_ma: tuple[int, ...]
    power_w: tuple[int, ...]

    def __post_init__(self) -> None:
        _check_shape(_ELECTRICITY_COLUMNS(self), "ElectricityReadings")

    def __len__(self) -> int:
        return len(self.index)

    def __getitem__(self, i: int) -> ElectricityReading:
        return ElectricityReading(*(column[i] for column in _ELECTRICITY_COLUMNS(self)))

    def __iter__(self) -> Iterator[ElectricityReading]:
        return map(ElectricityReading, *_ELECTRICITY_COLUMNS(self))

    @classmethod
    def from_rows(cls, rows: Iterable[ElectricityReading]) -> ElectricityReadings:
        """Transpose typed rows into columns."""
        return cls(*_transpose(map(_ELECTRICITY_COLUMNS, rows)))


@dataclass(frozen=True, slots=True)
class VolumeReadings:
    """The readings of a water or gas batch: interval index and volume register columns."""

    index: tuple[int, ...]
    volume_dl: tuple[int, ...]

    def __post_init__(self) -> None:
        _check_shape((self.index, self.volume_dl), "VolumeReadings")

    def __len__(self) -> int:
        return len(self.index)

    def __getitem__(self, i: int) -> VolumeReading:
        return VolumeReading(self.index[i], self.volume_dl[i])

    def __iter__(self) -> Iterator[VolumeReading]:
        return map(VolumeReading, self.index, self.volume_dl)

    @classmethod
    def from_rows(cls, rows: Iterable[VolumeReading]) -> VolumeReadings:
        """Transpose typed rows into columns."""
        return cls(*_transpose(map(_VOLUME_COLUMNS, rows)))


Readings = ElectricityReadings | VolumeReadings
"""The columnar readings of one batch; the batch's meter type says which."""

_ELECTRICITY_COLUMNS: Final = attrgetter(*_ELECTRICITY_FIELDS)
"""Readings to their six columns, or a row to its six values (the names are the same)."""
_VOLUME_COLUMNS: Final = attrgetter(*_VOLUME_FIELDS)


def _transpose(rows: Iterable[tuple[int, ...]]) -> list[tuple[int, ...]]:
    columns = list(zip(*rows, strict=True))
    if not columns:
        raise EncodingError("readings must hold at least one row")
    return columns


def readings_type(meter_type: MeterType) -> type[Readings]:
    """The readings class that a meter of ``meter_type`` produces."""
    return ElectricityReadings if meter_type is MeterType.ELECTRICITY else VolumeReadings


# --- wire form -------------------------------------------------------------------------

INDEX, IMPORT_WH, EXPORT_WH, VOLTAGE_DV, CURRENT_MA, POWER_W, VOLUME_DL = range(7)

_ELECTRICITY_KEYS: Final = {
    INDEX: "index",
    IMPORT_WH: "energy_import_wh",
    EXPORT_WH: "energy_export_wh",
    VOLTAGE_DV: "voltage_dv",
    CURRENT_MA: "current_ma",
    POWER_W: "power_w",
}
_VOLUME_KEYS: Final = {INDEX: "index", VOLUME_DL: "volume_dl"}
_WHAT = "ReadingBatch readings "


def encode_readings(readings: Readings) -> dict[int, object]:
    """The readings map of a batch (column key -> column), checking every value."""
    index = encode_counter(readings.index, _WHAT + "index", min_step=1, high=MAX_INDEX)
    if isinstance(readings, VolumeReadings):
        return {INDEX: index, VOLUME_DL: _encode_register(readings.volume_dl, "volume_dl")}
    return {
        INDEX: index,
        IMPORT_WH: _encode_register(readings.energy_import_wh, "energy_import_wh"),
        EXPORT_WH: _encode_register(readings.energy_export_wh, "energy_export_wh"),
        VOLTAGE_DV: encode_typed(readings.voltage_dv, _WHAT + "voltage_dv", 0, MAX_VOLTAGE_DV),
        CURRENT_MA: encode_typed(readings.current_ma, _WHAT + "current_ma", 0, MAX_CURRENT_MA),
        POWER_W: encode_typed(readings.power_w, _WHAT + "power_w", *POWER_RANGE_W),
    }


def _encode_register(values: tuple[int, ...], name: str) -> list[object]:
    return encode_counter(values, _WHAT + name, min_step=0, high=MAX_U63)


def decode_readings(item: object, meter_type: MeterType) -> Readings:
    """Parse the readings map of a batch whose meter is of ``meter_type``."""
    if meter_type is MeterType.ELECTRICITY:
        return _decode_electricity(expect_map(item, _ELECTRICITY_KEYS, "ReadingBatch readings"))
    columns = expect_map(item, _VOLUME_KEYS, "ReadingBatch readings")
    return VolumeReadings(_decode_index(columns), _decode_register(columns, VOLUME_DL, "volume_dl"))


def _decode_electricity(columns: Mapping[Any, Any]) -> ElectricityReadings:
    return ElectricityReadings(
        _decode_index(columns),
        _decode_register(columns, IMPORT_WH, "energy_import_wh"),
        _decode_register(columns, EXPORT_WH, "energy_export_wh"),
        decode_gauge(columns[VOLTAGE_DV], _WHAT + "voltage_dv", 0, MAX_VOLTAGE_DV),
        decode_gauge(columns[CURRENT_MA], _WHAT + "current_ma", 0, MAX_CURRENT_MA),
        decode_gauge(columns[POWER_W], _WHAT + "power_w", *POWER_RANGE_W),
    )


def _decode_index(columns: Mapping[Any, Any]) -> tuple[int, ...]:
    return decode_counter(columns[INDEX], _WHAT + "index", min_step=1, high=MAX_INDEX)


def _decode_register(columns: Mapping[Any, Any], key: int, name: str) -> tuple[int, ...]:
    return decode_counter(columns[key], _WHAT + name, min_step=0, high=MAX_U63)
