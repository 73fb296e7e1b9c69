"""Random bytes as any EDHOC message raise nothing but MeterSealError subclasses.

Each receiving point of a real handshake gets arbitrary bytes, arbitrary CBOR
sequences, and (for message_2) a valid G_Y followed by random ciphertext, which decrypts
to random PLAINTEXT_2 and so reaches the deepest parsers. The parsers are also fed
directly. Hypothesis fails the test on any other exception type.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from meterseal import cbor
from meterseal.crypto.suites import SUITE_0, SUITE_2
from meterseal.edhoc import (
    Credential,
    IdCred,
    Initiator,
    InitiatorConfig,
    InitiatorState,
    Method,
    Responder,
    ResponderConfig,
    ResponderState,
)
from meterseal.edhoc.encoding import split_sequence
from meterseal.edhoc.messages import (
    ErrorMessage,
    Message1,
    Plaintext2,
    Plaintext3,
    decode_plaintext_4,
)
from meterseal.edhoc.testing import make_identity
from meterseal.errors import MeterSealError

SETTINGS = settings(max_examples=200, deadline=None)

cbor_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**64), max_value=2**64)
    | st.binary(max_size=40)
    | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.integers(-40, 40), inner, max_size=3)
    ),
    max_leaves=12,
)
cbor_sequences = st.lists(cbor_values, max_size=6).map(lambda items: cbor.encode_sequence(*items))
wire = st.binary(max_size=200) | cbor_sequences


class Handshake:
    """A method 3 handshake on suite 2 (or method 0 on suite 0), stepped on demand."""

    def __init__(self, signs: bool) -> None:
        suite, method = (SUITE_0, Method.SIGN_SIGN) if signs else (SUITE_2, Method.STATIC_STATIC)
        self.identity_i = make_identity(suite, signs=signs, rng=os.urandom, kid=b"\x01")
        self.identity_r = make_identity(suite, signs=signs, rng=os.urandom, kid=b"\x02")
        config = InitiatorConfig(self.identity_i, method, (suite,), expect_message_4=True)
        self.initiator = Initiator(config, os.urandom)
        self.responder = Responder(ResponderConfig((suite,), send_message_4=True), os.urandom)
        self.suite = suite

    def wait_message_2(self) -> Initiator:
        self.responder.receive(self.initiator.start(b"\x0e"))
        return self.initiator

    def wait_message_3(self) -> Responder:
        self.wait_message_2().receive(self.responder.send_message_2(self.identity_r, b"\x18"))
        return self.responder

    def wait_message_4(self) -> Initiator:
        self.wait_message_3()
        self.initiator.provide_credential(self.identity_r.credential)
        self.responder.receive(self.initiator.send_message_3())
        self.responder.provide_credential(self.identity_i.credential)
        return self.initiator


def feed(party: Initiator | Responder, data: bytes) -> None:
    try:
        party.receive(data)
    except MeterSealError:
        assert party.state in (InitiatorState.FAILED, ResponderState.FAILED)


@SETTINGS
@given(data=wire)
def test_random_message_1(data: bytes) -> None:
    feed(Handshake(signs=False).responder, data)


@pytest.mark.parametrize("signs", [False, True])
@SETTINGS
@given(data=wire)
def test_random_message_2(signs: bool, data: bytes) -> None:
    feed(Handshake(signs).wait_message_2(), data)


@pytest.mark.parametrize("signs", [False, True])
@SETTINGS
@given(ciphertext=st.binary(min_size=1, max_size=120))
def test_valid_g_y_with_random_ciphertext_2(signs: bool, ciphertext: bytes) -> None:
    handshake = Handshake(signs)
    g_y = handshake.suite.dh.generate(os.urandom).public_key
    feed(handshake.wait_message_2(), cbor.encode(g_y + ciphertext))


@SETTINGS
@given(data=wire)
def test_random_message_3(data: bytes) -> None:
    feed(Handshake(signs=False).wait_message_3(), data)


@SETTINGS
@given(data=wire)
def test_random_message_4(data: bytes) -> None:
    feed(Handshake(signs=False).wait_message_4(), data)


PARSERS: dict[str, Callable[[bytes], Any]] = {
    "message_1": Message1.decode,
    "plaintext_2": Plaintext2.decode,
    "plaintext_3": Plaintext3.decode,
    "plaintext_4": decode_plaintext_4,
    "error": lambda data: ErrorMessage.from_items(split_sequence(data)),
    "id_cred": lambda data: [IdCred.decode(item) for item in split_sequence(data)],
    "ccs": Credential.from_ccs,
    "x509": Credential.from_x509,
}


@pytest.mark.parametrize("parser", sorted(PARSERS))
@settings(max_examples=100, deadline=None)
@given(data=wire)
def test_parsers_raise_only_meterseal_errors(parser: str, data: bytes) -> None:
    with contextlib.suppress(MeterSealError):
        PARSERS[parser](data)
