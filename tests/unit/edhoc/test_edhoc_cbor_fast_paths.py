"""The hand-written CBOR encoders and the direct splitting of EDHOC messages, against cbor2.

``meterseal.cbor`` encodes ints, byte strings and text strings itself, and
``split_sequence`` splits leading ints and byte strings itself: both must give exactly
what ``cbor2`` gives (deterministic encoding, RFC 8949 section 4.2.1), and refuse exactly
what it refuses, for any input.
"""

from __future__ import annotations

from io import BytesIO
from typing import Any

import cbor2
import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from meterseal import cbor
from meterseal.edhoc.encoding import split_sequence
from meterseal.errors import EncodingError

UINT64_LIMIT = 1 << 64

ints = st.one_of(
    st.integers(-300, 300),
    st.integers(-(1 << 70), 1 << 70),
    st.sampled_from(
        [
            b * sign + delta
            for b in (23, 24, 255, 256, 65535, 65536, 2**32 - 1, 2**32, 2**64 - 1, 2**64)
            for sign in (1, -1)
            for delta in (-1, 0, 1)
        ]
    ),
)
byte_strings = st.one_of(st.binary(max_size=40), st.binary(min_size=250, max_size=300))
lengths = st.sampled_from([0, 1, 23, 24, 255, 256, 65535, 65536, 70000])


def reference(value: Any) -> bytes:
    """What the hand-written encoders must reproduce byte for byte."""
    encoded: bytes = cbor2.dumps(value, canonical=True)
    return encoded


@given(ints)
def test_encode_int_is_cbor2_canonical(value: int) -> None:
    assert cbor.encode_int(value) == reference(value)
    assert cbor.encode(value) == reference(value)


@given(byte_strings)
def test_encode_bstr_is_cbor2_canonical(value: bytes) -> None:
    assert cbor.encode_bstr(value) == reference(value)
    assert cbor.encode(value) == reference(value)


@given(lengths)
def test_long_byte_strings_get_the_shortest_head(length: int) -> None:
    value = bytes(length)
    assert cbor.encode_bstr(value) == reference(value)


@given(st.text(max_size=40))
def test_encode_tstr_is_cbor2_canonical(value: str) -> None:
    assert cbor.encode_tstr(value) == reference(value)
    assert cbor.encode(value) == reference(value)


@given(st.integers(0, 7), st.integers(0, UINT64_LIMIT - 1))
def test_encode_head_takes_the_shortest_form(major: int, argument: int) -> None:
    unsigned = reference(argument)  # major type 0: the same head, another type
    assert cbor.encode_head(major, argument) == bytes([major << 5 | unsigned[0]]) + unsigned[1:]


def test_encode_head_refuses_arguments_beyond_64_bits() -> None:
    with pytest.raises(ValueError, match="64 bits"):
        cbor.encode_head(cbor.MAJOR_BSTR, UINT64_LIMIT)


values = st.recursive(
    st.one_of(st.none(), st.booleans(), ints, byte_strings, st.text(max_size=10)),
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(st.integers(-30, 30), inner, max_size=3)
    ),
    max_leaves=8,
)


@given(st.lists(values, max_size=5))
def test_encode_and_encode_sequence_match_cbor2_for_any_value(items: list[Any]) -> None:
    assert [cbor.encode(item) for item in items] == [reference(item) for item in items]
    assert cbor.encode_sequence(*items) == b"".join(reference(item) for item in items)


# --- splitting sequences --------------------------------------------------------------


Found = list[tuple[type, str, bytes]] | str
"""The items of a split, each as (type, repr of the value, raw), or "refused" on
EncodingError (the repr, so that a NaN found by both compares equal)."""


def split_found(data: bytes) -> Found:
    """What ``split_sequence`` finds."""
    try:
        return [(type(item.value), repr(item.value), item.raw) for item in split_sequence(data)]
    except EncodingError:
        return "refused"


def cbor2_found(data: bytes) -> Found:
    """What cbor2 alone finds, decoding item after item (the general path)."""
    stream = BytesIO(data)
    decoder = cbor2.CBORDecoder(stream)
    items: list[tuple[type, str, bytes]] = []
    try:
        while (start := stream.tell()) < len(data):
            value = decoder.decode()
            items.append((type(value), repr(value), data[start : stream.tell()]))
    except (cbor2.CBORDecodeError, ValueError, TypeError, OverflowError, RecursionError):
        return "refused"
    return items


def head(major: int, argument: int, width: int) -> bytes:
    """A head with the argument in ``width`` extra bytes (0: in the initial byte), which
    need not be the shortest form."""
    if width == 0:
        return bytes([major << 5 | argument])
    info = {1: 24, 2: 25, 4: 26, 8: 27}[width]
    return bytes([major << 5 | info]) + argument.to_bytes(width, "big")


@st.composite
def raw_items(draw: st.DrawFn) -> bytes:
    """One item as it might arrive: an int or a byte string with a head of any width
    (shortest or not), possibly cut short, or some other CBOR item, or garbage."""
    kind = draw(st.sampled_from(["int", "bstr", "other", "garbage"]))
    if kind == "other":
        return reference(draw(values))
    if kind == "garbage":
        return draw(st.binary(min_size=1, max_size=4))
    width = draw(st.sampled_from([0, 1, 2, 4, 8]))
    limit = 24 if width == 0 else 1 << (8 * width)
    if kind == "int":
        return head(draw(st.sampled_from([0, 1])), draw(st.integers(0, limit - 1)), width)
    body = draw(st.binary(max_size=30))
    length = len(body) if len(body) < limit else 0
    cut = draw(st.integers(0, len(body))) if draw(st.booleans()) else len(body)
    return head(2, length, width) + body[:length][:cut]


@given(st.lists(raw_items(), max_size=6))
@example([b"\x18\x05"])  # non-shortest int
@example([b"\x58\x01\x01"])  # non-shortest byte string
@example([b"\x43ab"])  # byte string cut short
@example([b"\x19\x00"])  # head cut short
@example([b"\x01", b"\x38"])  # one-byte argument missing
@example([b"\x1c" + bytes(16)])  # reserved additional information 28
@example([b"\x5f\x41\x01\xff"])  # indefinite-length byte string
@example([b"\x03", b"\x82\x06\x02", b"\x43abc"])  # an array between fast items
@example([b"\x01", b"\xf9\x7e\x00"])  # NaN after a fast item
def test_split_sequence_finds_what_cbor2_finds(parts: list[bytes]) -> None:
    data = b"".join(parts)
    assert split_found(data) == cbor2_found(data)


@given(st.binary(max_size=64))
def test_split_sequence_of_any_bytes_matches_cbor2(data: bytes) -> None:
    assert split_found(data) == cbor2_found(data)


def test_split_sequence_keeps_raw_bytes_of_fast_items() -> None:
    data = b"\x03\x02\x58\x20" + bytes(32) + b"\x37\x39\x01\x00\x59\x01\x00" + bytes(256)
    items = split_sequence(data)
    assert [item.value for item in items] == [3, 2, bytes(32), -24, -257, bytes(256)]
    assert b"".join(item.raw for item in items) == data
    assert [len(item.raw) for item in items] == [1, 1, 34, 1, 3, 259]


def test_split_sequence_of_a_bytearray_gives_bytes_values_as_cbor2_does() -> None:
    data = bytearray(b"\x41\x05\x01")
    items = split_sequence(data)  # type: ignore[arg-type]  # bytes-like input, on purpose
    assert [(type(item.value), item.value) for item in items] == [(bytes, b"\x05"), (int, 1)]
