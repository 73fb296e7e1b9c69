"""Read-only queries for ``meterseal ledger verify`` (see :mod:`meterseal.ledger.verify`).

Functions over a :class:`~meterseal.store.sqlite.SqliteStore` or
:class:`~meterseal.store.postgres.PostgresStore`, kept out of the :class:`Store` protocol
because only the verifier needs them. Every query is per meter, a range scan of a primary
key (``batches`` and ``interval_readings`` both start with ``meter_ref``), so a run never
sorts a whole table and two processes can split the meters between them.

The one thing written is a *temporary* table of the run's secret interval weights
(``meterseal_verify_weights``), private to the connection and gone when it closes; the
fingerprint SQL joins it (see :mod:`meterseal.ledger.verify_fingerprint`).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

from meterseal.store.base import Row
from meterseal.store.errors import StoreError
from meterseal.store.factory import open_store
from meterseal.store.postgres import PostgresStore
from meterseal.store.rows import REGISTER_COLUMNS
from meterseal.store.sqlite import SqliteStore

VerifiableStore = SqliteStore | PostgresStore
"""The stores the verifier can read."""

PAGE_SIZE = 2000
"""Batches fetched per query."""

WEIGHTS_TABLE = "meterseal_verify_weights"
RANGES_TABLE = "meterseal_verify_ranges"
_PACK_BITS = 46
_HALF_PACK = 1 << (_PACK_BITS - 1)
_INSERT_CHUNK = 400
_WIDE = ", ".join(column for _, column in REGISTER_COLUMNS)

# SQLite keeps whatever type a value was written with: CAST reads a tampered TEXT value
# as the bytes it holds instead of failing to decode it.
_BATCH_COLUMNS = "batch_seq, interval_start, interval_seconds, {}, {}, received_at, reading_count"
_BATCH_PAGE = " FROM batches WHERE meter_ref = ? AND batch_seq > ? ORDER BY batch_seq LIMIT ?"
_BATCHES = {
    "sqlite": "SELECT "
    + _BATCH_COLUMNS.format("CAST(signed_batch AS BLOB)", "CAST(batch_hash AS BLOB)")
    + _BATCH_PAGE,
    "postgres": "SELECT " + _BATCH_COLUMNS.format("signed_batch", "batch_hash") + _BATCH_PAGE,
}
_NEXT_READING_REF = "SELECT min(meter_ref) FROM interval_readings WHERE meter_ref > ?"
_ROW_COUNTS = (
    "SELECT batch_seq, count(*) FROM interval_readings WHERE meter_ref = ? GROUP BY batch_seq"
)
_SQLITE_WEIGHTS = (
    f"CREATE TEMP TABLE IF NOT EXISTS {WEIGHTS_TABLE} (idx INTEGER PRIMARY KEY, w INTEGER NOT NULL)"
)
_SQLITE_RANGE_TABLE = (
    f"CREATE TEMP TABLE IF NOT EXISTS {RANGES_TABLE} (batch_seq INTEGER PRIMARY KEY,"
    " lo INTEGER NOT NULL, hi INTEGER NOT NULL, start INTEGER NOT NULL, step INTEGER NOT NULL)"
)
_TEMP_TABLES = {"sqlite": (_SQLITE_WEIGHTS, _SQLITE_RANGE_TABLE)}
_WEIGHT_JOIN = (
    f" LEFT JOIN {WEIGHTS_TABLE} w ON w.idx = (r.at - s.start) / s.step - 1"
    " AND (r.at - s.start) % s.step = 0"
)
_IN_RANGE = " WHERE r.meter_ref = ? AND r.at BETWEEN s.lo AND s.hi AND r.batch_seq = s.batch_seq"
# SQLite: one correlated scalar subquery per batch, count and sum packed into one integer.
_SQLITE_RANGES = (
    "SELECT s.batch_seq, (SELECT sum(coalesce({term}, 0) + "  # noqa: S608 - constants only
    + str(1 << _PACK_BITS)
    + ") FROM interval_readings r"
    + _WEIGHT_JOIN
    + _IN_RANGE
    + f") FROM {RANGES_TABLE} s"
)
# PostgreSQL: the batch ranges and the weights are array parameters; a row's weight is an
# array subscript (1-based: W(i) is element i + 1), NULL when off the grid or out of range.
_PG_WEIGHT = (
    " CROSS JOIN LATERAL (SELECT CASE WHEN (r.at - s.start) %% s.step = 0"
    " THEN (?::int8[])[(r.at - s.start) / s.step] END AS w) w"
)
_PG_RANGES = (
    "SELECT s.batch_seq, f.n, f.total FROM unnest(?::int8[], ?::int8[], ?::int8[], ?::int8[],"  # noqa: S608
    " ?::int8[]) AS s (batch_seq, lo, hi, start, step) CROSS JOIN LATERAL ("
    "SELECT count(*) AS n, sum(coalesce({term}, 0)) AS total FROM interval_readings r"
    + _PG_WEIGHT
    + _IN_RANGE
    + ") f"
)


def open_verifiable_store(url: str) -> VerifiableStore:
    """The store ``url`` names (see :mod:`meterseal.store.factory`), as it is: no migration."""
    store = open_store(url, migrate=False)
    if not isinstance(store, SqliteStore | PostgresStore):  # pragma: no cover - both are
        store.close()
        raise StoreError(f"the verifier cannot read a {type(store).__name__}")
    return store


def _backend(store: VerifiableStore) -> str:
    return "sqlite" if isinstance(store, SqliteStore) else "postgres"


def meters(store: VerifiableStore) -> list[tuple[int, str]]:
    """Every registered meter as ``(meter_ref, meter_id)``, ordered by meter id."""
    with store._reading() as query:
        return [
            (int(ref), str(mid))
            for ref, mid in query.all("SELECT id, meter_id FROM meters ORDER BY meter_id")
        ]


def reading_meter_refs(store: VerifiableStore) -> list[int]:
    """Every distinct ``meter_ref`` in ``interval_readings``, one index seek each."""
    refs: list[int] = []
    last = -(1 << 62)
    with store._reading() as query:
        while True:
            row = query.one(_NEXT_READING_REF, (last,))
            if row is None or row[0] is None:
                return refs
            last = int(row[0])
            refs.append(last)


def batch_pages(store: VerifiableStore, meter_ref: int) -> Iterator[list[Row]]:
    """The meter's batches in sequence order, a page at a time: ``(batch_seq,
    interval_start, interval_seconds, signed_batch, batch_hash, received_at,
    reading_count)``."""
    after = -1
    while True:
        with store._reading() as query:
            rows = query.all(_BATCHES[_backend(store)], (meter_ref, after, PAGE_SIZE))
        if rows:
            yield rows
        if len(rows) < PAGE_SIZE:
            return
        after = int(rows[-1][0])


def prepare_weights(store: VerifiableStore, weights: Sequence[int]) -> None:
    """(Re)create this connection's temporary tables: interval weights by index (the
    first ``weights``), and the batch ranges that :func:`range_fingerprints` fills."""
    if _backend(store) == "postgres":
        # The per-batch ranges differ in every call: a generic plan (which psycopg's
        # automatic prepared statements lead to) is several times slower here.
        with store._reading() as query:
            query.run("SET plan_cache_mode = force_custom_plan")
        return
    with store._reading() as query:
        for statement in _TEMP_TABLES["sqlite"]:
            query.run(statement)
        query.run(f"DELETE FROM {WEIGHTS_TABLE}")  # noqa: S608 - a constant name
    add_weights(store, 0, weights)


def add_weights(store: VerifiableStore, first: int, weights: Sequence[int]) -> None:
    """Insert ``weights`` as the weights of indexes ``first, first + 1, ...`` (SQLite; a
    PostgreSQL query receives them as a parameter instead)."""
    if _backend(store) == "postgres":
        return
    with store._reading() as query:
        for offset in range(0, len(weights), _INSERT_CHUNK):
            chunk = weights[offset : offset + _INSERT_CHUNK]
            values = ", ".join(["(?, ?)"] * len(chunk))
            params: list[Any] = [v for pair in enumerate(chunk, first + offset) for v in pair]
            query.run(f"INSERT INTO {WEIGHTS_TABLE} (idx, w) VALUES {values}", params)  # noqa: S608


BatchRange = tuple[int, int, int, int, int]
"""``(batch_seq, first interval end, last interval end, interval_start, interval_seconds)``
of a signed batch: where its rows must be, and how an interval end maps to its index."""


def range_fingerprints(
    store: VerifiableStore,
    meter_ref: int,
    ranges: Sequence[BatchRange],
    term_sql: str,
    weights: Sequence[int],
) -> dict[int, tuple[int, int]]:
    """Per batch: ``(rows, sum of row terms)`` over the rows with its ``batch_seq`` and an
    interval end in its signed range (one primary-key range scan each, no sort).

    ``term_sql`` is the per-row term over alias ``r`` and weight ``w.w``, made by
    :meth:`~meterseal.ledger.verify_fingerprint.FingerprintKey.row_term_sql` from integers
    only; ``weights`` are W(0), W(1), ... as far as the ranges need (SQLite reads them from
    the temporary table :func:`add_weights` filled, PostgreSQL receives them as an array).
    A row whose interval end is not on the batch's grid has no weight: it counts, adds 0.
    """
    if not ranges:
        return {}
    if _backend(store) == "postgres":
        term = term_sql.replace("%", "%%")
        return _pg_range_fingerprints(store, meter_ref, ranges, term, weights)
    with store._reading() as query:
        query.run(f"DELETE FROM {RANGES_TABLE}")  # noqa: S608 - a constant name
        for offset in range(0, len(ranges), _INSERT_CHUNK // 5):
            chunk = ranges[offset : offset + _INSERT_CHUNK // 5]
            values = ", ".join(["(?, ?, ?, ?, ?)"] * len(chunk))
            params = [v for batch in chunk for v in batch]
            query.run(f"INSERT INTO {RANGES_TABLE} VALUES {values}", params)  # noqa: S608
        rows = query.all(_SQLITE_RANGES.format(term=term_sql), (meter_ref,))
    return {int(seq): _unpack(packed) for seq, packed in rows}


def _unpack(packed: object) -> tuple[int, int]:
    """(count, sum) from ``sum(term + 2^46)``: terms lie in (-2^29, 2^29) and a batch has at
    most 2^16 rows in its range, so the sum of terms lies in (-2^45, 2^45).

    SQLite keeps a value of any type in an INTEGER column; ``%`` of a REAL is a REAL, so a
    stored REAL makes the sum a float: reported as count -1, which never matches.
    """
    if packed is None:
        return 0, 0
    if not isinstance(packed, int):
        return -1, 0
    count = (int(packed) + _HALF_PACK) >> _PACK_BITS
    return count, int(packed) - (count << _PACK_BITS)


def _pg_range_fingerprints(
    store: VerifiableStore,
    meter_ref: int,
    ranges: Sequence[BatchRange],
    term_sql: str,
    weights: Sequence[int],
) -> dict[int, tuple[int, int]]:
    columns = [list(column) for column in zip(*ranges, strict=True)]
    params = (*columns, list(weights), meter_ref)
    with store._reading() as query:
        rows = query.all(_PG_RANGES.format(term=term_sql), params)
    return {int(seq): (int(count), int(total or 0)) for seq, count, total in rows}


def meter_row_count(store: VerifiableStore, meter_ref: int) -> int:
    """The number of the meter's reading rows."""
    with store._reading() as query:
        row = query.one("SELECT count(*) FROM interval_readings WHERE meter_ref = ?", (meter_ref,))
    return 0 if row is None else int(row[0])


def row_counts(store: VerifiableStore, meter_ref: int) -> list[tuple[int, int]]:
    """``(batch_seq, row count)`` of the meter's reading rows (for unregistered refs)."""
    with store._reading() as query:
        return [(int(seq), int(count)) for seq, count in query.all(_ROW_COUNTS, (meter_ref,))]


def queued_leaf(store: VerifiableStore, leaf: bytes) -> bool | None:
    """Whether ``leaf`` waits in the ledger outbox (:mod:`meterseal.store.outbox`), not yet
    forwarded to the ledger; None for a store without an outbox (schema before 5)."""
    try:
        with store._reading() as query:
            row = query.one("SELECT 1 FROM ledger_outbox WHERE leaf = ? LIMIT 1", (leaf,))
    except StoreError:
        return None
    return row is not None


def batch_rows(store: VerifiableStore, meter_ref: int, seqs: Sequence[int]) -> list[Row]:
    """The reading rows of some of the meter's batches: ``(batch_seq, at, registers...)``,
    ordered by batch and interval end."""
    if not seqs:
        return []
    marks = ", ".join("?" * len(seqs))
    sql = (
        f"SELECT batch_seq, at, {_WIDE} FROM interval_readings"  # noqa: S608 - constant columns
        f" WHERE meter_ref = ? AND batch_seq IN ({marks}) ORDER BY batch_seq, at"
    )
    with store._reading() as query:
        return query.all(sql, (meter_ref, *seqs))


_METER_EVENTS = (
    "SELECT batch_seq, idx, at, kind, detail FROM meter_events WHERE meter_ref = ?"
    " ORDER BY batch_seq, idx"
)


def has_events(store: VerifiableStore) -> bool:
    """Whether the store keeps event rows (schema version 8 and later)."""
    try:
        with store._reading() as query:
            query.one("SELECT 1 FROM meter_events LIMIT 1")
    except StoreError:
        return False
    return True


def meter_events(store: VerifiableStore, meter_ref: int) -> dict[int, dict[int, tuple[Any, ...]]]:
    """The meter's event rows, ``{batch_seq: {idx: (at, kind, detail)}}`` (one primary-key
    range scan; events are few, so a meter's fit in memory)."""
    found: dict[int, dict[int, tuple[Any, ...]]] = {}
    with store._reading() as query:
        for seq, idx, at, kind, detail in query.all(_METER_EVENTS, (meter_ref,)):
            found.setdefault(int(seq), {})[int(idx)] = (at, kind, detail)
    return found
