"""Properties of the application messages: exact round trips, and only MeterSeal errors."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from messages_strategies import batches, cbor_items, typed_array_like

from meterseal import cbor
from meterseal.crypto.suites import SUITE_0
from meterseal.errors import EncodingError, MeterSealError
from meterseal.messages import (
    CommandRejectedError,
    ReadingBatch,
    decode_app_message,
    decode_batch,
    decode_batch_ack,
    decode_command,
    decode_command_ack,
    encode_batch,
    open_batch,
    peek_batch_header,
    seal_batch,
    verify_command,
)
from meterseal.messages.columns import decode_counter, decode_gauge, encode_typed

ALG = SUITE_0.signature
KEY = ALG.generate(os.urandom)


def _open(data: bytes) -> object:
    return open_batch(data, ALG, KEY.public_key)


def _verify(data: bytes) -> object:
    return verify_command(data, ALG, KEY.public_key, meter_id="M", now=0, last_command_id=0)


DECODERS: dict[str, Callable[[bytes], object]] = {
    "batch": decode_batch,
    "app message": decode_app_message,
    "command": decode_command,
    "batch ack": decode_batch_ack,
    "command ack": decode_command_ack,
    "peek": peek_batch_header,
    "open": _open,
    "verify command": _verify,
}


def _only_meterseal_errors(decoder: Callable[[bytes], object], data: bytes) -> None:
    with contextlib.suppress(MeterSealError):
        decoder(data)


@given(batch=batches())
def test_any_valid_batch_round_trips_exactly(batch: ReadingBatch) -> None:
    assert decode_batch(encode_batch(batch)) == batch


@given(batch=batches(max_readings=8))
@settings(max_examples=30)
def test_any_valid_batch_seals_and_opens(batch: ReadingBatch) -> None:
    signed = seal_batch(batch, KEY, ALG)
    assert open_batch(signed, ALG, KEY.public_key) == batch
    assert peek_batch_header(signed) == (batch.meter_id, batch.batch_seq)


@pytest.mark.parametrize("name", sorted(DECODERS))
@given(data=st.binary(max_size=200))
def test_random_bytes_raise_only_meterseal_errors(name: str, data: bytes) -> None:
    _only_meterseal_errors(DECODERS[name], data)


@pytest.mark.parametrize("name", sorted(DECODERS))
@given(item=cbor_items)
def test_arbitrary_cbor_raises_only_meterseal_errors(name: str, item: Any) -> None:
    _only_meterseal_errors(DECODERS[name], cbor.encode(item))


def _paths(item: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """The path to every node below the root of a decoded CBOR tree."""
    if not isinstance(item, dict | list):
        return []
    children = item.items() if isinstance(item, dict) else enumerate(item)
    return [
        path for key, child in children for path in [(*prefix, key), *_paths(child, (*prefix, key))]
    ]


def _replace(tree: Any, path: tuple[Any, ...], item: Any) -> None:
    for key in path[:-1]:
        tree = tree[key]
    tree[path[-1]] = item


@given(batch=batches(max_readings=4), item=st.one_of(cbor_items, typed_array_like), data=st.data())
@settings(max_examples=300)
def test_arbitrary_cbor_anywhere_in_a_batch_raises_only_meterseal_errors(
    batch: ReadingBatch, item: Any, data: st.DataObject
) -> None:
    raw = cbor.decode(encode_batch(batch))
    path = data.draw(st.sampled_from(_paths(raw)), label="path")
    _replace(raw, path, item)
    _only_meterseal_errors(decode_batch, cbor.encode(raw))


@given(batch=batches(max_readings=10), data=st.data())
def test_corrupted_batch_bytes_raise_only_meterseal_errors(
    batch: ReadingBatch, data: st.DataObject
) -> None:
    encoded = bytearray(encode_batch(batch))
    position = data.draw(st.integers(0, len(encoded) - 1), label="position")
    encoded[position] = data.draw(st.integers(0, 255), label="byte")
    cut = data.draw(st.integers(1, len(encoded)), label="cut")
    _only_meterseal_errors(decode_batch, bytes(encoded[:cut]))


def test_verify_command_maps_garbage_to_a_reject_reason() -> None:
    with pytest.raises(CommandRejectedError):
        _verify(b"\xd2\x84")


@given(item=st.one_of(typed_array_like, cbor_items))
@settings(max_examples=300)
def test_column_decoders_return_ints_or_raise_encoding_errors(item: Any) -> None:
    received = cbor.decode(cbor.encode(item))
    decoders: list[Callable[[], tuple[int, ...]]] = [
        lambda: decode_gauge(received, "gauge", -(1 << 31), (1 << 31) - 1),
        lambda: decode_counter(received, "counter", min_step=1, high=0xFFFF),
        lambda: decode_counter([7, received], "counter", min_step=0, high=(1 << 63) - 1),
    ]
    for decode in decoders:
        try:
            values = decode()
        except EncodingError:
            continue
        assert all(type(value) is int for value in values)


@given(values=st.lists(st.integers(-(1 << 63), (1 << 63) - 1), max_size=20))
def test_any_integer_column_round_trips_as_a_typed_array(values: list[int]) -> None:
    low, high = -(1 << 63), (1 << 63) - 1
    encoded = cbor.decode(cbor.encode(encode_typed(values, "column", low, high)))
    assert decode_gauge(encoded, "column", low, high) == tuple(values)
