"""The collection store: meter registry, signed batches (evidence), readings, queries.

One interface, :class:`Store`, and two real backends chosen by URL with
:func:`open_store`: :class:`SqliteStore` (WAL, the embedded default, a file in the data
directory) and :class:`PostgresStore` (psycopg 3, DSN in the configuration). Both apply
the ordered schema migrations of :mod:`meterseal.store.migrations`. The row types and
the schema choice (one wide ``interval_readings`` row per meter, interval end and batch,
a column per register) are in :mod:`meterseal.store.rows`; durability choices in each
backend's module.

Ingest calls :meth:`Store.store_batches` with every batch it has ready, its readings as
:class:`IntervalColumns` (written straight from the decoded columns): one transaction
for all of them, one outcome each (STORED, DUPLICATE, CONFLICT), durable on return.
``count_intervals()`` counts interval readings (freezes of a meter's registers),
``count_readings()`` register values (five per electricity interval reading).
Signed head-end commands wait in a per-meter queue (:mod:`meterseal.store.commands`).
Ledger leaves wait in the ledger outbox, written in the same transaction as what they
record, until the forwarder has submitted them (:mod:`meterseal.store.outbox`).
"""

from meterseal.store.accounts import AccountStore
from meterseal.store.commands import (
    COMMAND_ACKED,
    COMMAND_EXPIRED,
    COMMAND_FAILED,
    COMMAND_QUEUED,
    COMMAND_REJECTED,
    COMMAND_SENT,
    CommandRow,
)
from meterseal.store.errors import (
    DuplicateMeterError,
    InvalidRowError,
    SchemaVersionError,
    StoreClosedError,
    StoreError,
    StoreUnavailable,
    UnknownMeterError,
)
from meterseal.store.events import EventStore, StoredEvent
from meterseal.store.factory import open_store, sqlite_url
from meterseal.store.interface import Store
from meterseal.store.postgres import PostgresStore
from meterseal.store.rows import (
    CONSUMPTION_REGISTER,
    METER_TYPES,
    STATE_REGISTERED,
    STATE_REVOKED,
    BatchItem,
    BatchRow,
    DayConsumption,
    EventRow,
    IntervalColumns,
    MeterLatest,
    MeterRecord,
    ReadingRow,
    Register,
    StoreOutcome,
)
from meterseal.store.security import SecurityStore
from meterseal.store.sqlite import SqliteStore

__all__ = [
    "COMMAND_ACKED",
    "COMMAND_EXPIRED",
    "COMMAND_FAILED",
    "COMMAND_QUEUED",
    "COMMAND_REJECTED",
    "COMMAND_SENT",
    "CONSUMPTION_REGISTER",
    "METER_TYPES",
    "STATE_REGISTERED",
    "STATE_REVOKED",
    "AccountStore",
    "BatchItem",
    "BatchRow",
    "CommandRow",
    "DayConsumption",
    "DuplicateMeterError",
    "EventRow",
    "EventStore",
    "IntervalColumns",
    "InvalidRowError",
    "MeterLatest",
    "MeterRecord",
    "PostgresStore",
    "ReadingRow",
    "Register",
    "SchemaVersionError",
    "SecurityStore",
    "SqliteStore",
    "Store",
    "StoreClosedError",
    "StoreError",
    "StoreOutcome",
    "StoreUnavailable",
    "StoredEvent",
    "UnknownMeterError",
    "open_store",
    "sqlite_url",
]
