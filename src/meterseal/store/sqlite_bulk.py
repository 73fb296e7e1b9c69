"""Multi-row statements for the SQLite write path: few statement steps per transaction.

Why. ``sqlite3`` lets go of the GIL around every statement step and must take it back
afterwards. The head-end runs ``store_batches`` on a writer thread beside the event loop's
thread; while that thread is busy (decrypting, verifying), each step of the writer waits
for the GIL, up to the interpreter's switch interval (5 ms), and it waits *inside* the
write transaction, holding SQLite's write lock that other worker processes are queued
on. ``executemany`` steps once per row, so a batch of 96 interval rows meant 96 waits.
:class:`MultiRowInsert` writes up to :data:`ROWS_PER_STATEMENT` rows per step
(``INSERT ... VALUES (...), (...), ...``), and :func:`stored_hashes` looks up every
offered key in one step (``(a, b) IN (VALUES ...)``, SQLite 3.15+).

Statement texts. Full groups use one text; the rest of a call goes in groups of 128,
64, ..., 1 rows (its binary digits), so a connection prepares at most nine texts per
table, kept in ``sqlite3``'s statement cache. 256 rows of 9 columns is 2,304 parameters,
far below SQLite's limit of 32,766 (3.32+).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from functools import lru_cache
from itertools import chain
from typing import Any

ROWS_PER_STATEMENT = 256
"""Rows per multi-row statement."""

Values = tuple[Any, ...]


@dataclass(frozen=True, slots=True)
class MultiRowInsert:
    """``INSERT INTO table (columns) VALUES (...), (...) [tail]`` for many rows at once."""

    table: str
    columns: tuple[str, ...]
    tail: str = ""  # e.g. an ON CONFLICT clause

    def sql(self, rows: int) -> str:
        """The statement for ``rows`` rows."""
        return _insert_sql(self, rows)

    def run(self, conn: sqlite3.Connection, rows: Iterable[Values]) -> None:
        """Insert ``rows`` (tuples in column order), :data:`ROWS_PER_STATEMENT` per step."""
        self.run_flat(conn, list(chain.from_iterable(rows)))

    def run_flat(self, conn: sqlite3.Connection, values: Sequence[Any]) -> None:
        """Insert rows given flat: every value of the first row, then of the second, ..."""
        width = len(self.columns)
        step = ROWS_PER_STATEMENT * width
        start = len(values) // step * step  # where the full groups end and the rest begins
        if start:
            conn.executemany(self.sql(ROWS_PER_STATEMENT), _slices(values, 0, start, step))
        for size in _binary_sizes((len(values) - start) // width):
            conn.execute(self.sql(size), values[start : start + size * width])
            start += size * width


@lru_cache(maxsize=64)
def _insert_sql(insert: MultiRowInsert, rows: int) -> str:
    one = f"({', '.join('?' * len(insert.columns))})"
    values = ", ".join([one] * rows)
    columns = ", ".join(insert.columns)
    return f"INSERT INTO {insert.table} ({columns}) VALUES {values}{insert.tail}"  # noqa: S608 - names are constants


def _slices(values: Sequence[Any], start: int, stop: int, step: int) -> Iterator[Sequence[Any]]:
    return (values[offset : offset + step] for offset in range(start, stop, step))


def _binary_sizes(count: int) -> list[int]:
    """``count`` as a sum of powers of two, largest first (13 -> [8, 4, 1])."""
    return [1 << bit for bit in reversed(range(count.bit_length())) if count >> bit & 1]


def stored_hashes(
    conn: sqlite3.Connection, keys: Sequence[tuple[int, int]]
) -> dict[tuple[int, int], bytes]:
    """The batch hashes stored under those of ``keys`` (meter_ref, batch_seq) that exist."""
    found: dict[tuple[int, int], bytes] = {}
    unique = list(dict.fromkeys(keys))
    for start in range(0, len(unique), ROWS_PER_STATEMENT):
        part = unique[start : start + ROWS_PER_STATEMENT]
        cursor = conn.execute(_hashes_sql(len(part)), tuple(chain.from_iterable(part)))
        found.update({(ref, seq): bytes(digest) for ref, seq, digest in cursor})
    return found


@lru_cache(maxsize=ROWS_PER_STATEMENT)
def _hashes_sql(keys: int) -> str:
    values = ", ".join(["(?, ?)"] * keys)
    return (
        "SELECT meter_ref, batch_seq, batch_hash FROM batches"  # noqa: S608 - placeholders only
        f" WHERE (meter_ref, batch_seq) IN (VALUES {values})"
    )
