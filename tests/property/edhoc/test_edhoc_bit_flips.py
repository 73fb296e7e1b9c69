"""A single flipped bit anywhere in message_1 to message_4 stops the handshake.

Some flips leave a well-formed message (another C_I, another EAD, another method or
G_X); then the handshake must still fail later, at a MAC, a signature, a decryption or a
transcript check. message_4 is on, so the Initiator completes only after the
Responder has: the handshake is complete exactly when the Initiator is.
"""

from __future__ import annotations

import os

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from meterseal.crypto.suites import SUITE_0, SUITE_2, CipherSuite
from meterseal.edhoc import (
    EadItem,
    Initiator,
    InitiatorConfig,
    InitiatorState,
    Method,
    Responder,
    ResponderConfig,
)
from meterseal.edhoc.testing import Tamper, lookup_from, make_identity, run_handshake
from meterseal.errors import MeterSealError

CASES = [
    pytest.param(SUITE_0, Method.SIGN_SIGN, id="suite-0-method-0"),
    pytest.param(SUITE_2, Method.STATIC_STATIC, id="suite-2-method-3"),
    pytest.param(SUITE_2, Method.SIGN_STATIC, id="suite-2-method-1"),
]


def flip(message: int, position: int) -> tuple[list[bool], Tamper]:
    """A tamper hook flipping bit ``position`` (modulo the length) of one message."""
    flipped = [False]

    def tamper(number: int, data: bytes) -> bytes:
        if number != message:
            return data
        bit = position % (len(data) * 8)
        flipped[0] = True
        return data[: bit // 8] + bytes([data[bit // 8] ^ (0x80 >> bit % 8)]) + data[bit // 8 + 1 :]

    return flipped, tamper


@pytest.mark.parametrize(("suite", "method"), CASES)
@settings(max_examples=250, deadline=None)
@given(message=st.integers(min_value=1, max_value=4), position=st.integers(min_value=0))
def test_flipped_bit_never_completes(
    suite: CipherSuite, method: Method, message: int, position: int
) -> None:
    identity_i = make_identity(suite, signs=method.initiator_signs, rng=os.urandom, kid=b"\x01")
    identity_r = make_identity(suite, signs=method.responder_signs, rng=os.urandom, kid=b"\x02")
    config = InitiatorConfig(identity_i, method, (suite,), expect_message_4=True)
    initiator = Initiator(config, os.urandom)
    flipped, tamper = flip(message, position)
    ead = (EadItem(9, b"meter 42"),)
    with pytest.raises(MeterSealError):
        run_handshake(
            initiator,
            lambda: Responder(ResponderConfig((suite,), send_message_4=True), os.urandom),
            responder_identity=lambda _: identity_r,
            lookup=lookup_from([identity_i.credential, identity_r.credential]),
            ead={1: ead, 2: ead, 3: ead, 4: ead},
            tamper=tamper,
        )
    assert flipped == [True]
    assert initiator.state is not InitiatorState.COMPLETED
