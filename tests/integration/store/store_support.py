"""Row builders and backend handles for the store integration tests."""

from __future__ import annotations

import hashlib
import sqlite3
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg

from meterseal.store import (
    BatchItem,
    BatchRow,
    MeterRecord,
    PostgresStore,
    ReadingRow,
    Register,
    SqliteStore,
    Store,
)
from meterseal.store.postgres import conninfo_for

T0 = 1_700_006_400  # 2023-11-15 00:00:00 UTC
HOUR = 3600
DAY = 86_400


@dataclass(frozen=True)
class Backend:
    """One test database: open stores on it, or run raw SQL beside the store."""

    name: str
    open: Callable[[], Store]  # a new, not yet migrated, store on this database
    execute: Callable[[str], list[tuple[Any, ...]]]  # raw SQL on its own connection


def sqlite_backend(path: Path) -> Backend:
    """A SQLite file at ``path``."""

    def execute(statement: str) -> list[tuple[Any, ...]]:
        conn = sqlite3.connect(path)
        try:
            with conn:
                return conn.execute(statement).fetchall()
        finally:
            conn.close()

    return Backend("sqlite", lambda: SqliteStore(path), execute)


def postgres_backend(dsn: str, schema: str) -> Backend:
    """The PostgreSQL schema ``schema`` at ``dsn``."""

    def execute(statement: str) -> list[tuple[Any, ...]]:
        with psycopg.connect(conninfo_for(dsn, schema, 5), autocommit=True) as conn:
            cursor = conn.execute(statement.encode())
            return cursor.fetchall() if cursor.description else []

    return Backend("postgres", lambda: PostgresStore(dsn, schema=schema), execute)


def meter(meter_id: str = "M1", meter_type: str = "electricity") -> MeterRecord:
    """A registered meter with recognisable key bytes."""
    return MeterRecord(
        meter_id=meter_id,
        meter_type=meter_type,
        suite=2,
        owner="owner of " + meter_id,
        public_key=b"\x04" + bytes(range(64)),
        identity_credential=b"\xa1\x08\xa1\x01" + meter_id.encode(),
        state="registered",
        registered_at=T0 - DAY,
    )


def signed_bytes(meter_id: str, seq: int, variant: bytes = b"") -> bytes:
    """Stand-in COSE_Sign1 bytes: every byte value, NULs at both ends, unique per batch."""
    return (
        b"\x00\xd2\x84"
        + meter_id.encode()
        + seq.to_bytes(4, "big")
        + variant
        + bytes(range(256))
        + b"\x00\x00"
    )


def batch(
    meter_id: str = "M1",
    seq: int = 1,
    values: Sequence[int] = (100, 110, 120, 130),
    *,
    start: int = T0,
    step: int = HOUR,
    register: int = Register.ENERGY_IMPORT_WH,
    variant: bytes = b"",
) -> BatchItem:
    """A batch of one register's readings at ``start + step``, ``start + 2 step``, ..."""
    signed = signed_bytes(meter_id, seq, variant)
    row = BatchRow(
        meter_id=meter_id,
        batch_seq=seq,
        interval_start=start,
        interval_seconds=step,
        signed_batch=signed,
        batch_hash=hashlib.sha256(signed).digest(),
        received_at=start + len(values) * step + 5,
        reading_count=len(values),
    )
    readings = [
        ReadingRow(meter_id, seq, start + (i + 1) * step, register, value)
        for i, value in enumerate(values)
    ]
    return row, readings


def with_readings(item: BatchItem, readings: Sequence[ReadingRow]) -> BatchItem:
    """``item`` with other readings (and the reading count to match)."""
    row, _ = item
    return BatchRow(
        row.meter_id,
        row.batch_seq,
        row.interval_start,
        row.interval_seconds,
        row.signed_batch,
        row.batch_hash,
        row.received_at,
        len(readings),
    ), list(readings)
