"""The reading batch: one meter's interval readings and events, as signed by the meter.

A batch is a CBOR map (RFC 8949) with these keys, all required, no others allowed:

===  ================  ==========================================================
key  field             value
===  ================  ==========================================================
1    meter_id          tstr, 1..64 of ``[A-Za-z0-9._:-]`` (also the COSE kid)
2    batch_seq         uint 0..2^63-1, strictly increasing per meter
3    meter_type        uint, :class:`~meterseal.messages.readings.MeterType`
4    interval_start    uint, Unix seconds (UTC) at the start of interval index 0
5    interval_seconds  uint 1..86400 (900 for 15-minute intervals)
6    firmware          tstr, 1..32 printable ASCII
7    readings          map, column key -> column (:mod:`meterseal.messages.readings`)
8    events            array of ``[kind, at, detail]`` (:mod:`meterseal.messages.events`)
===  ================  ==========================================================

The meter signs the encoded batch in its secure element (see
:mod:`meterseal.messages.sealing`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from meterseal import cbor
from meterseal.errors import EncodingError
from meterseal.messages.events import MeterEvent, decode_events, encode_events
from meterseal.messages.fields import (
    LABEL_PATTERN,
    METER_ID_PATTERN,
    expect_enum,
    expect_int,
    expect_map,
    expect_text,
    expect_time,
    expect_uint,
)
from meterseal.messages.readings import (
    MeterType,
    Readings,
    decode_readings,
    encode_readings,
    readings_type,
)

MAX_INTERVAL_SECONDS: Final = 86_400

METER_ID, BATCH_SEQ, METER_TYPE, INTERVAL_START, INTERVAL_SECONDS, FIRMWARE = range(1, 7)
READINGS, EVENTS = 7, 8

BATCH_KEYS: Final = {
    METER_ID: "meter_id",
    BATCH_SEQ: "batch_seq",
    METER_TYPE: "meter_type",
    INTERVAL_START: "interval_start",
    INTERVAL_SECONDS: "interval_seconds",
    FIRMWARE: "firmware",
    READINGS: "readings",
    EVENTS: "events",
}


@dataclass(frozen=True, slots=True)
class ReadingBatch:
    """A meter's batch of interval readings and events (the payload the meter signs).

    Construction checks every scalar field and that ``readings`` is the register set of
    ``meter_type``; register values are checked by the codec (:func:`encode_batch`,
    :func:`decode_batch`).
    """

    meter_id: str
    batch_seq: int
    meter_type: MeterType
    interval_start: int
    interval_seconds: int
    firmware: str
    readings: Readings
    events: tuple[MeterEvent, ...] = ()

    def __post_init__(self) -> None:
        expect_text(self.meter_id, "ReadingBatch meter_id", METER_ID_PATTERN)
        expect_uint(self.batch_seq, "ReadingBatch batch_seq")
        expect_time(self.interval_start, "ReadingBatch interval_start")
        expect_int(self.interval_seconds, "ReadingBatch interval_seconds", 1, MAX_INTERVAL_SECONDS)
        expect_text(self.firmware, "ReadingBatch firmware", LABEL_PATTERN)
        self._check_readings()

    def _check_readings(self) -> None:
        if not isinstance(self.meter_type, MeterType):
            raise EncodingError(f"ReadingBatch meter_type must be a MeterType: {self.meter_type!r}")
        if type(self.readings) is not readings_type(self.meter_type):
            raise EncodingError(
                f"ReadingBatch of a {self.meter_type.name} meter cannot carry "
                f"{type(self.readings).__name__}"
            )

    @property
    def reading_times(self) -> tuple[int, ...]:
        """The start of each reading's interval, integer Unix seconds (UTC)."""
        start, step = self.interval_start, self.interval_seconds
        return tuple(start + index * step for index in self.readings.index)


def batch_to_cbor(batch: ReadingBatch) -> dict[int, object]:
    """The batch as the CBOR map of the key table above."""
    return {
        METER_ID: batch.meter_id,
        BATCH_SEQ: batch.batch_seq,
        METER_TYPE: int(batch.meter_type),
        INTERVAL_START: batch.interval_start,
        INTERVAL_SECONDS: batch.interval_seconds,
        FIRMWARE: batch.firmware,
        READINGS: encode_readings(batch.readings),
        EVENTS: encode_events(batch.events),
    }


def encode_batch(batch: ReadingBatch) -> bytes:
    """The batch's CBOR encoding: the payload that :func:`seal_batch` signs."""
    return cbor.encode(batch_to_cbor(batch))


def decode_batch(data: bytes) -> ReadingBatch:
    """Parse a batch payload; raise :class:`EncodingError` naming the first bad field."""
    return batch_from_cbor(cbor.decode(data))


def batch_from_cbor(item: object) -> ReadingBatch:
    """Parse one decoded CBOR item as a batch."""
    fields = expect_map(item, BATCH_KEYS, "ReadingBatch")
    meter_type = expect_enum(MeterType, fields[METER_TYPE], "ReadingBatch meter_type")
    return ReadingBatch(
        meter_id=fields[METER_ID],
        batch_seq=fields[BATCH_SEQ],
        meter_type=meter_type,
        interval_start=fields[INTERVAL_START],
        interval_seconds=fields[INTERVAL_SECONDS],
        firmware=fields[FIRMWARE],
        readings=decode_readings(fields[READINGS], meter_type),
        events=decode_events(fields[EVENTS]),
    )
