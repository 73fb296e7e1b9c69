"""Strict CBOR decoding at the edge (RFC 8949), and CBOR sequences (RFC 8742).

Every wire structure in MeterSeal is CBOR. Decoding errors of any kind from the library
become one :class:`~meterseal.errors.EncodingError`, so that nothing deeper ever sees a
library exception or a half-parsed value.

Integers, byte strings and text strings, the items protocol code builds most, are
encoded here directly (:func:`encode_int`, :func:`encode_bstr`, :func:`encode_tstr`) in
the deterministic form of RFC 8949 section 4.2.1: the shortest head, definite lengths.
That is the form ``cbor2`` gives with ``canonical=True``, at a fraction of the cost of a
call into the library; everything else goes to ``cbor2``.
"""

from __future__ import annotations

from io import BytesIO
from typing import Any

import cbor2

from meterseal.errors import EncodingError

_MAX_DEPTH_BYTES = 1 << 20

CBORTag = cbor2.CBORTag
"""A tagged data item (RFC 8949 section 3.4), as the decoder returns unknown tags."""

MAJOR_UINT, MAJOR_NINT, MAJOR_BSTR, MAJOR_TSTR, MAJOR_ARRAY = 0, 1, 2, 3, 4
"""Major types (RFC 8949 section 3.1) the direct encoders write."""

_UINT64_LIMIT = 1 << 64

_ONE_BYTE_HEADS = tuple(
    tuple(bytes([major << 5 | argument]) for argument in range(24)) for major in range(8)
)
"""Per major type, the one-byte heads of arguments 0..23."""


def encode_head(major: int, argument: int) -> bytes:
    """The head of a data item: major type and argument in the shortest form (RFC 8949
    sections 3 and 4.2.1). ``argument`` must lie in 0 .. 2**64 - 1."""
    if argument < 24:
        return _ONE_BYTE_HEADS[major][argument]
    if argument < 0x100:
        return bytes((major << 5 | 24, argument))
    if argument < 0x10000:
        return bytes((major << 5 | 25, argument >> 8, argument & 0xFF))
    if argument < 0x100000000:
        return bytes((major << 5 | 26,)) + argument.to_bytes(4, "big")
    if argument < _UINT64_LIMIT:
        return bytes((major << 5 | 27,)) + argument.to_bytes(8, "big")
    raise ValueError(f"CBOR head argument {argument} does not fit in 64 bits")


_TABLE_SIZE = 0x100
_UINT_ENCODINGS = tuple(encode_head(MAJOR_UINT, value) for value in range(_TABLE_SIZE))
"""The encodings of the integers 0..255 (labels, lengths, methods)."""
_BSTR_HEADS = tuple(encode_head(MAJOR_BSTR, length) for length in range(_TABLE_SIZE))
"""The heads of byte strings of 0..255 bytes (keys, hashes, MACs, credentials)."""


def encode_int(value: int) -> bytes:
    """Encode an integer: major type 0 or 1, or a bignum (tag 2 or 3) beyond 64 bits."""
    if 0 <= value < _TABLE_SIZE:
        return _UINT_ENCODINGS[value]
    if 0 <= value < _UINT64_LIMIT:
        return encode_head(MAJOR_UINT, value)
    if -_UINT64_LIMIT <= value < 0:
        return encode_head(MAJOR_NINT, -1 - value)
    return cbor2.dumps(value, canonical=True)


def encode_bstr(value: bytes) -> bytes:
    """Encode a byte string (major type 2, definite length)."""
    length = len(value)
    if length < _TABLE_SIZE:
        return _BSTR_HEADS[length] + value
    return encode_head(MAJOR_BSTR, length) + value


def encode_tstr(value: str) -> bytes:
    """Encode a text string (major type 3, definite length, UTF-8)."""
    utf8 = value.encode("utf-8")
    return encode_head(MAJOR_TSTR, len(utf8)) + utf8


def encode(value: Any) -> bytes:
    """Encode one data item (canonical form: shortest integers, definite lengths)."""
    kind = type(value)
    if kind is bytes:
        return encode_bstr(value)
    if kind is int:
        return encode_int(value)
    if kind is str:
        return encode_tstr(value)
    return cbor2.dumps(value, canonical=True)


def encode_sequence(*values: Any) -> bytes:
    """Encode a CBOR sequence: the items' encodings concatenated."""
    return b"".join([encode(value) for value in values])


def decode(data: bytes) -> Any:
    """Decode exactly one data item; trailing bytes are an error."""
    items = decode_sequence(data)
    if len(items) != 1:
        raise EncodingError(f"expected one CBOR data item, found {len(items)}")
    return items[0]


def decode_sequence(data: bytes) -> list[Any]:
    """Decode a CBOR sequence into its items (an empty input is an empty sequence)."""
    if len(data) > _MAX_DEPTH_BYTES:
        raise EncodingError("CBOR input larger than 1 MiB")
    stream = BytesIO(data)
    decoder = cbor2.CBORDecoder(stream)
    items: list[Any] = []
    try:
        while stream.tell() < len(data):
            items.append(decoder.decode())
    except (cbor2.CBORDecodeError, ValueError, TypeError, OverflowError, RecursionError) as exc:
        raise EncodingError(f"malformed CBOR: {exc}") from exc
    return items
