"""Every class of malformed batch is refused with an EncodingError naming the problem.

Each case edits one thing in the raw CBOR map of a valid batch (see messages_support), so
a case that slipped through would decode into a wrong batch rather than fail for some
other reason.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from messages_support import batch_map, volume_batch

from meterseal import cbor
from meterseal.errors import EncodingError
from meterseal.messages import decode_batch, encode_batch

Edit = Callable[[dict[Any, Any]], object]


def _set(path: tuple[Any, ...], value: object) -> Edit:
    def edit(raw: dict[Any, Any]) -> None:
        target = raw
        for key in path[:-1]:
            target = target[key]
        target[path[-1]] = value

    return edit


def _delete(key: int) -> Edit:
    return lambda raw: raw.pop(key)


def _typed(tag: int, value: object) -> cbor.CBORTag:
    return cbor.CBORTag(tag, value)


CASES: dict[str, tuple[Edit, str]] = {
    # wrong types
    "meter id not text": (_set((1,), 17), "meter_id must be a text string"),
    "batch seq text": (_set((2,), "7"), "batch_seq must be an integer"),
    "batch seq bool": (_set((2,), True), "batch_seq must be an integer"),
    "interval start float": (_set((4,), 1.7e9), "interval_start must be an integer"),
    "firmware bytes": (_set((6,), b"2.1"), "firmware must be a text string"),
    "readings array": (_set((7,), []), "readings must be a CBOR map"),
    "events map": (_set((8,), {}), "events must be a CBOR array"),
    "event not array": (_set((8, 0), 5), "MeterEvent must be a CBOR array"),
    "event short": (_set((8, 0), [1, 2]), "MeterEvent must hold 3..3 items"),
    "event time text": (_set((8, 0), [1, "now", 0]), "MeterEvent at must be an integer"),
    "column plain list": (_set((7, 3), [2300] * 96), "voltage_dv must be a typed array"),
    "counter not pair": (_set((7, 1), [1]), "energy_import_wh must hold 2..2 items"),
    "typed array of items": (_set((7, 3), _typed(64, [1, 2])), "holds a byte string"),
    # missing and unknown keys
    "missing meter id": (_delete(1), "missing key 1 [(]meter_id[)]"),
    "missing events": (_delete(8), "missing key 8 [(]events[)]"),
    "missing column": (lambda raw: raw[7].pop(4), "missing key 4 [(]current_ma[)]"),
    "unknown key": (_set((9,), 0), "unknown key 9"),
    "unknown text key": (_set(("x",), 0), "unknown key 'x'"),
    "volume column on electricity": (_set((7, 6), [0, _typed(64, b"")]), "unknown key 6"),
    # negative values
    "negative batch seq": (_set((2,), -1), "batch_seq must lie in"),
    "negative first register": (_set((7, 1, 0), -5), "first value must lie in"),
    "signed register steps": (
        _set((7, 1, 1), _typed(72, b"\xff" * 95)),
        "tag 72 is not a little-endian unsigned integer array",
    ),
    "negative voltage": (_set((7, 3), _typed(72, b"\xff" * 96)), "tag 72 is not"),
    "negative event time": (_set((8, 0), [1, -1, 0]), "MeterEvent at must lie in"),
    # huge values
    "bignum batch seq": (_set((2,), 1 << 64), "batch_seq must lie in"),
    "bignum first register": (_set((7, 1, 0), 1 << 70), "first value must lie in"),
    "register overflows int64": (
        _set((7, 1), [(1 << 63) - 2, _typed(64, b"\x02")]),
        "energy_import_wh exceeds",
    ),
    "voltage above uint16": (
        _set((7, 3), _typed(70, (70_000).to_bytes(4, "little") * 96)),
        "voltage_dv must lie in",
    ),
    "time after year 9999": (_set((4,), 1 << 40), "interval_start must lie in"),
    "interval over a day": (_set((5,), 86_401), "interval_seconds must lie in"),
    "event detail bignum": (_set((8, 0), [1, 0, 1 << 64]), "MeterEvent detail must lie in"),
    # unknown enumeration values
    "unknown meter type": (_set((3,), 9), "9 is not a known MeterType"),
    "unknown event kind": (_set((8, 0), [99, 0, 0]), "99 is not a known EventKind"),
    # typed arrays and column shape
    "big-endian array": (_set((7, 3), _typed(65, b"\x08\xfc" * 96)), "tag 65 is not"),
    "float array": (_set((7, 3), _typed(85, b"\x00" * 384)), "tag 85 is not"),
    "ragged array": (_set((7, 3), _typed(69, b"\x00" * 191)), "191 bytes is not a whole"),
    "short column": (_set((7, 3), _typed(69, b"\x00" * 190)), "columns differ in length"),
    "repeated index": (_set((7, 0), [0, _typed(64, b"\x00" * 95)]), "increase by at least 1"),
    "index too large": (_set((7, 0), [65_500, _typed(64, b"\x01" * 95)]), "index exceeds"),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_malformed_batch_is_refused(case: str) -> None:
    edit, message = CASES[case]
    raw = batch_map()
    edit(raw)
    with pytest.raises(EncodingError, match=message):
        decode_batch(cbor.encode(raw))


def test_volume_columns_are_required_for_water() -> None:
    raw = batch_map(volume_batch())
    raw[7][1] = raw[7].pop(6)
    with pytest.raises(EncodingError, match=r"missing key 6 \(volume_dl\); unknown key 1"):
        decode_batch(cbor.encode(raw))


def test_too_many_readings_are_refused() -> None:
    raw = batch_map(volume_batch())
    raw[7] = {0: [0, _typed(64, b"\x01" * 4096)], 6: [0, _typed(64, b"\x00" * 4096)]}
    with pytest.raises(EncodingError, match=r"1\.\.4096 readings, got 4097"):
        decode_batch(cbor.encode(raw))


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "expected one CBOR data item"),
        (b"\xa1\x01", "malformed CBOR"),
        (cbor.encode([1, 2]), "ReadingBatch must be a CBOR map"),
        (encode_batch(volume_batch()) + b"\x00", "expected one CBOR data item, found 2"),
    ],
)
def test_bytes_that_are_no_batch_are_refused(data: bytes, message: str) -> None:
    with pytest.raises(EncodingError, match=message):
        decode_batch(data)
