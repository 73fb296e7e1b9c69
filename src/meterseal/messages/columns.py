"""Columns of integers as RFC 8746 typed arrays, with delta coding for counters.

A *column* is one register across the readings of a batch. Storing registers column by
column as typed arrays makes a 96-reading batch both small and fast to parse: one byte
string per register instead of hundreds of CBOR integers, each of which would need a type
and range check. On the wire:

* a **gauge** column (voltage, current, power) is one typed array ``#6.<tag>(bstr)``;
* a **counter** column (energy and volume registers, and the interval index) is the
  two-item array ``[first, steps]``: the first value as a CBOR unsigned integer, then the
  n-1 differences between consecutive values as a typed array of *unsigned* integers.
  Counters never decrease, so a decreasing register cannot be encoded, and a decoded one
  cannot exist.

Typed arrays (RFC 8746 section 2.1): MeterSeal writes the little-endian forms only, with the
smallest element width that holds every value of the column; decoders accept any of these
widths and nothing else (no big-endian, no clamped, no float arrays).

=====  ==============  =====  ==============
tag    element         tag    element
=====  ==============  =====  ==============
64     uint8           72     sint8
69     uint16 LE       77     sint16 LE
70     uint32 LE       78     sint32 LE
71     uint64 LE       79     sint64 LE
=====  ==============  =====  ==============
"""

from __future__ import annotations

import sys
from array import array
from collections.abc import Sequence
from itertools import accumulate
from operator import sub

from meterseal import cbor
from meterseal.errors import EncodingError
from meterseal.messages.fields import expect_array, expect_uint, type_name

_UNSIGNED_TAGS = {64: 1, 69: 2, 70: 4, 71: 8}
_SIGNED_TAGS = {72: 1, 77: 2, 78: 4, 79: 8}
_BIG_ENDIAN_HOST = sys.byteorder == "big"


def _typecode(size: int, signed: bool) -> str:
    """The :mod:`array` typecode of a ``size``-byte integer on this platform."""
    return next(c for c in ("bhilq" if signed else "BHILQ") if array(c).itemsize == size)


_TYPECODES = {tag: _typecode(size, False) for tag, size in _UNSIGNED_TAGS.items()} | {
    tag: _typecode(size, True) for tag, size in _SIGNED_TAGS.items()
}
_UNSIGNED_CODES = {tag: _TYPECODES[tag] for tag in _UNSIGNED_TAGS}


def _element_range(code: str) -> tuple[int, int]:
    """The values an element of :mod:`array` typecode ``code`` can hold."""
    bits = 8 * array(code).itemsize
    if code.islower():
        return -(1 << bits - 1), (1 << bits - 1) - 1
    return 0, (1 << bits) - 1


_ELEMENT_RANGES = {code: _element_range(code) for code in _TYPECODES.values()}
"""A column whose element type cannot leave the column's range needs no range check."""


def decode_typed(item: object, what: str, *, signed: bool) -> array[int]:
    """Parse one typed array; ``signed`` also admits the signed element types."""
    if type(item) is not cbor.CBORTag:
        raise EncodingError(f"{what} must be a typed array (RFC 8746), got {type_name(item)}")
    code = (_TYPECODES if signed else _UNSIGNED_CODES).get(item.tag)
    if code is None:
        kind = "integer" if signed else "unsigned integer"
        raise EncodingError(f"{what}: tag {item.tag} is not a little-endian {kind} array")
    value = item.value
    if type(value) is not bytes:
        raise EncodingError(f"{what}: a typed array holds a byte string, got {type_name(value)}")
    column = array(code)
    if len(value) % column.itemsize:
        raise EncodingError(f"{what}: {len(value)} bytes is not a whole number of elements")
    column.frombytes(value)
    if _BIG_ENDIAN_HOST:  # pragma: no cover - the wire is little-endian
        column.byteswap()
    return column


def _smallest_tag(low: int, high: int) -> int:
    """The tag of the narrowest element type holding every value in ``low..high``."""
    if low >= 0:
        bits = high.bit_length()
        return next(tag for tag, size in _UNSIGNED_TAGS.items() if bits <= 8 * size)
    bits = max(high, -low - 1).bit_length() + 1
    return next(tag for tag, size in _SIGNED_TAGS.items() if bits <= 8 * size)


def encode_typed(values: Sequence[int], what: str, low: int, high: int) -> cbor.CBORTag:
    """Write ``values`` (each in ``low..high``, which must fit 64 bits) as a typed array."""
    low_seen, high_seen = (min(values), max(values)) if values else (0, 0)
    if type(low_seen) is not int or type(high_seen) is not int:
        raise EncodingError(f"{what} must hold integers")
    if low_seen < low or high_seen > high:
        raise EncodingError(f"{what} must lie in {low}..{high}, got {low_seen}..{high_seen}")
    tag = _smallest_tag(low_seen, high_seen)
    try:
        column = array(_TYPECODES[tag], values)
    except (TypeError, OverflowError) as exc:
        raise EncodingError(f"{what} must hold integers: {exc}") from exc
    if _BIG_ENDIAN_HOST:  # pragma: no cover - the wire is little-endian
        column.byteswap()
    return cbor.CBORTag(tag, column.tobytes())


def decode_gauge(item: object, what: str, low: int, high: int) -> tuple[int, ...]:
    """Parse a gauge column whose values must lie in ``low..high``."""
    column = decode_typed(item, what, signed=low < 0)
    element_low, element_high = _ELEMENT_RANGES[column.typecode]
    fits = low <= element_low and element_high <= high
    if not fits and column and (min(column) < low or max(column) > high):
        raise EncodingError(f"{what} must lie in {low}..{high}")
    return tuple(column)


def decode_counter(item: object, what: str, *, min_step: int, high: int) -> tuple[int, ...]:
    """Parse ``[first, steps]``: a column that grows by at least ``min_step`` per value."""
    first, steps = expect_array(item, what, min_len=2, max_len=2)
    start = expect_uint(first, f"{what} first value", high)
    deltas = decode_typed(steps, f"{what} steps", signed=False)
    if min_step and deltas and min(deltas) < min_step:
        raise EncodingError(f"{what} must increase by at least {min_step} per reading")
    values = tuple(accumulate(deltas, initial=start))
    if values[-1] > high:
        raise EncodingError(f"{what} exceeds {high}")
    return values


def encode_counter(values: Sequence[int], what: str, *, min_step: int, high: int) -> list[object]:
    """Write a non-empty column that grows by at least ``min_step`` as ``[first, steps]``."""
    if not values:
        raise EncodingError(f"{what} must hold at least one value")
    start = expect_uint(values[0], f"{what} first value", high)
    expect_uint(values[-1], f"{what} last value", high)
    steps = list(map(sub, values[1:], values[:-1]))
    if steps and min(steps) < min_step:
        raise EncodingError(f"{what} must increase by at least {min_step} per reading")
    return [start, encode_typed(steps, f"{what} steps", 0, high)]
