"""Binary COPY data for interval_readings, against the format PostgreSQL documents."""

from __future__ import annotations

import struct

import pytest

from meterseal.store import InvalidRowError
from meterseal.store.batching import IntervalBlock
from meterseal.store.pg_copy import SIGNATURE, TRAILER, block_data, copy_data


def _expected_row(row: tuple[int | None, ...]) -> bytes:
    """One row as the COPY documentation spells it: count, then length and value each."""
    fields = [b"\xff\xff\xff\xff" if v is None else struct.pack(">iq", 8, v) for v in row]
    return struct.pack(">h", len(row)) + b"".join(fields)


def _block(*registers: tuple[int | None, ...] | None) -> IntervalBlock:
    return IntervalBlock(7, 3, range(900, 2700, 900), registers)


def test_a_batch_packed_at_once_equals_row_by_row_encoding() -> None:
    block = _block((10, 11), None, None, (2300, -5), None, (2**63 - 1, -(2**63)))
    assert block_data(block) == b"".join(_expected_row(row) for row in block.rows())


def test_columns_with_some_nulls_are_packed_row_by_row() -> None:
    block = _block((10, None), None, None, (None, 2310), None, None)
    assert block_data(block) == b"".join(_expected_row(row) for row in block.rows())


def test_the_stream_has_the_signature_and_the_trailer() -> None:
    block = _block((1, 2), None, None, None, None, None)
    assert copy_data([block, block]) == SIGNATURE + block_data(block) * 2 + TRAILER
    assert SIGNATURE[:11] == b"PGCOPY\n\xff\r\n\x00"
    assert len(SIGNATURE) == 19


def test_a_value_beyond_int8_is_an_invalid_row() -> None:
    with pytest.raises(InvalidRowError, match="int8"):
        copy_data([_block((1, 2**63), None, None, None, None, None)])
