"""Schema migrations: ordered SQL steps per backend, recorded in ``schema_migrations``.

Each backend applies the steps it has not yet recorded, in version order, inside one
transaction together with their ``schema_migrations`` rows, so a migration is applied
entirely or not at all and running ``migrate()`` again does nothing. A database that
records a version this code does not know (written by a newer MeterSeal) is refused.

The history is append-only: a released step is never edited, a change is a new step.

Version 1 is the core: the meter registry, the signed batches (evidence, byte for byte)
and the narrow ``readings`` table (one row per meter, interval end, register). Version 2
adds ``meter_latest``, each meter's latest value per register, kept up to date by
``store_batches`` so that ``latest_state`` reads one small row per meter and register
instead of scanning readings; it is backfilled from any readings already stored. Version
3 adds ``commands``, the queue of signed head-end commands per meter and the meters' acks
(see :mod:`meterseal.store.commands`).

Version 4 replaces the narrow table by ``interval_readings``: one wide row per (meter,
interval end, batch) with a nullable column per register (see
:mod:`meterseal.store.rows` for why). It pivots every stored register value of the six
known registers into the new table, deletes what it moved, and renames what is left to
``readings_unmapped``: values of register codes that have no column (the head-end never
writes such codes; the table is empty unless a tool stored them through the old API), so
that no migration ever drops a value.

Interval readings carry no foreign key to batches: the store writes a batch and its rows
in the same transaction, and a per-row key check would cost a lookup per row.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass

from meterseal.store.errors import SchemaVersionError


@dataclass(frozen=True, slots=True)
class Migration:
    """One schema step: its version, what it does, and the SQL statements it runs."""

    version: int
    description: str
    statements: tuple[str, ...]


def pending(
    steps: Sequence[Migration], applied: Collection[int], target: int | None = None
) -> list[Migration]:
    """The steps still to apply, in order, up to ``target`` (default: all of them).

    Raises :class:`SchemaVersionError` when the database records a version unknown here.
    """
    known = [step.version for step in steps]
    if known != sorted(set(known)):
        raise SchemaVersionError(f"migration versions are not strictly increasing: {known}")
    unknown = sorted(set(applied) - set(known))
    if unknown:
        raise SchemaVersionError(
            f"the database has schema versions {unknown} that this MeterSeal does not know; "
            "it was migrated by a newer release"
        )
    limit = known[-1] if target is None else target
    return [step for step in steps if step.version not in applied and step.version <= limit]


# Version 4, spelled out in full (not derived from REGISTER_COLUMNS) so that adding a
# register later, as version 5, cannot change what version 4 did.
_V4_DESCRIPTION = "interval_readings: one wide row per meter, interval end and batch"
_V4_TAIL = (
    """INSERT INTO interval_readings (meter_ref, at, batch_seq, energy_import_wh,
            energy_export_wh, volume_dl, voltage_dv, current_ma, power_w)
        SELECT meter_ref, at, batch_seq,
            max(CASE WHEN register = 1 THEN value END),
            max(CASE WHEN register = 2 THEN value END),
            max(CASE WHEN register = 3 THEN value END),
            max(CASE WHEN register = 4 THEN value END),
            max(CASE WHEN register = 5 THEN value END),
            max(CASE WHEN register = 6 THEN value END)
        FROM readings WHERE register BETWEEN 1 AND 6
        GROUP BY meter_ref, at, batch_seq""",
    "DELETE FROM readings WHERE register BETWEEN 1 AND 6",
    "ALTER TABLE readings RENAME TO readings_unmapped",
)

SQLITE_BOOTSTRAP = (
    "CREATE TABLE IF NOT EXISTS schema_migrations ("
    " version INTEGER PRIMARY KEY,"
    " description TEXT NOT NULL,"
    " applied_at INTEGER NOT NULL)"
)
SQLITE_RECORD = (
    "INSERT INTO schema_migrations (version, description, applied_at)"
    " VALUES (?, ?, CAST(strftime('%s', 'now') AS INTEGER))"
)

SQLITE_MIGRATIONS: tuple[Migration, ...] = (
    Migration(
        1,
        "meters, signed batches, readings",
        (
            """CREATE TABLE meters (
                id INTEGER PRIMARY KEY,
                meter_id TEXT NOT NULL UNIQUE,
                meter_type TEXT NOT NULL CHECK (meter_type IN ('electricity', 'water', 'gas')),
                suite INTEGER NOT NULL,
                owner TEXT NOT NULL,
                public_key BLOB NOT NULL,
                identity_credential BLOB NOT NULL,
                state TEXT NOT NULL,
                registered_at INTEGER NOT NULL)""",
            """CREATE TABLE batches (
                meter_ref INTEGER NOT NULL REFERENCES meters (id),
                batch_seq INTEGER NOT NULL CHECK (batch_seq >= 0),
                interval_start INTEGER NOT NULL,
                interval_seconds INTEGER NOT NULL CHECK (interval_seconds > 0),
                signed_batch BLOB NOT NULL,
                batch_hash BLOB NOT NULL CHECK (length(batch_hash) = 32),
                received_at INTEGER NOT NULL,
                reading_count INTEGER NOT NULL CHECK (reading_count >= 0),
                PRIMARY KEY (meter_ref, batch_seq))""",
            """CREATE TABLE readings (
                meter_ref INTEGER NOT NULL,
                at INTEGER NOT NULL,
                register INTEGER NOT NULL CHECK (register BETWEEN 0 AND 32767),
                batch_seq INTEGER NOT NULL,
                value INTEGER NOT NULL,
                PRIMARY KEY (meter_ref, at, register, batch_seq)) WITHOUT ROWID""",
        ),
    ),
    Migration(
        2,
        "meter_latest: latest value per meter and register",
        (
            """CREATE TABLE meter_latest (
                meter_ref INTEGER NOT NULL REFERENCES meters (id),
                register INTEGER NOT NULL,
                at INTEGER NOT NULL,
                value INTEGER NOT NULL,
                PRIMARY KEY (meter_ref, register)) WITHOUT ROWID""",
            # SQLite takes the bare column ``value`` from the row holding max(at).
            """INSERT INTO meter_latest (meter_ref, register, at, value)
                SELECT meter_ref, register, max(at), value FROM readings
                GROUP BY meter_ref, register""",
        ),
    ),
    Migration(
        3,
        "commands: signed head-end commands per meter, delivery and ack",
        (
            # AUTOINCREMENT: ids are never reused, so they only ever increase per meter.
            """CREATE TABLE commands (
                command_id INTEGER PRIMARY KEY AUTOINCREMENT,
                meter_ref INTEGER NOT NULL REFERENCES meters (id),
                kind INTEGER NOT NULL,
                signed_command BLOB NOT NULL,
                created_at INTEGER NOT NULL,
                expires_at INTEGER NOT NULL,
                state TEXT NOT NULL CHECK (state IN
                    ('queued', 'sent', 'acked', 'rejected', 'failed', 'expired')),
                sent_at INTEGER,
                acked_at INTEGER,
                ack_status INTEGER,
                ack_reason INTEGER,
                ack_detail INTEGER)""",
            "CREATE INDEX commands_open ON commands (meter_ref, state, command_id)",
        ),
    ),
    Migration(
        4,
        _V4_DESCRIPTION,
        (
            """CREATE TABLE interval_readings (
                meter_ref INTEGER NOT NULL,
                at INTEGER NOT NULL,
                batch_seq INTEGER NOT NULL,
                energy_import_wh INTEGER,
                energy_export_wh INTEGER,
                volume_dl INTEGER,
                voltage_dv INTEGER,
                current_ma INTEGER,
                power_w INTEGER,
                PRIMARY KEY (meter_ref, at, batch_seq)) WITHOUT ROWID""",
            *_V4_TAIL,
        ),
    ),
)

POSTGRES_BOOTSTRAP = (
    "CREATE TABLE IF NOT EXISTS schema_migrations ("
    " version integer PRIMARY KEY,"
    " description text NOT NULL,"
    " applied_at bigint NOT NULL)"
)
POSTGRES_RECORD = (
    "INSERT INTO schema_migrations (version, description, applied_at)"
    " VALUES (%s, %s, extract(epoch FROM now())::bigint)"
)
POSTGRES_LOCK_KEY = 0x4D53_5354_4F52_45  # "MSSTORE": serialises concurrent migrate() calls

POSTGRES_MIGRATIONS: tuple[Migration, ...] = (
    Migration(
        1,
        "meters, signed batches, readings",
        (
            """CREATE TABLE meters (
                id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
                meter_id text NOT NULL UNIQUE,
                meter_type text NOT NULL CHECK (meter_type IN ('electricity', 'water', 'gas')),
                suite integer NOT NULL,
                owner text NOT NULL,
                public_key bytea NOT NULL,
                identity_credential bytea NOT NULL,
                state text NOT NULL,
                registered_at bigint NOT NULL)""",
            """CREATE TABLE batches (
                meter_ref bigint NOT NULL REFERENCES meters (id),
                batch_seq bigint NOT NULL CHECK (batch_seq >= 0),
                interval_start bigint NOT NULL,
                interval_seconds integer NOT NULL CHECK (interval_seconds > 0),
                signed_batch bytea NOT NULL,
                batch_hash bytea NOT NULL CHECK (octet_length(batch_hash) = 32),
                received_at bigint NOT NULL,
                reading_count integer NOT NULL CHECK (reading_count >= 0),
                PRIMARY KEY (meter_ref, batch_seq))""",
            """CREATE TABLE readings (
                meter_ref bigint NOT NULL,
                at bigint NOT NULL,
                register smallint NOT NULL,
                batch_seq bigint NOT NULL,
                value bigint NOT NULL,
                PRIMARY KEY (meter_ref, at, register, batch_seq))""",
        ),
    ),
    Migration(
        2,
        "meter_latest: latest value per meter and register",
        (
            """CREATE TABLE meter_latest (
                meter_ref bigint NOT NULL REFERENCES meters (id),
                register smallint NOT NULL,
                at bigint NOT NULL,
                value bigint NOT NULL,
                PRIMARY KEY (meter_ref, register))""",
            """INSERT INTO meter_latest (meter_ref, register, at, value)
                SELECT DISTINCT ON (meter_ref, register) meter_ref, register, at, value
                FROM readings ORDER BY meter_ref, register, at DESC, batch_seq DESC""",
        ),
    ),
    Migration(
        3,
        "commands: signed head-end commands per meter, delivery and ack",
        (
            """CREATE TABLE commands (
                command_id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
                meter_ref bigint NOT NULL REFERENCES meters (id),
                kind integer NOT NULL,
                signed_command bytea NOT NULL,
                created_at bigint NOT NULL,
                expires_at bigint NOT NULL,
                state text NOT NULL CHECK (state IN
                    ('queued', 'sent', 'acked', 'rejected', 'failed', 'expired')),
                sent_at bigint,
                acked_at bigint,
                ack_status integer,
                ack_reason integer,
                ack_detail bigint)""",
            "CREATE INDEX commands_open ON commands (meter_ref, state, command_id)",
        ),
    ),
    Migration(
        4,
        _V4_DESCRIPTION,
        (
            """CREATE TABLE interval_readings (
                meter_ref bigint NOT NULL,
                at bigint NOT NULL,
                batch_seq bigint NOT NULL,
                energy_import_wh bigint,
                energy_export_wh bigint,
                volume_dl bigint,
                voltage_dv bigint,
                current_ma bigint,
                power_w bigint,
                PRIMARY KEY (meter_ref, at, batch_seq))""",
            *_V4_TAIL,
        ),
    ),
)
