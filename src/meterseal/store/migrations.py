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

Version 6 adds the operator console's accounts: ``users`` (argon2id hashes), ``sessions``
and ``api_tokens`` (both kept only as SHA-256 hashes of the secret), ``login_failures``
(for throttling), the append-only ``audit_log``, whose triggers refuse UPDATE and
DELETE, and ``verification_runs``, the outcome of each ``ledger verify`` run for the
console's ledger page (see :mod:`meterseal.store.accounts`).

Version 7 adds the security server's tables (see :mod:`meterseal.store.security`):
``credentials`` (every credential the CA issued, by serial, and its state),
``revocation_lists`` (each signed revocation list, per number and suite) and the
append-only ``key_events`` trail, whose triggers refuse UPDATE and DELETE.

Version 5 adds the ledger outbox (see :mod:`meterseal.store.outbox`): ``ledger_outbox``,
the durable queue of leaves for the ledger, written in the same transaction as what they
record; ``ledger_inflight``, the one submission on its way to the ledger; the
append-only ``ledger_submissions``, where each submitted range of the outbox landed in
the log (first leaf index, tree size, signed checkpoint); ``ledger_refused``, leaves the
ledger refused as malformed, set aside so that they do not hold up the others; and
``ledger_forwarder``, the lease that lets one forwarder at a time drain the outbox. It
queues the ``BatchAccepted`` leaf of every batch already stored, so that a store upgraded
to it logs its whole history.

Version 8 adds ``meter_events``, one row per event of a stored batch (see
:mod:`meterseal.store.events`), backfilled from the signed batches already stored.

Interval readings carry no foreign key to batches: the store writes a batch and its rows
in the same transaction, and a per-row key check would cost a lookup per row.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from typing import Any

from meterseal.store.errors import SchemaVersionError
from meterseal.store.events import backfill_events
from meterseal.store.outbox import backfill_batch_leaves


@dataclass(frozen=True, slots=True)
class Migration:
    """One schema step: its version, what it does, and the SQL statements it runs.

    ``after``, if given, runs next in the same transaction with a query object of the
    backend (``?`` placeholders): for data that no portable SQL statement can write.
    """

    version: int
    description: str
    statements: tuple[str, ...]
    after: Callable[[Any], None] | None = None


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

# Version 5: the ledger outbox (see meterseal.store.outbox).
_V5_DESCRIPTION = "ledger outbox: queued leaves, the submission in flight, submissions"
_V5_APPEND_ONLY = "ledger_submissions is append-only"

_V5_SQLITE = (
    # AUTOINCREMENT: ids are never reused, so a leaf's id orders it among the queued ones.
    """CREATE TABLE ledger_outbox (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        leaf BLOB NOT NULL,
        created_at INTEGER NOT NULL)""",
    """CREATE TABLE ledger_inflight (
        slot INTEGER PRIMARY KEY CHECK (slot = 1),
        outbox_ids BLOB NOT NULL,
        size_hint INTEGER NOT NULL CHECK (size_hint >= 0),
        claimed_at INTEGER NOT NULL)""",
    """CREATE TABLE ledger_submissions (
        submission_id INTEGER PRIMARY KEY AUTOINCREMENT,
        first_outbox_id INTEGER NOT NULL,
        last_outbox_id INTEGER NOT NULL,
        count INTEGER NOT NULL CHECK (count > 0),
        first_index INTEGER NOT NULL CHECK (first_index >= 0),
        tree_size INTEGER NOT NULL,
        checkpoint BLOB NOT NULL,
        recovered INTEGER NOT NULL CHECK (recovered IN (0, 1)),
        submitted_at INTEGER NOT NULL,
        CHECK (tree_size >= first_index + count))""",
    f"""CREATE TRIGGER ledger_submissions_no_update BEFORE UPDATE ON ledger_submissions
        BEGIN SELECT RAISE(ABORT, '{_V5_APPEND_ONLY}'); END""",
    f"""CREATE TRIGGER ledger_submissions_no_delete BEFORE DELETE ON ledger_submissions
        BEGIN SELECT RAISE(ABORT, '{_V5_APPEND_ONLY}'); END""",
    """CREATE TABLE ledger_refused (
        outbox_id INTEGER PRIMARY KEY,
        leaf BLOB NOT NULL,
        created_at INTEGER NOT NULL,
        refused_at INTEGER NOT NULL,
        reason TEXT NOT NULL)""",
    """CREATE TABLE ledger_forwarder (
        slot INTEGER PRIMARY KEY CHECK (slot = 1),
        holder TEXT NOT NULL,
        expires_at INTEGER NOT NULL)""",
)

_V5_POSTGRES = (
    """CREATE TABLE ledger_outbox (
        id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        leaf bytea NOT NULL,
        created_at bigint NOT NULL)""",
    """CREATE TABLE ledger_inflight (
        slot integer PRIMARY KEY CHECK (slot = 1),
        outbox_ids bytea NOT NULL,
        size_hint bigint NOT NULL CHECK (size_hint >= 0),
        claimed_at bigint NOT NULL)""",
    """CREATE TABLE ledger_submissions (
        submission_id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        first_outbox_id bigint NOT NULL,
        last_outbox_id bigint NOT NULL,
        count integer NOT NULL CHECK (count > 0),
        first_index bigint NOT NULL CHECK (first_index >= 0),
        tree_size bigint NOT NULL,
        checkpoint bytea NOT NULL,
        recovered boolean NOT NULL,
        submitted_at bigint NOT NULL,
        CHECK (tree_size >= first_index + count))""",
    f"""CREATE FUNCTION ledger_submissions_append_only() RETURNS trigger
        LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION '{_V5_APPEND_ONLY}'; END $$""",
    """CREATE TRIGGER ledger_submissions_append_only BEFORE UPDATE OR DELETE
        ON ledger_submissions FOR EACH ROW EXECUTE FUNCTION ledger_submissions_append_only()""",
    """CREATE TABLE ledger_refused (
        outbox_id bigint PRIMARY KEY,
        leaf bytea NOT NULL,
        created_at bigint NOT NULL,
        refused_at bigint NOT NULL,
        reason text NOT NULL)""",
    """CREATE TABLE ledger_forwarder (
        slot integer PRIMARY KEY CHECK (slot = 1),
        holder text NOT NULL,
        expires_at bigint NOT NULL)""",
)

# Version 6: operator console accounts and the audit log (see meterseal.store.accounts).
_V6_DESCRIPTION = (
    "console: users, sessions, API tokens, login failures, audit log, verification runs"
)
_V6_ROLES = "('admin', 'operator', 'auditor', 'readonly')"
_V6_APPEND_ONLY = "audit_log is append-only"

_V6_SQLITE = (
    f"""CREATE TABLE users (
        name TEXT PRIMARY KEY,
        role TEXT NOT NULL CHECK (role IN {_V6_ROLES}),
        password_hash TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        disabled INTEGER NOT NULL DEFAULT 0 CHECK (disabled IN (0, 1)))""",
    """CREATE TABLE sessions (
        session_hash BLOB PRIMARY KEY CHECK (length(session_hash) = 32),
        user_name TEXT NOT NULL REFERENCES users (name),
        csrf_token TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        expires_at INTEGER NOT NULL,
        last_seen INTEGER NOT NULL)""",
    "CREATE INDEX sessions_user ON sessions (user_name)",
    f"""CREATE TABLE api_tokens (
        token_id INTEGER PRIMARY KEY AUTOINCREMENT,
        token_hash BLOB NOT NULL UNIQUE CHECK (length(token_hash) = 32),
        prefix TEXT NOT NULL,
        user_name TEXT NOT NULL REFERENCES users (name),
        role_cap TEXT NOT NULL CHECK (role_cap IN {_V6_ROLES}),
        label TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        last_used INTEGER,
        revoked_at INTEGER)""",
    """CREATE TABLE login_failures (
        failure_id INTEGER PRIMARY KEY AUTOINCREMENT,
        throttle_key TEXT NOT NULL,
        at INTEGER NOT NULL)""",
    "CREATE INDEX login_failures_key ON login_failures (throttle_key, at)",
    """CREATE TABLE audit_log (
        audit_id INTEGER PRIMARY KEY AUTOINCREMENT,
        at INTEGER NOT NULL,
        actor TEXT NOT NULL,
        action TEXT NOT NULL,
        target TEXT NOT NULL,
        detail TEXT NOT NULL,
        outcome TEXT NOT NULL CHECK (outcome IN ('ok', 'denied', 'failed')))""",
    f"""CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
        BEGIN SELECT RAISE(ABORT, '{_V6_APPEND_ONLY}'); END""",
    f"""CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
        BEGIN SELECT RAISE(ABORT, '{_V6_APPEND_ONLY}'); END""",
    """CREATE TABLE verification_runs (
        run_id INTEGER PRIMARY KEY AUTOINCREMENT,
        at INTEGER NOT NULL,
        origin TEXT NOT NULL,
        tree_size INTEGER NOT NULL,
        batches INTEGER NOT NULL,
        findings INTEGER NOT NULL,
        summary TEXT NOT NULL,
        sample TEXT NOT NULL)""",
)

_V6_POSTGRES = (
    f"""CREATE TABLE users (
        name text PRIMARY KEY,
        role text NOT NULL CHECK (role IN {_V6_ROLES}),
        password_hash text NOT NULL,
        created_at bigint NOT NULL,
        disabled boolean NOT NULL DEFAULT false)""",
    """CREATE TABLE sessions (
        session_hash bytea PRIMARY KEY CHECK (octet_length(session_hash) = 32),
        user_name text NOT NULL REFERENCES users (name),
        csrf_token text NOT NULL,
        created_at bigint NOT NULL,
        expires_at bigint NOT NULL,
        last_seen bigint NOT NULL)""",
    "CREATE INDEX sessions_user ON sessions (user_name)",
    f"""CREATE TABLE api_tokens (
        token_id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        token_hash bytea NOT NULL UNIQUE CHECK (octet_length(token_hash) = 32),
        prefix text NOT NULL,
        user_name text NOT NULL REFERENCES users (name),
        role_cap text NOT NULL CHECK (role_cap IN {_V6_ROLES}),
        label text NOT NULL,
        created_at bigint NOT NULL,
        last_used bigint,
        revoked_at bigint)""",
    """CREATE TABLE login_failures (
        failure_id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        throttle_key text NOT NULL,
        at bigint NOT NULL)""",
    "CREATE INDEX login_failures_key ON login_failures (throttle_key, at)",
    """CREATE TABLE audit_log (
        audit_id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        at bigint NOT NULL,
        actor text NOT NULL,
        action text NOT NULL,
        target text NOT NULL,
        detail text NOT NULL,
        outcome text NOT NULL CHECK (outcome IN ('ok', 'denied', 'failed')))""",
    f"""CREATE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS
        $body$ BEGIN RAISE EXCEPTION '{_V6_APPEND_ONLY}'; END $body$""",
    """CREATE TRIGGER audit_log_no_change BEFORE UPDATE OR DELETE ON audit_log
        FOR EACH ROW EXECUTE FUNCTION audit_log_append_only()""",
    """CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log
        FOR EACH STATEMENT EXECUTE FUNCTION audit_log_append_only()""",
    """CREATE TABLE verification_runs (
        run_id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        at bigint NOT NULL,
        origin text NOT NULL,
        tree_size bigint NOT NULL,
        batches bigint NOT NULL,
        findings bigint NOT NULL,
        summary text NOT NULL,
        sample text NOT NULL)""",
)

# Version 7: the security server's credentials, signed revocation lists and key events.
# The key-event trail is append-only: triggers refuse UPDATE and DELETE on key_events.
_V7_DESCRIPTION = "credentials, signed revocation lists, key-event audit trail"
_V7_APPEND_ONLY_SQLITE = (
    """CREATE TRIGGER key_events_no_update BEFORE UPDATE ON key_events
        BEGIN SELECT RAISE(ABORT, 'key_events is append-only'); END""",
    """CREATE TRIGGER key_events_no_delete BEFORE DELETE ON key_events
        BEGIN SELECT RAISE(ABORT, 'key_events is append-only'); END""",
)
_V7_APPEND_ONLY_POSTGRES = (
    """CREATE FUNCTION key_events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN RAISE EXCEPTION 'key_events is append-only'; END $$""",
    """CREATE TRIGGER key_events_append_only BEFORE UPDATE OR DELETE OR TRUNCATE
        ON key_events FOR EACH STATEMENT EXECUTE FUNCTION key_events_append_only()""",
)

# Version 8: meter events as rows (see meterseal.store.events), indexed for one meter's
# events in a time range and for recent events of some kinds across the fleet.
_V8_DESCRIPTION = "meter_events: one row per event of a stored batch"


def _v8(integer: str, table_options: str) -> tuple[str, ...]:
    return (
        f"""CREATE TABLE meter_events (
            meter_ref {integer} NOT NULL,
            batch_seq {integer} NOT NULL,
            idx integer NOT NULL CHECK (idx >= 0),
            at {integer} NOT NULL,
            kind integer NOT NULL,
            detail {integer} NOT NULL,
            PRIMARY KEY (meter_ref, batch_seq, idx)){table_options}""",
        "CREATE INDEX meter_events_meter_time ON meter_events (meter_ref, at)",
        "CREATE INDEX meter_events_kind_time ON meter_events (kind, at)",
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
    Migration(5, _V5_DESCRIPTION, _V5_SQLITE, backfill_batch_leaves),
    Migration(6, _V6_DESCRIPTION, _V6_SQLITE),
    Migration(
        7,
        _V7_DESCRIPTION,
        (
            """CREATE TABLE credentials (
                serial INTEGER PRIMARY KEY,
                subject_kind TEXT NOT NULL CHECK (subject_kind IN ('meter', 'headend')),
                subject TEXT NOT NULL,
                suite INTEGER NOT NULL,
                credential BLOB NOT NULL,
                credential_hash BLOB NOT NULL CHECK (length(credential_hash) = 32),
                not_before INTEGER NOT NULL,
                not_after INTEGER NOT NULL,
                state TEXT NOT NULL CHECK (state IN ('active', 'superseded', 'revoked')),
                issued_at INTEGER NOT NULL,
                grace_until INTEGER,
                revoked_at INTEGER,
                reason INTEGER)""",
            "CREATE INDEX credentials_subject ON credentials (subject, state)",
            """CREATE TABLE revocation_lists (
                number INTEGER NOT NULL CHECK (number > 0),
                suite INTEGER NOT NULL,
                this_update INTEGER NOT NULL,
                next_update INTEGER NOT NULL,
                signed_list BLOB NOT NULL,
                PRIMARY KEY (number, suite))""",
            """CREATE TABLE key_events (
                event_id INTEGER PRIMARY KEY AUTOINCREMENT,
                at INTEGER NOT NULL,
                kind TEXT NOT NULL CHECK (kind IN ('generation', 'issuance', 'rotation',
                    'revocation', 'refused_registration')),
                subject TEXT NOT NULL,
                serial INTEGER,
                detail TEXT NOT NULL)""",
            *_V7_APPEND_ONLY_SQLITE,
        ),
    ),
    Migration(8, _V8_DESCRIPTION, _v8("INTEGER", " WITHOUT ROWID"), backfill_events),
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
    Migration(5, _V5_DESCRIPTION, _V5_POSTGRES, backfill_batch_leaves),
    Migration(6, _V6_DESCRIPTION, _V6_POSTGRES),
    Migration(
        7,
        _V7_DESCRIPTION,
        (
            """CREATE TABLE credentials (
                serial bigint PRIMARY KEY,
                subject_kind text NOT NULL CHECK (subject_kind IN ('meter', 'headend')),
                subject text NOT NULL,
                suite integer NOT NULL,
                credential bytea NOT NULL,
                credential_hash bytea NOT NULL CHECK (octet_length(credential_hash) = 32),
                not_before bigint NOT NULL,
                not_after bigint NOT NULL,
                state text NOT NULL CHECK (state IN ('active', 'superseded', 'revoked')),
                issued_at bigint NOT NULL,
                grace_until bigint,
                revoked_at bigint,
                reason integer)""",
            "CREATE INDEX credentials_subject ON credentials (subject, state)",
            """CREATE TABLE revocation_lists (
                number bigint NOT NULL CHECK (number > 0),
                suite integer NOT NULL,
                this_update bigint NOT NULL,
                next_update bigint NOT NULL,
                signed_list bytea NOT NULL,
                PRIMARY KEY (number, suite))""",
            """CREATE TABLE key_events (
                event_id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
                at bigint NOT NULL,
                kind text NOT NULL CHECK (kind IN ('generation', 'issuance', 'rotation',
                    'revocation', 'refused_registration')),
                subject text NOT NULL,
                serial bigint,
                detail text NOT NULL)""",
            *_V7_APPEND_ONLY_POSTGRES,
        ),
    ),
    Migration(8, _V8_DESCRIPTION, _v8("bigint", ""), backfill_events),
)
