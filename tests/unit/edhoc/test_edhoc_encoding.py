"""Strict CBOR items and the int-or-bstr identifier form (RFC 9528 section 3.3.2)."""

from __future__ import annotations

import pytest

from meterseal.edhoc.encoding import (
    MAX_MESSAGE_LENGTH,
    decode_identifier,
    encode_identifier,
    expect_bstr,
    expect_int,
    expect_map,
    is_compact_int_byte,
    split_sequence,
)
from meterseal.errors import EncodingError


@pytest.mark.parametrize(
    ("identifier", "wire"),
    [
        (b"\x37", b"\x37"),  # -24: one-byte int
        (b"\x2d", b"\x2d"),  # -14 (RFC 9529 trace 1 C_I)
        (b"\x00", b"\x00"),
        (b"\x17", b"\x17"),  # 23
        (b"\x18", b"\x41\x18"),  # not a complete int encoding: bstr (trace 1 C_R)
        (b"\x38", b"\x41\x38"),
        (b"", b"\x40"),
        (b"\x01\x02", b"\x42\x01\x02"),
    ],
)
def test_identifier_wire_form_follows_section_3_3_2(identifier: bytes, wire: bytes) -> None:
    assert encode_identifier(identifier) == wire
    (item,) = split_sequence(wire)
    assert decode_identifier(item, "C_x") == identifier


def test_every_one_byte_identifier_round_trips() -> None:
    for byte in range(256):
        identifier = bytes([byte])
        (item,) = split_sequence(encode_identifier(identifier))
        assert decode_identifier(item, "C_x") == identifier


def test_one_byte_bstr_that_encodes_an_int_is_rejected() -> None:
    (item,) = split_sequence(b"\x41\x0a")
    with pytest.raises(EncodingError, match="integer"):
        decode_identifier(item, "C_R")


def test_integer_identifier_outside_minus_24_to_23_is_rejected() -> None:
    (item,) = split_sequence(b"\x18\x18")
    with pytest.raises(EncodingError, match=r"-24\.\.23"):
        decode_identifier(item, "C_I")


def test_compact_int_bytes_are_exactly_the_one_byte_ints() -> None:
    compact = [b for b in range(256) if is_compact_int_byte(bytes([b]))]
    assert compact == list(range(0x18)) + list(range(0x20, 0x38))


def test_split_sequence_keeps_each_items_raw_bytes() -> None:
    data = b"\x03\x82\x06\x02\x43abc\xa1\x04\x41\x32"
    items = split_sequence(data)
    assert [item.raw for item in items] == [
        b"\x03",
        b"\x82\x06\x02",
        b"\x43abc",
        b"\xa1\x04\x41\x32",
    ]
    assert [item.value for item in items[:3]] == [3, [6, 2], b"abc"]


@pytest.mark.parametrize(
    "data",
    [b"\x5b\xff\xff\xff\xff\xff\xff\xff\xff", b"\x43ab", b"\xff", b"\x1c", b"\x7f\x61"],
)
def test_malformed_cbor_becomes_encoding_error(data: bytes) -> None:
    with pytest.raises(EncodingError):
        split_sequence(data)


def test_overlong_input_is_refused_before_decoding() -> None:
    with pytest.raises(EncodingError, match="too long"):
        split_sequence(b"\x00" * (MAX_MESSAGE_LENGTH + 1))


@pytest.mark.parametrize(
    "data",
    [b"\x18\x05", b"\xf5", b"\xc2\x41\x01", b"\xc2\x49\x01" + bytes(8), b"\x40", b"\xf9\x3c\x00"],
    ids=["non-shortest", "bool", "bignum", "big-bignum", "bstr", "float"],
)
def test_expect_int_accepts_only_deterministic_integers(data: bytes) -> None:
    (item,) = split_sequence(data)
    with pytest.raises(EncodingError):
        expect_int(item, "METHOD")


@pytest.mark.parametrize(
    "data", [b"\x5f\x41\x01\xff", b"\x58\x01\x01", b"\x61a"], ids=["chunked", "wide", "tstr"]
)
def test_expect_bstr_accepts_only_deterministic_byte_strings(data: bytes) -> None:
    (item,) = split_sequence(data)
    with pytest.raises(EncodingError):
        expect_bstr(item, "G_X")


def test_expect_map_rejects_unsorted_keys() -> None:
    (item,) = split_sequence(b"\xa2\x02\x00\x01\x00")
    with pytest.raises(EncodingError, match="deterministic"):
        expect_map(item, "ID_CRED")
