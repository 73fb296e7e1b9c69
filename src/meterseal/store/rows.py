"""The store's own row types: what goes in and what comes out, independent of the wire.

The head-end maps decoded, verified messages onto these plain frozen dataclasses; the
store never sees CBOR or COSE structures, only the raw signed bytes it keeps as evidence.

Schema choice: one row per (meter, interval end, register)
-----------------------------------------------------------
A reading is one integer value of one register at the end of one interval
(:class:`ReadingRow`). The readings table holds exactly that, keyed by
``(meter_ref, at, register, batch_seq)`` where ``meter_ref`` is a small integer surrogate
for the meter ID. The alternative, one wide row per (meter, interval) with a column per
register, was rejected because:

* meters report different register sets (an electricity meter: energy, voltage, current,
  power; a water or gas meter: volume only), so a wide row is mostly NULLs, and every new
  register (export energy, reactive energy, pressure) would be a migration;
* the insert cost is per row *and* per byte; a narrow row of five integers is the cheapest
  row SQLite and PostgreSQL can take, and the bulk paths (``executemany`` in SQLite, binary
  ``COPY`` in PostgreSQL) stream it without any per-register grouping in Python;
* every query the head-end and analytics need ("readings of meter M between T1 and T2",
  "daily consumption of the cumulative register", "latest value of each register") is a
  range scan of that one primary key: the meter first, then time.

``batch_seq`` is part of the key so that a meter which sends the same interval again in a
*different* batch (store-and-forward after a lost ack, or a buggy meter) never makes the
transaction fail: both readings are kept, each traceable to its signed batch. The same
(interval, register) twice inside *one* batch is a malformed batch and violates the key.

Register codes are small integers (:class:`Register`); values are integers in the unit
the register's name carries (Wh, decilitres, decivolts, mA, W): the units the meters
sign, so nothing is rounded on the way in. Times are unix seconds, UTC.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import NamedTuple

METER_TYPES = ("electricity", "water", "gas")
"""The meter types the registry accepts (a CHECK constraint in both schemas)."""

STATE_REGISTERED = "registered"
STATE_REVOKED = "revoked"


class Register(enum.IntEnum):
    """Register codes stored in ``ReadingRow.register``; the unit is in the name."""

    ENERGY_IMPORT_WH = 1  # cumulative active energy imported
    ENERGY_EXPORT_WH = 2  # cumulative active energy exported
    VOLUME_DL = 3  # cumulative volume (water, gas), decilitres: the meter's own unit
    VOLUME_L = 3  # alias of VOLUME_DL kept for older callers: the value is in decilitres
    VOLTAGE_DV = 4  # instantaneous voltage, decivolts
    CURRENT_MA = 5  # instantaneous current, milliamperes
    POWER_W = 6  # instantaneous active power, watts


CONSUMPTION_REGISTER = {
    "electricity": Register.ENERGY_IMPORT_WH,
    "water": Register.VOLUME_DL,
    "gas": Register.VOLUME_DL,
}
"""The cumulative register whose daily differences are a meter type's consumption."""


class StoreOutcome(enum.Enum):
    """What ``store_batches`` did with one offered batch."""

    STORED = "stored"  # newly written; durable once the call returned
    DUPLICATE = "duplicate"  # same meter and sequence already stored, same hash: ack again
    CONFLICT = "conflict"  # same meter and sequence stored with another hash: kept the first

    @property
    def durable(self) -> bool:
        """True when the batch offered is stored (now or before) and may be acknowledged."""
        return self is not StoreOutcome.CONFLICT


@dataclass(frozen=True, slots=True)
class MeterRecord:
    """A registered meter: what the head-end needs to verify and file its batches."""

    meter_id: str
    meter_type: str  # one of METER_TYPES
    suite: int  # cipher suite number
    owner: str
    public_key: bytes  # data signing key (batch signatures)
    identity_credential: bytes  # EDHOC credential (CCS or X.509), as registered
    state: str  # "registered", "revoked", ...
    registered_at: int  # unix seconds


@dataclass(frozen=True, slots=True)
class BatchRow:
    """One signed batch, kept byte for byte as evidence.

    ``reading_count`` is the number of :class:`ReadingRow` the batch decoded into, and
    must equal the number offered with it.
    """

    meter_id: str
    batch_seq: int
    interval_start: int  # unix seconds
    interval_seconds: int
    signed_batch: bytes  # the raw COSE_Sign1 bytes
    batch_hash: bytes  # SHA-256 of signed_batch, 32 bytes
    received_at: int  # unix seconds
    reading_count: int


@dataclass(frozen=True, slots=True)
class ReadingRow:
    """One register value at the end of one interval."""

    meter_id: str
    batch_seq: int
    at: int  # unix seconds of the interval end
    register: int  # a Register code
    value: int


@dataclass(frozen=True, slots=True)
class MeterLatest:
    """A meter's latest state: last batch, last reading time, last value of each register.

    ``registers`` holds ``(register, value)`` pairs in register order, each the value with
    the greatest ``at`` of that register; ``last_reading_at`` is the greatest ``at`` of all.
    """

    meter_id: str
    state: str
    last_batch_seq: int | None
    last_reading_at: int | None
    registers: tuple[tuple[int, int], ...]

    def value_of(self, register: int) -> int | None:
        """The latest value of ``register``, or None if the meter never reported it."""
        return dict(self.registers).get(register)


class DayConsumption(NamedTuple):
    """Consumption of one UTC day, in the unit of the cumulative register."""

    day: date
    consumption: int


BatchItem = tuple[BatchRow, Sequence[ReadingRow]]
"""One offered batch and the readings it decoded into."""
