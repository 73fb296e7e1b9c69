"""The secure element's keys: generated inside, used through handles (DhKey, SigningKey)."""

from __future__ import annotations

import pytest
from se_support import LoggingRng, make_element, suite_params

from meterseal.crypto.interfaces import DhKey, SigningKey
from meterseal.crypto.suites import SUITE_0, SUITE_2, CipherSuite
from meterseal.errors import SecureElementError
from meterseal.meter import KeyKind


def _shared_secret(own: DhKey, peer_public_key: bytes) -> bytes:
    return own.exchange(peer_public_key)


def _signature(key: SigningKey, message: bytes) -> bytes:
    return key.sign(message)


@pytest.mark.parametrize("suite", suite_params())
def test_static_dh_identity_keys_agree(suite: CipherSuite) -> None:
    meter = make_element([suite], LoggingRng(b"meter"))
    headend = suite.dh.generate(LoggingRng(b"head-end"))
    key = meter.identity_dh_key(suite)
    suite.dh.validate_public_key(key.public_key)
    assert _shared_secret(key, headend.public_key) == headend.exchange(key.public_key)


@pytest.mark.parametrize("suite", suite_params())
def test_signature_identity_key_signs_verifiably(suite: CipherSuite) -> None:
    key = make_element([suite]).identity_signing_key(suite)
    suite.signature.verify(key.public_key, b"message 2", _signature(key, b"message 2"))


@pytest.mark.parametrize("suite", suite_params())
def test_data_key_signs_batches(suite: CipherSuite) -> None:
    element = make_element([suite])
    signature = element.sign_data(b"batch")
    suite.signature.verify(element.data_key.public_key, b"batch", signature)
    assert element.data_suite == suite.value


def test_every_key_is_distinct() -> None:
    element = make_element([SUITE_0, SUITE_2])
    publics = [
        element.identity_dh_key(SUITE_0).public_key,
        element.identity_dh_key(SUITE_2).public_key,
        element.identity_signing_key(SUITE_0).public_key,
        element.identity_signing_key(SUITE_2).public_key,
        element.data_key.public_key,
    ]
    assert len(set(publics)) == len(publics)
    assert element.suites == (0, 2)


def test_data_suite_chooses_the_data_key_algorithm() -> None:
    element = make_element([SUITE_2, SUITE_0], data_suite=SUITE_0)
    SUITE_0.signature.verify(element.data_key.public_key, b"m", element.sign_data(b"m"))


def test_only_requested_kinds_are_generated() -> None:
    element = make_element([SUITE_2], kinds=[KeyKind.STATIC_DH])
    assert len(element.identity_dh_key(SUITE_2).public_key) == 32
    with pytest.raises(SecureElementError, match="no signature key for suite 2"):
        element.identity_signing_key(SUITE_2)


def test_suite_not_enabled_has_no_identity_key() -> None:
    element = make_element([SUITE_2])
    with pytest.raises(SecureElementError, match="no static DH key for suite 0"):
        element.identity_dh_key(SUITE_0)


def test_element_needs_a_suite() -> None:
    with pytest.raises(SecureElementError, match="at least one"):
        make_element([])


def test_same_rng_gives_the_same_keys() -> None:
    first = make_element([SUITE_2], LoggingRng(b"seed"))
    second = make_element([SUITE_2], LoggingRng(b"seed"))
    assert first.data_key.public_key == second.data_key.public_key
