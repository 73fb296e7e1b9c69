"""Strict CBOR decoding at the edge (RFC 8949), and CBOR sequences (RFC 8742).

Every wire structure in MeterSeal is CBOR. Decoding errors of any kind from the library
become one :class:`~meterseal.errors.EncodingError`, so that nothing deeper ever sees a
library exception or a half-parsed value.
"""

from __future__ import annotations

from io import BytesIO
from typing import Any

import cbor2

from meterseal.errors import EncodingError

_MAX_DEPTH_BYTES = 1 << 20

CBORTag = cbor2.CBORTag
"""A tagged data item (RFC 8949 section 3.4), as the decoder returns unknown tags."""


def encode(value: Any) -> bytes:
    """Encode one data item (canonical form: shortest integers, definite lengths)."""
    return cbor2.dumps(value, canonical=True)


def encode_sequence(*values: Any) -> bytes:
    """Encode a CBOR sequence: the items' encodings concatenated."""
    return b"".join(encode(value) for value in values)


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
