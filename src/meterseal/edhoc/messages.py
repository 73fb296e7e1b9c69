"""EDHOC messages as typed, immutable objects (RFC 9528 sections 5.2-5.5 and 6).

Each ``decode`` parses wire bytes strictly into an object or raises
:class:`~meterseal.errors.EncodingError`; each ``encode`` gives the exact bytes. Nothing
past this module sees a raw CBOR value. Connection identifiers are plain ``bytes`` here
(see :func:`connection_id`); their wire form is RFC 9528 section 3.3.2's.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass

from meterseal import cbor
from meterseal.edhoc.ead import EadItem, decode_ead, ead_raw, encode_ead
from meterseal.edhoc.encoding import (
    Item,
    decode_identifier,
    encode_identifier,
    expect_bstr,
    expect_int,
    split_sequence,
)
from meterseal.edhoc.id_cred import IdCred
from meterseal.errors import EncodingError


class Method(enum.IntEnum):
    """Authentication methods (RFC 9528 section 3.2): initiator key, responder key."""

    SIGN_SIGN = 0
    SIGN_STATIC = 1
    STATIC_SIGN = 2
    STATIC_STATIC = 3

    @property
    def initiator_signs(self) -> bool:
        """True if the Initiator authenticates with a signature key."""
        return self in _INITIATOR_SIGNS

    @property
    def responder_signs(self) -> bool:
        """True if the Responder authenticates with a signature key."""
        return self in _RESPONDER_SIGNS


_INITIATOR_SIGNS = frozenset({Method.SIGN_SIGN, Method.SIGN_STATIC})
_RESPONDER_SIGNS = frozenset({Method.SIGN_SIGN, Method.STATIC_SIGN})
_METHODS = {method.value: method for method in Method}
"""Each method by its value."""


class ErrorCode(enum.IntEnum):
    """EDHOC error codes (RFC 9528 section 6, table 3)."""

    UNSPECIFIED = 1
    WRONG_SELECTED_SUITE = 2
    UNKNOWN_CREDENTIAL = 3


def connection_id(value: int | bytes) -> bytes:
    """C_I / C_R as bytes, from an int in -24..23 (its one-byte encoding) or bytes."""
    if isinstance(value, bytes):
        return value
    if not -24 <= value <= 23:
        raise ValueError("integer connection identifiers lie in -24..23")
    return cbor.encode(value)


def _single(items: Sequence[Item], what: str) -> Item:
    if len(items) != 1:
        raise EncodingError(f"{what} must be exactly one CBOR data item")
    return items[0]


def _suites(item: Item) -> tuple[int, ...]:
    if type(item.value) is int:
        return (expect_int(item, "SUITES_I"),)
    value = item.value
    if not (isinstance(value, list) and len(value) >= 2 and all(type(v) is int for v in value)):
        raise EncodingError("SUITES_I must be an int or an array of at least two ints")
    if cbor.encode(value) != item.raw:
        raise EncodingError("SUITES_I is not in deterministic encoding")
    return tuple(value)


def encode_suites(suites: Sequence[int]) -> object:
    """SUITES_I / SUITES_R: the single suite as an int, several as an array."""
    return suites[0] if len(suites) == 1 else list(suites)


@dataclass(frozen=True, slots=True)
class Message1:
    """message_1 (RFC 9528 section 5.2.1); the selected suite is the last of ``suites``."""

    method: Method
    suites: tuple[int, ...]
    g_x: bytes
    c_i: bytes
    ead: tuple[EadItem, ...] = ()

    @property
    def selected_suite(self) -> int:
        """The cipher suite the Initiator selected: the last one in SUITES_I."""
        return self.suites[-1]

    def encode(self) -> bytes:
        """The CBOR sequence (METHOD, SUITES_I, G_X, C_I, ? EAD_1)."""
        suites = cbor.encode(encode_suites(self.suites))
        head = cbor.encode_int(self.method.value) + suites + cbor.encode_bstr(self.g_x)
        return head + encode_identifier(self.c_i) + encode_ead(self.ead)

    @classmethod
    def decode(cls, data: bytes) -> Message1:
        """Parse message_1; an unknown method is an EncodingError."""
        return cls.from_items(split_sequence(data))

    @classmethod
    def from_items(cls, items: Sequence[Item]) -> Message1:
        """Parse message_1 from its already split CBOR items."""
        if len(items) < 4:
            raise EncodingError("message_1 has at least METHOD, SUITES_I, G_X and C_I")
        value = expect_int(items[0], "METHOD")
        method = _METHODS.get(value)
        if method is None:
            raise EncodingError(f"unknown EDHOC method {value}")
        return cls(
            method=method,
            suites=_suites(items[1]),
            g_x=expect_bstr(items[2], "G_X"),
            c_i=decode_identifier(items[3], "C_I"),
            ead=decode_ead(items[4:], "EAD_1"),
        )


@dataclass(frozen=True, slots=True)
class Message2:
    """message_2 (RFC 9528 section 5.3.1): one byte string G_Y || CIPHERTEXT_2."""

    g_y: bytes
    ciphertext: bytes

    def encode(self) -> bytes:
        """The single byte string G_Y_CIPHERTEXT_2."""
        return cbor.encode_bstr(self.g_y + self.ciphertext)

    @classmethod
    def decode(cls, data: bytes, g_y_length: int) -> Message2:
        """Split message_2 at the suite's public key length."""
        return cls.from_items(split_sequence(data), g_y_length)

    @classmethod
    def from_items(cls, items: Sequence[Item], g_y_length: int) -> Message2:
        """Parse message_2 from its already split CBOR items."""
        body = expect_bstr(_single(items, "message_2"), "G_Y_CIPHERTEXT_2")
        if len(body) <= g_y_length:
            raise EncodingError("message_2 is too short for G_Y and CIPHERTEXT_2")
        return cls(body[:g_y_length], body[g_y_length:])


@dataclass(frozen=True, slots=True)
class Plaintext2:
    """PLAINTEXT_2 = (C_R, ID_CRED_R, Signature_or_MAC_2, ? EAD_2) (section 5.3.2)."""

    c_r: bytes
    id_cred: IdCred
    signature_or_mac: bytes
    ead: tuple[EadItem, ...] = ()
    ead_raw: bytes = b""

    def encode(self) -> bytes:
        """The CBOR sequence as encrypted into CIPHERTEXT_2."""
        head = encode_identifier(self.c_r) + self.id_cred.plaintext_item()
        return head + cbor.encode_bstr(self.signature_or_mac) + self.ead_raw

    @classmethod
    def build(
        cls, c_r: bytes, id_cred: IdCred, signature_or_mac: bytes, ead: tuple[EadItem, ...]
    ) -> Plaintext2:
        """Assemble PLAINTEXT_2 to send."""
        return cls(c_r, id_cred, signature_or_mac, ead, encode_ead(ead))

    @classmethod
    def decode(cls, data: bytes) -> Plaintext2:
        """Parse decrypted PLAINTEXT_2."""
        items = split_sequence(data)
        if len(items) < 3:
            raise EncodingError("PLAINTEXT_2 has at least C_R, ID_CRED_R and MAC or signature")
        return cls(
            c_r=decode_identifier(items[0], "C_R"),
            id_cred=IdCred.decode(items[1]),
            signature_or_mac=expect_bstr(items[2], "Signature_or_MAC_2"),
            ead=decode_ead(items[3:], "EAD_2"),
            ead_raw=ead_raw(items[3:]),
        )


@dataclass(frozen=True, slots=True)
class Plaintext3:
    """PLAINTEXT_3 = (ID_CRED_I, Signature_or_MAC_3, ? EAD_3) (section 5.4.2)."""

    id_cred: IdCred
    signature_or_mac: bytes
    ead: tuple[EadItem, ...] = ()
    ead_raw: bytes = b""

    def encode(self) -> bytes:
        """The CBOR sequence as encrypted into CIPHERTEXT_3."""
        proof = cbor.encode_bstr(self.signature_or_mac)
        return self.id_cred.plaintext_item() + proof + self.ead_raw

    @classmethod
    def build(
        cls, id_cred: IdCred, signature_or_mac: bytes, ead: tuple[EadItem, ...]
    ) -> Plaintext3:
        """Assemble PLAINTEXT_3 to send."""
        return cls(id_cred, signature_or_mac, ead, encode_ead(ead))

    @classmethod
    def decode(cls, data: bytes) -> Plaintext3:
        """Parse decrypted PLAINTEXT_3."""
        items = split_sequence(data)
        if len(items) < 2:
            raise EncodingError("PLAINTEXT_3 has at least ID_CRED_I and MAC or signature")
        return cls(
            id_cred=IdCred.decode(items[0]),
            signature_or_mac=expect_bstr(items[1], "Signature_or_MAC_3"),
            ead=decode_ead(items[2:], "EAD_3"),
            ead_raw=ead_raw(items[2:]),
        )


def decode_plaintext_4(data: bytes) -> tuple[EadItem, ...]:
    """PLAINTEXT_4 = ? EAD_4 (RFC 9528 section 5.5.2)."""
    return decode_ead(split_sequence(data), "EAD_4")


def encode_ciphertext(ciphertext: bytes) -> bytes:
    """message_3 / message_4: CIPHERTEXT_3 / CIPHERTEXT_4 as one byte string."""
    return cbor.encode_bstr(ciphertext)


def decode_ciphertext(data: bytes, what: str) -> bytes:
    """Parse message_3 / message_4 into its ciphertext."""
    return ciphertext_from_items(split_sequence(data), what)


def ciphertext_from_items(items: Sequence[Item], what: str) -> bytes:
    """Parse message_3 / message_4 from its already split CBOR items."""
    return expect_bstr(_single(items, what), f"CIPHERTEXT of {what}")


@dataclass(frozen=True, slots=True)
class ErrorMessage:
    """An EDHOC error message (ERR_CODE, ERR_INFO) (RFC 9528 section 6)."""

    code: int
    info: object

    def encode(self) -> bytes:
        """The CBOR sequence (ERR_CODE, ERR_INFO)."""
        return cbor.encode_sequence(self.code, self.info)

    @property
    def suites_r(self) -> tuple[int, ...]:
        """SUITES_R of an ERR_CODE 2 message (empty for other codes)."""
        if self.code != ErrorCode.WRONG_SELECTED_SUITE:
            return ()
        info = self.info
        if isinstance(info, int):
            return (info,)
        return tuple(info) if isinstance(info, list) else ()

    @classmethod
    def from_items(cls, items: Sequence[Item]) -> ErrorMessage:
        """Parse an error message from its CBOR items, checking ERR_INFO's type."""
        if len(items) != 2:
            raise EncodingError("an EDHOC error message is (ERR_CODE, ERR_INFO)")
        code = expect_int(items[0], "ERR_CODE")
        _check_err_info(code, items[1])
        return cls(code, items[1].value)


def _check_err_info(code: int, item: Item) -> None:
    if code == 0:
        raise EncodingError("ERR_CODE 0 (success) is not an error message")
    if code == ErrorCode.UNSPECIFIED and type(item.value) is not str:
        raise EncodingError("ERR_INFO of ERR_CODE 1 must be a text string")
    if code == ErrorCode.WRONG_SELECTED_SUITE:
        _suites(item)
    if code == ErrorCode.UNKNOWN_CREDENTIAL and item.value is not True:
        raise EncodingError("ERR_INFO of ERR_CODE 3 must be true")


def is_error_message(items: Sequence[Item]) -> bool:
    """True if the items have an error message's shape: an int and one more item.

    No EDHOC message has that shape (message_1 has four or more items, messages 2-4
    are one byte string), so the test needs no protocol state (RFC 9528 section 6).
    """
    return len(items) == 2 and type(items[0].value) is int
