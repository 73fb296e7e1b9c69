"""Strict readers for the fields of MeterSeal's CBOR messages (RFC 8949).

Every message is a CBOR map with small unsigned integer keys. The readers here turn one
decoded CBOR item into one typed Python value, or raise
:class:`~meterseal.errors.EncodingError` naming the message and the field. Policy:

* a map must hold exactly the keys of its table: a missing key and an unknown key are both
  errors (no silent extension; a new field is a new message version);
* integers are exact ``int`` (not ``bool``, not ``float``) inside the field's range; CBOR
  bignums decode to ``int`` and are caught by the range check;
* text is checked against the field's pattern; enumerations must name a known member.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from enum import IntEnum
from typing import Any, Final, TypeVar

from meterseal.errors import EncodingError

E = TypeVar("E", bound=IntEnum)

MAX_U63: Final = (1 << 63) - 1
"""Largest counter or sequence number: every value must fit a signed 64-bit SQL column."""

MIN_S64: Final = -(1 << 63)
"""Smallest signed field value."""

MAX_UNIX_TIME: Final = 253_402_300_799
"""9999-12-31T23:59:59Z, the largest timestamp (integer Unix seconds, UTC) accepted."""

METER_ID_PATTERN: Final = re.compile(r"[A-Za-z0-9._:-]{1,64}")
"""A meter id: 1..64 ASCII letters, digits, ``.``, ``_``, ``:`` or ``-`` (it is also the kid)."""

LABEL_PATTERN: Final = re.compile(r"[\x20-\x7e]{1,32}")
"""A short printable-ASCII label such as a firmware version."""


def type_name(item: object) -> str:
    """The CBOR-ish name of a decoded item's type, for error messages."""
    return type(item).__name__


def expect_map(item: object, keys: Mapping[int, str], what: str) -> Mapping[Any, Any]:
    """Return ``item`` if it is a map holding exactly the keys of ``keys`` (key -> name)."""
    if not isinstance(item, Mapping):
        raise EncodingError(f"{what} must be a CBOR map, got {type_name(item)}")
    if item.keys() != keys.keys():
        raise EncodingError(f"{what}: {_key_difference(item, keys)}")
    return item


def _key_difference(item: Mapping[Any, Any], keys: Mapping[int, str]) -> str:
    missing = [f"{key} ({name})" for key, name in keys.items() if key not in item]
    unknown = [repr(key) for key in item if key not in keys]
    parts = []
    if missing:
        parts.append("missing key " + ", ".join(missing))
    if unknown:
        parts.append("unknown key " + ", ".join(unknown))
    return "; ".join(parts)


def expect_array(item: object, what: str, *, min_len: int = 0, max_len: int) -> Sequence[Any]:
    """Return ``item`` if it is a CBOR array (list or tuple) of ``min_len..max_len`` items."""
    if not isinstance(item, list | tuple):
        raise EncodingError(f"{what} must be a CBOR array, got {type_name(item)}")
    if not min_len <= len(item) <= max_len:
        raise EncodingError(f"{what} must hold {min_len}..{max_len} items, got {len(item)}")
    return item


def expect_int(item: object, what: str, low: int, high: int) -> int:
    """Return ``item`` if it is an integer with ``low <= item <= high``."""
    if type(item) is not int:
        raise EncodingError(f"{what} must be an integer, got {type_name(item)}")
    if not low <= item <= high:
        raise EncodingError(f"{what} must lie in {low}..{high}, got {item}")
    return item


def expect_uint(item: object, what: str, high: int = MAX_U63) -> int:
    """Return ``item`` if it is an unsigned integer no greater than ``high``."""
    return expect_int(item, what, 0, high)


def expect_time(item: object, what: str) -> int:
    """Return ``item`` if it is a timestamp: integer Unix seconds, 0..:data:`MAX_UNIX_TIME`."""
    return expect_int(item, what, 0, MAX_UNIX_TIME)


def expect_text(item: object, what: str, pattern: re.Pattern[str]) -> str:
    """Return ``item`` if it is a text string matching ``pattern`` in full."""
    if type(item) is not str:
        raise EncodingError(f"{what} must be a text string, got {type_name(item)}")
    if pattern.fullmatch(item) is None:
        raise EncodingError(f"{what} {item[:70]!r} does not match {pattern.pattern}")
    return item


def expect_bytes(item: object, what: str) -> bytes:
    """Return ``item`` if it is a byte string."""
    if type(item) is not bytes:
        raise EncodingError(f"{what} must be a byte string, got {type_name(item)}")
    return item


def expect_enum(enum: type[E], item: object, what: str) -> E:
    """Return the member of ``enum`` whose value is ``item``; unknown values are errors."""
    if type(item) is not int:
        raise EncodingError(f"{what} must be an integer code, got {type_name(item)}")
    try:
        return enum(item)
    except ValueError:
        raise EncodingError(f"{what}: {item} is not a known {enum.__name__}") from None
