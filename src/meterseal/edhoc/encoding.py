"""Strict CBOR items for EDHOC: values together with the exact bytes they arrived as.

EDHOC hashes and MACs message parts exactly as they were sent (RFC 9528 section 5.1:
transcript hashes, context_2 and context_3 take the received encodings), so the parser
keeps each top-level item's raw bytes beside its decoded value. Every integer and byte
string must be in the deterministic encoding of RFC 8949 section 4.2 that RFC 9528
section 1.2 requires; anything else is an :class:`~meterseal.errors.EncodingError`.

Connection identifiers and compact ``kid`` values share one representation
(RFC 9528 section 3.3.2): a byte string of length one whose byte is the CBOR encoding of
an integer in -24..23 is sent as that integer; every other byte string is sent as a
CBOR byte string.
"""

from __future__ import annotations

from io import BytesIO
from typing import Any, NamedTuple

import cbor2

from meterseal import cbor
from meterseal.cbor import MAJOR_BSTR, MAJOR_UINT
from meterseal.errors import EncodingError

MAX_MESSAGE_LENGTH = 1 << 16
"""The longest EDHOC message MeterSeal parses (credentials by value fit easily)."""


class Item(NamedTuple):
    """One decoded CBOR data item and the bytes it was encoded as (immutable; a named
    tuple because every message makes several)."""

    value: Any
    raw: bytes


def split_sequence(data: bytes) -> list[Item]:
    """Decode a CBOR sequence (RFC 8742) into items that keep their raw encodings.

    Leading integers and byte strings, what EDHOC messages are made of, are split here
    directly; the first other item (a map, an array, a text string, a tag, anything
    malformed) and all that follows go to ``cbor2``. Either way the items are the same.
    """
    if len(data) > MAX_MESSAGE_LENGTH:
        raise EncodingError(f"EDHOC message of {len(data)} bytes is too long")
    items: list[Item] = []
    offset = _split_direct(data, items) if type(data) is bytes else 0
    if offset < len(data):
        _split_general(data, offset, items)
    return items


def _split_direct(data: bytes, items: list[Item]) -> int:
    """Append the leading ints and byte strings (RFC 8949 major types 0, 1 and 2, heads of
    any width) as ``cbor2`` would; return the offset of the first item left for
    :func:`_split_general`: any other item, or one cut short. Whether a head is in the
    deterministic form is for :func:`expect_int` and :func:`expect_bstr` to judge."""
    offset, end = 0, len(data)
    while offset < end:
        initial = data[offset]
        major, info = initial >> 5, initial & 0x1F
        if major > MAJOR_BSTR or info > 27:
            return offset
        if info < 24:
            argument, start = info, offset + 1
        elif info == 24 and offset + 1 < end:  # the common long head: one byte
            argument, start = data[offset + 1], offset + 2
        elif (start := offset + 1 + (1 << (info - 24))) <= end:
            argument = int.from_bytes(data[offset + 1 : start], "big")
        else:
            return offset
        if major != MAJOR_BSTR:
            value = argument if major == MAJOR_UINT else -1 - argument
            items.append(Item(value, data[offset:start]))
            offset = start
        elif (stop := start + argument) <= end:
            items.append(Item(data[start:stop], data[offset:stop]))
            offset = stop
        else:
            return offset
    return offset


def _split_general(data: bytes, offset: int, items: list[Item]) -> None:
    """Decode the items from ``offset`` on with ``cbor2``; any failure is EncodingError."""
    stream = BytesIO(data)
    stream.seek(offset)
    decoder = cbor2.CBORDecoder(stream)
    try:
        while (start := stream.tell()) < len(data):
            value = decoder.decode()
            items.append(Item(value, data[start : stream.tell()]))
    except (cbor2.CBORDecodeError, ValueError, TypeError, OverflowError, RecursionError) as exc:
        raise EncodingError(f"malformed CBOR: {exc}") from exc


def _deterministic(item: Item, what: str) -> None:
    if cbor.encode(item.value) != item.raw:
        raise EncodingError(f"{what} is not in deterministic CBOR encoding")


def _major_type(item: Item) -> int:
    return item.raw[0] >> 5


def expect_int(item: Item, what: str) -> int:
    """Return the item as an int (not a bool, not a bignum), or raise EncodingError."""
    if type(item.value) is not int or _major_type(item) > 1:
        raise EncodingError(f"{what} must be an integer")
    _deterministic(item, what)
    return item.value


def expect_bstr(item: Item, what: str) -> bytes:
    """Return the item as a byte string in definite-length encoding, or raise."""
    if type(item.value) is not bytes or _major_type(item) != 2:
        raise EncodingError(f"{what} must be a byte string")
    _deterministic(item, what)
    return item.value


def expect_map(item: Item, what: str) -> dict[Any, Any]:
    """Return the item as a map in deterministic encoding, or raise EncodingError."""
    if type(item.value) is not dict:
        raise EncodingError(f"{what} must be a map")
    _deterministic(item, what)
    return item.value


def is_compact_int_byte(value: bytes) -> bool:
    """True if ``value`` is one byte encoding a CBOR integer in -24..23."""
    return len(value) == 1 and (value[0] <= 0x17 or 0x20 <= value[0] <= 0x37)


def encode_identifier(value: bytes) -> bytes:
    """Encode a byte-string identifier in its wire form (RFC 9528 section 3.3.2)."""
    if is_compact_int_byte(value):
        return value
    return cbor.encode_bstr(value)


def decode_identifier(item: Item, what: str) -> bytes:
    """Decode a byte-string identifier sent as an int in -24..23 or as a byte string."""
    if type(item.value) is int:
        if not is_compact_int_byte(item.raw):
            raise EncodingError(f"{what} as an integer must lie in -24..23")
        return item.raw
    value = expect_bstr(item, what)
    if is_compact_int_byte(value):
        raise EncodingError(f"{what} of one byte must be sent as the integer it encodes")
    return value
