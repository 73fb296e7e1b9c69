"""The store's own row types: what goes in and what comes out, independent of the wire.

The head-end maps decoded, verified messages onto these plain frozen dataclasses; the
store never sees CBOR or COSE structures, only the raw signed bytes it keeps as evidence.

Words. An *interval reading* is one freeze of a meter's registers at the end of one
interval (what DESIGN.md's "readings/s" counts); a *register value* is one register's
integer in it (:class:`ReadingRow`). An electricity interval reading holds five register
values, a water or gas one holds one.

Schema choice: one row per (meter, interval end, batch), a column per register
---------------------------------------------------------------------------------
The ``interval_readings`` table (schema version 4) holds one *wide* row per interval
reading, keyed by ``(meter_ref, at, batch_seq)`` where ``meter_ref`` is a small integer
surrogate for the meter ID, with one nullable integer column per register
(:data:`REGISTER_COLUMNS`): NULL where the meter does not report that register. Versions
1 to 3 kept one narrow row per (meter, interval end, register); that was replaced because

* the insert cost is per row far more than per byte: an electricity batch of 96 intervals
  was 480 narrow rows and is 96 wide ones, and the wide rows are written straight from
  the batch's decoded columns (:class:`IntervalColumns`, ``executemany`` over a ``zip``
  in SQLite, binary ``COPY`` in PostgreSQL) without a Python object per register value;
* every register of an interval is frozen, signed and stored together, so they belong in
  one row, and the NULLs of a water or gas meter's unused columns cost a bit each;
* the queries the head-end and analytics need ("readings of meter M between T1 and T2",
  "daily consumption of the cumulative register", "latest value of each register") are
  still range scans of the one primary key: the meter first, then time.

The price is a migration for every new register (export reactive energy, pressure, ...):
a new nullable column, which both databases add without rewriting the table.

``batch_seq`` is part of the key so that a meter which sends the same interval again in a
*different* batch (store-and-forward after a lost ack, or a buggy meter) never makes the
transaction fail: both rows are kept, each traceable to its signed batch. The same
interval twice inside *one* batch is a malformed batch and violates the key.

Register codes are small integers (:class:`Register`); values are integers in the unit
the register's name carries (Wh, decilitres, decivolts, mA, W): the units the meters
sign, so nothing is rounded on the way in. Times are unix seconds, UTC.
"""

from __future__ import annotations

import enum
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date
from itertools import islice
from operator import attrgetter, lt
from typing import Final, NamedTuple, overload

from meterseal.store.errors import InvalidRowError

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


REGISTER_COLUMNS: Final = (
    (Register.ENERGY_IMPORT_WH, "energy_import_wh"),
    (Register.ENERGY_EXPORT_WH, "energy_export_wh"),
    (Register.VOLUME_DL, "volume_dl"),
    (Register.VOLTAGE_DV, "voltage_dv"),
    (Register.CURRENT_MA, "current_ma"),
    (Register.POWER_W, "power_w"),
)
"""Each register and its column in ``interval_readings``, in register-code order (which is
also the column order after ``meter_ref, at, batch_seq``)."""

COLUMN_OF: Final = {int(register): column for register, column in REGISTER_COLUMNS}
"""The ``interval_readings`` column of a register code."""

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

    ``reading_count`` is the number of register values (:class:`ReadingRow`) the batch
    decoded into, and must equal the number offered with it: 5 per interval reading of an
    electricity batch, 1 per interval reading of a water or gas batch.
    """

    meter_id: str
    batch_seq: int
    interval_start: int  # unix seconds
    interval_seconds: int
    signed_batch: bytes  # the raw COSE_Sign1 bytes
    batch_hash: bytes  # SHA-256 of signed_batch, 32 bytes
    received_at: int  # unix seconds
    reading_count: int
    events: tuple[EventRow, ...] = field(default=(), compare=False)
    """The batch's events in signed order (schema version 8, ``meter_events``); written
    with a STORED batch. Not part of equality: ``iter_batches`` returns the evidence only."""


@dataclass(frozen=True, slots=True)
class EventRow:
    """One event of a batch as the store keeps it: meter clock time, kind code, detail
    (:mod:`meterseal.messages.events` defines the kinds and what each detail means)."""

    at: int  # unix seconds, by the meter's clock
    kind: int  # an EventKind code
    detail: int


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


_COLUMNS = attrgetter(*(column for _, column in REGISTER_COLUMNS))


@dataclass(frozen=True, slots=True)
class IntervalColumns(Sequence[ReadingRow]):
    """A batch's interval readings column by column: the store's lean insert form.

    ``ends[i]`` is the end of interval reading ``i``, strictly increasing; each register the
    meter reports is a column of the same length (None: not reported). ``store_batches``
    writes the wide rows straight from these columns. It is also a read-only sequence of
    :class:`ReadingRow` (register values, time then register order), made on demand, so
    it is offered wherever readings are: ``len()`` is the number of register values.
    """

    meter_id: str
    batch_seq: int
    ends: Sequence[int]
    energy_import_wh: Sequence[int] | None = None
    energy_export_wh: Sequence[int] | None = None
    volume_dl: Sequence[int] | None = None
    voltage_dv: Sequence[int] | None = None
    current_ma: Sequence[int] | None = None
    power_w: Sequence[int] | None = None

    def __post_init__(self) -> None:
        count = len(self.ends)
        if any(column is not None and len(column) != count for column in self.columns):
            raise InvalidRowError(
                f"batch {self.meter_id}/{self.batch_seq}: columns differ in length"
            )
        if not _increasing(self.ends):
            raise InvalidRowError(f"batch {self.meter_id}/{self.batch_seq}: ends must increase")

    @property
    def columns(self) -> tuple[Sequence[int] | None, ...]:
        """The register columns in :data:`REGISTER_COLUMNS` order."""
        columns: tuple[Sequence[int] | None, ...] = _COLUMNS(self)
        return columns

    def present(self) -> list[tuple[Register, Sequence[int]]]:
        """The registers reported, with their columns, in register order."""
        pairs = zip(REGISTER_COLUMNS, self.columns, strict=True)
        return [(register, column) for (register, _), column in pairs if column is not None]

    def __len__(self) -> int:
        return len(self.ends) * sum(column is not None for column in self.columns)

    @overload
    def __getitem__(self, index: int) -> ReadingRow: ...

    @overload
    def __getitem__(self, index: slice) -> Sequence[ReadingRow]: ...

    def __getitem__(self, index: int | slice) -> ReadingRow | Sequence[ReadingRow]:
        if isinstance(index, slice):
            return list(self)[index]
        present = self.present()
        interval, slot = divmod(range(len(self))[index], len(present))
        register, column = present[slot]
        return ReadingRow(
            self.meter_id, self.batch_seq, self.ends[interval], register, column[interval]
        )

    def __iter__(self) -> Iterator[ReadingRow]:
        meter_id, seq, present = self.meter_id, self.batch_seq, self.present()
        for interval, at in enumerate(self.ends):
            for register, column in present:
                yield ReadingRow(meter_id, seq, at, register, column[interval])


def _increasing(values: Sequence[int]) -> bool:
    """True if ``values`` strictly increase (a range: if its step is positive)."""
    if isinstance(values, range):
        return values.step > 0 or len(values) < 2
    return all(map(lt, values, islice(values, 1, None)))


BatchItem = tuple[BatchRow, Sequence[ReadingRow]]
"""One offered batch and the register values it decoded into: any sequence of
:class:`ReadingRow`, or (the fast path) :class:`IntervalColumns`."""
