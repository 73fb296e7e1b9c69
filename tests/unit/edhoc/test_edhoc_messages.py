"""Message objects, EAD items and error messages (RFC 9528 sections 3.8, 5 and 6)."""

from __future__ import annotations

import pytest

from meterseal import cbor
from meterseal.edhoc import EadItem, IdCred, Method, connection_id
from meterseal.edhoc.ead import check_critical, decode_ead, encode_ead
from meterseal.edhoc.encoding import split_sequence
from meterseal.edhoc.messages import (
    ErrorMessage,
    Message1,
    Message2,
    Plaintext2,
    Plaintext3,
    decode_ciphertext,
    decode_plaintext_4,
    encode_ciphertext,
    is_error_message,
)
from meterseal.errors import EdhocError, EncodingError

G_X = bytes(range(32))


def test_message_1_round_trips_with_ead() -> None:
    ead = (EadItem(-5, b"\x01\x02"), EadItem(7))
    message = Message1(Method.STATIC_STATIC, (6, 2), G_X, b"\x37", ead)
    data = message.encode()
    assert data.startswith(b"\x03\x82\x06\x02\x58\x20")
    assert Message1.decode(data) == message
    assert message.selected_suite == 2


def test_single_suite_is_sent_as_an_int() -> None:
    assert Message1(Method.SIGN_SIGN, (0,), G_X, b"\x2d").encode()[:2] == b"\x00\x00"


@pytest.mark.parametrize(
    "data",
    [
        cbor.encode_sequence(3, 2, G_X),
        cbor.encode_sequence(4, 2, G_X, 0),
        cbor.encode_sequence(3, [2], G_X, 0),
        cbor.encode_sequence(3, [6, "2"], G_X, 0),
        cbor.encode_sequence(3, 2, "G_X", 0),
        cbor.encode_sequence(3, 2, G_X, 24),
        cbor.encode_sequence(3, 2, G_X, 0, "ead"),
        cbor.encode_sequence(3, 2, G_X, 0, 5, b"v", b"w"),
    ],
    ids=["short", "method", "one-suite-array", "suite-text", "gx", "ci", "ead-text", "ead-bstr"],
)
def test_malformed_message_1_is_encoding_error(data: bytes) -> None:
    with pytest.raises(EncodingError):
        Message1.decode(data)


def test_message_2_splits_at_the_public_key_length() -> None:
    message = Message2(G_X, b"ciphertext")
    assert Message2.decode(message.encode(), 32) == message


@pytest.mark.parametrize(
    "data", [cbor.encode(G_X), cbor.encode_sequence(G_X + b"c", 5), cbor.encode(7)]
)
def test_malformed_message_2_is_encoding_error(data: bytes) -> None:
    with pytest.raises(EncodingError):
        Message2.decode(data, 32)


def test_plaintext_2_round_trips_with_compact_kid_and_ead() -> None:
    plaintext = Plaintext2.build(b"\x27", IdCred.by_kid(b"\x32"), b"M" * 8, (EadItem(1, b"x"),))
    data = plaintext.encode()
    assert data.startswith(b"\x27\x32\x48")
    assert Plaintext2.decode(data) == plaintext


def test_plaintext_3_round_trips() -> None:
    plaintext = Plaintext3.build(IdCred.by_kid(b"\x2b"), b"M" * 8, ())
    assert Plaintext3.decode(plaintext.encode()) == plaintext


def test_ciphertext_messages_are_one_byte_string() -> None:
    assert decode_ciphertext(encode_ciphertext(b"abc"), "message_3") == b"abc"
    with pytest.raises(EncodingError):
        decode_ciphertext(cbor.encode_sequence(b"abc", b"d"), "message_3")


def test_plaintext_4_is_just_ead() -> None:
    assert decode_plaintext_4(b"") == ()
    assert decode_plaintext_4(encode_ead((EadItem(-3, b"v"),))) == (EadItem(-3, b"v"),)


def test_ead_padding_is_dropped_and_labels_without_value_parse() -> None:
    items = split_sequence(cbor.encode_sequence(0, b"\x00" * 4, 5, -6, b"v"))
    assert decode_ead(items, "EAD_1") == (EadItem(5), EadItem(-6, b"v"))


def test_negative_label_is_critical() -> None:
    assert EadItem(-1).critical
    assert not EadItem(1).critical


def test_unknown_critical_ead_aborts_and_known_or_non_critical_pass() -> None:
    with pytest.raises(EdhocError, match="critical"):
        check_critical((EadItem(-9),), frozenset({8}))
    check_critical((EadItem(-9), EadItem(4)), frozenset({9}))


@pytest.mark.parametrize(("value", "wire"), [(-24, b"\x37"), (23, b"\x17"), (b"\xaa", b"\xaa")])
def test_connection_id_from_int_or_bytes(value: int | bytes, wire: bytes) -> None:
    assert connection_id(value) == wire


def test_connection_id_int_out_of_range_is_refused() -> None:
    with pytest.raises(ValueError, match=r"-24\.\.23"):
        connection_id(24)


@pytest.mark.parametrize(
    ("code", "info", "suites_r"),
    [(1, "oops", ()), (2, 2, (2,)), (2, [0, 2], (0, 2)), (3, True, ()), (17, {"x": 1}, ())],
)
def test_error_messages_round_trip(code: int, info: object, suites_r: tuple[int, ...]) -> None:
    data = ErrorMessage(code, info).encode()
    items = split_sequence(data)
    assert is_error_message(items)
    error = ErrorMessage.from_items(items)
    assert (error.code, error.info, error.suites_r) == (code, info, suites_r)


@pytest.mark.parametrize(
    "data",
    [
        cbor.encode_sequence(0, "success"),
        cbor.encode_sequence(1, 5),
        cbor.encode_sequence(2, "2"),
        cbor.encode_sequence(2, [2]),
        cbor.encode_sequence(3, False),
        cbor.encode_sequence(1, "a", "b"),
    ],
    ids=["code-0", "text", "suites", "one-suite-array", "not-true", "three-items"],
)
def test_malformed_error_message_is_encoding_error(data: bytes) -> None:
    with pytest.raises(EncodingError):
        ErrorMessage.from_items(split_sequence(data))


def test_no_edhoc_message_looks_like_an_error() -> None:
    message_1 = Message1(Method.SIGN_SIGN, (0,), G_X, b"\x2d").encode()
    assert not is_error_message(split_sequence(message_1))
    assert not is_error_message(split_sequence(Message2(G_X, b"c").encode()))
