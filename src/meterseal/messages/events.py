"""Meter events: tamper alarms and other things a meter reports beside its readings.

An event is the three-item array ``[kind, at, detail]`` (key 8 of a batch is an array of
them, at most :data:`MAX_EVENTS`): ``kind`` an :class:`EventKind` code, ``at`` integer Unix
seconds (UTC) by the meter's clock, and ``detail`` a signed 64-bit integer whose meaning the
kind fixes:

====  ========================  ==========================================================
code  kind                      detail
====  ========================  ==========================================================
1     COVER_OPENED              seconds the main cover stayed open (0: still open)
2     TERMINAL_COVER_OPENED     seconds the terminal cover stayed open (0: still open)
3     MAGNETIC_INTERFERENCE     field strength, millitesla
4     REVERSE_FLOW              reversed quantity: Wh (electricity) or dL (water, gas)
5     POWER_OUTAGE              outage duration, seconds
6     FIRMWARE_READ_ATTEMPT     interface: 0 optical port, 1 local bus, 2 remote
7     CLOCK_CHANGE              signed clock adjustment, seconds (new minus old)
8     CURRENT_BYPASS            phase minus neutral current, mA (electricity bypass)
9     LEAK_SUSPECTED            hours of uninterrupted flow (water, gas)
10    SECURE_ELEMENT_TAMPER     sequence number of the secure element's tamper event
11    BATTERY_LOW               battery voltage, millivolts
====  ========================  ==========================================================
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import IntEnum
from typing import Final

from meterseal.errors import EncodingError
from meterseal.messages.fields import (
    MAX_U63,
    MIN_S64,
    expect_array,
    expect_enum,
    expect_int,
    expect_time,
)

MAX_EVENTS: Final = 1024
"""Most events one batch may carry."""


class EventKind(IntEnum):
    """What happened (see the module docstring for each kind's ``detail``)."""

    COVER_OPENED = 1
    TERMINAL_COVER_OPENED = 2
    MAGNETIC_INTERFERENCE = 3
    REVERSE_FLOW = 4
    POWER_OUTAGE = 5
    FIRMWARE_READ_ATTEMPT = 6
    CLOCK_CHANGE = 7
    CURRENT_BYPASS = 8
    LEAK_SUSPECTED = 9
    SECURE_ELEMENT_TAMPER = 10
    BATTERY_LOW = 11


TAMPER_KINDS: Final = frozenset(
    {
        EventKind.COVER_OPENED,
        EventKind.TERMINAL_COVER_OPENED,
        EventKind.MAGNETIC_INTERFERENCE,
        EventKind.REVERSE_FLOW,
        EventKind.FIRMWARE_READ_ATTEMPT,
        EventKind.CURRENT_BYPASS,
        EventKind.SECURE_ELEMENT_TAMPER,
    }
)
"""Kinds that suggest someone is interfering with the meter (alarm-worthy on their own)."""


@dataclass(frozen=True, slots=True)
class MeterEvent:
    """One event: its kind, when it happened, and a kind-specific integer detail."""

    kind: EventKind
    at: int
    detail: int = 0

    def __post_init__(self) -> None:
        if not isinstance(self.kind, EventKind):
            raise EncodingError(f"MeterEvent kind must be an EventKind, got {self.kind!r}")
        expect_time(self.at, "MeterEvent at")
        expect_int(self.detail, "MeterEvent detail", MIN_S64, MAX_U63)


def encode_events(events: Iterable[MeterEvent]) -> list[list[int]]:
    """The events array of a batch."""
    return [[int(event.kind), event.at, event.detail] for event in events]


def decode_events(item: object) -> tuple[MeterEvent, ...]:
    """Parse the events array of a batch."""
    return tuple(map(_decode_event, expect_array(item, "ReadingBatch events", max_len=MAX_EVENTS)))


def _decode_event(item: object) -> MeterEvent:
    kind, at, detail = expect_array(item, "MeterEvent", min_len=3, max_len=3)
    return MeterEvent(expect_enum(EventKind, kind, "MeterEvent kind"), at, detail)
