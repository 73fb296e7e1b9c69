"""The record header (docs/protocol.md, "Record format")."""

from __future__ import annotations

import pytest

from meterseal.errors import RecordError
from meterseal.records.wire import (
    MAX_SEQ,
    VERSION,
    RecordType,
    encode_header,
    parse_header,
    seq_length,
)

TAG = 16


@pytest.mark.parametrize(
    ("seq", "length"),
    [(0, 1), (255, 1), (256, 2), (0xFFFF, 2), (0x10000, 3), (2**32, 5), (MAX_SEQ, 5)],
)
def test_seq_length_is_shortest_big_endian(seq: int, length: int) -> None:
    assert seq_length(seq) == length
    assert len(encode_header(0, 0, seq)) == 1 + length


@pytest.mark.parametrize("record_type", list(RecordType))
@pytest.mark.parametrize("phase", [0, 1])
@pytest.mark.parametrize("seq", [0, 1, 255, 256, 70000, MAX_SEQ])
def test_header_round_trips(record_type: RecordType, phase: int, seq: int) -> None:
    header = encode_header(record_type, phase, seq)
    parsed = parse_header(header + bytes(TAG), TAG)
    assert parsed == (record_type, phase, seq, len(header))


def test_flags_byte_layout_matches_the_spec() -> None:
    header = encode_header(RecordType.CLOSE, 1, 0x1234)
    assert header == bytes([(VERSION << 6) | (2 << 4) | (1 << 3) | 1, 0x12, 0x34])


def test_too_short_for_header_and_tag_is_rejected() -> None:
    header = encode_header(0, 0, 0x123456)
    with pytest.raises(RecordError, match="truncated"):
        parse_header(header + bytes(TAG - 1), TAG)


def test_wrong_version_is_rejected() -> None:
    header = bytearray(encode_header(0, 0, 5))
    header[0] ^= 0xC0
    with pytest.raises(RecordError, match="version"):
        parse_header(bytes(header) + bytes(TAG), TAG)


def test_reserved_record_type_is_rejected() -> None:
    header = bytearray(encode_header(0, 0, 5))
    header[0] |= 0x30
    with pytest.raises(RecordError, match="type 3"):
        parse_header(bytes(header) + bytes(TAG), TAG)


def test_sequence_field_longer_than_five_bytes_is_rejected() -> None:
    flags = (VERSION << 6) | 0x05
    with pytest.raises(RecordError, match="exceeds"):
        parse_header(bytes([flags]) + b"\x01" * 6 + bytes(TAG), TAG)


def test_non_minimal_sequence_number_is_rejected() -> None:
    flags = (VERSION << 6) | 0x01
    with pytest.raises(RecordError, match="shortest"):
        parse_header(bytes([flags, 0x00, 0x05]) + bytes(TAG), TAG)
