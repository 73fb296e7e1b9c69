"""The cipher suite registry and each suite's COSE values (docs/protocol.md section 3)."""

from __future__ import annotations

import os

import pytest

from meterseal.crypto.suites import (
    SUITE_0,
    SUITE_2,
    SUITE_GMT,
    CipherSuite,
    get_suite,
    supported_suites,
)
from meterseal.errors import UnsupportedAlgorithmError


def test_registered_suites_carry_the_rfc9528_and_private_use_values() -> None:
    assert SUITE_0.cose_array() == [10, -16, 8, 4, -8, 10, -16]
    assert SUITE_2.cose_array() == [10, -16, 8, 1, -7, 10, -16]
    assert SUITE_GMT.cose_array() == [-65539, -65538, 16, -65537, -65537, -65539, -65538]
    assert [s.value for s in supported_suites()] == [2, -24, 0]


def test_lookup_by_value_and_refusal_of_unknown_values() -> None:
    assert get_suite(-24) is SUITE_GMT
    for unknown in (1, 3, 6, -23):
        with pytest.raises(UnsupportedAlgorithmError):
            get_suite(unknown)


@pytest.mark.parametrize("suite", supported_suites(), ids=lambda s: str(s.value))
def test_every_suite_agrees_signs_and_seals(suite: CipherSuite) -> None:
    s = suite
    a, b = s.dh.generate(os.urandom), s.dh.generate(os.urandom)
    assert a.exchange(b.public_key) == b.exchange(a.public_key)
    if len(a.public_point) == 65:  # EC2: the point's x is the key EDHOC sends
        assert a.public_point[0] == 4
        assert a.public_point[1:33] == a.public_key
    else:
        assert a.public_point == a.public_key
    signer = s.signature.generate(os.urandom)
    s.signature.verify(signer.public_key, b"m", signer.sign(b"m"))
    key = s.record_aead.key(bytes(s.record_aead.key_length))
    nonce = bytes(s.record_aead.nonce_length)
    assert key.open(nonce, key.seal(nonce, b"p", b"a"), b"a") == b"p"
    assert len(s.edhoc_hash.digest(b"")) == s.edhoc_hash.digest_size
