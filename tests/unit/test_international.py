"""X25519, P-256 ECDH, Ed25519 and ES256 through MeterSeal's key handles."""

from __future__ import annotations

import os
import random

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

from meterseal.crypto.interfaces import DhCurve, SignatureAlg
from meterseal.crypto.international import ED25519, ES256, P256, X25519, p256_public_from_point
from meterseal.errors import InvalidKeyError, SignatureError

CURVES: list[DhCurve] = [X25519, P256]
SIGNATURES: list[SignatureAlg] = [ED25519, ES256]


def _fixed_rng(seed: int) -> random.Random:
    return random.Random(seed)  # noqa: S311 - reproducible test keys, never used in service


@pytest.mark.parametrize("curve", CURVES, ids=["X25519", "P-256"])
def test_both_sides_of_an_exchange_agree(curve: DhCurve) -> None:
    alice, bob = curve.generate(os.urandom), curve.generate(os.urandom)
    shared = alice.exchange(bob.public_key)
    assert shared == bob.exchange(alice.public_key)
    assert len(shared) == 32
    assert len(alice.public_key) == curve.public_key_length


@pytest.mark.parametrize("curve", CURVES, ids=["X25519", "P-256"])
def test_generate_is_deterministic_for_a_fixed_rng(curve: DhCurve) -> None:
    first = curve.generate(_fixed_rng(7).randbytes).public_key
    assert first == curve.generate(_fixed_rng(7).randbytes).public_key
    assert first != curve.generate(_fixed_rng(8).randbytes).public_key


def test_p256_exchange_refuses_an_x_that_is_not_on_the_curve() -> None:
    key = P256.generate(os.urandom)
    not_on_curve = bytes(31) + b"\x01"  # x = 1: x^3 - 3x + b is not a square mod p
    with pytest.raises(InvalidKeyError):
        key.exchange(not_on_curve)
    with pytest.raises(InvalidKeyError):
        P256.validate_public_key(b"\x01" * 31)


def test_x25519_refuses_a_small_order_point() -> None:
    with pytest.raises(InvalidKeyError):
        X25519.generate(os.urandom).exchange(bytes(32))


@pytest.mark.parametrize("alg", SIGNATURES, ids=["Ed25519", "ES256"])
def test_signatures_verify_and_any_change_fails(alg: SignatureAlg) -> None:
    key = alg.generate(os.urandom)
    signature = key.sign(b"batch")
    assert len(signature) == alg.signature_length
    alg.verify(key.public_key, b"batch", signature)
    other = alg.generate(os.urandom).public_key
    tampered = bytes([signature[0] ^ 0x80]) + signature[1:]
    for public, message, sig in [
        (key.public_key, b"batcH", signature),
        (other, b"batch", signature),
        (key.public_key, b"batch", tampered),
        (key.public_key, b"batch", signature[:-1]),
    ]:
        with pytest.raises(SignatureError):
            alg.verify(public, message, sig)


def test_es256_signature_verifies_in_cryptography() -> None:
    key = ES256.generate(os.urandom)
    signature = key.sign(b"reading")
    der = encode_dss_signature(
        int.from_bytes(signature[:32], "big"), int.from_bytes(signature[32:], "big")
    )
    p256_public_from_point(key.public_key).verify(der, b"reading", ec.ECDSA(hashes.SHA256()))


def test_key_handles_expose_no_private_material() -> None:
    private = bytes(range(1, 33))
    for loader in (P256.from_private_bytes, X25519.from_private_bytes):
        handle = loader(private)
        public_names = [name for name in dir(handle) if not name.startswith("_")]
        assert sorted(public_names) == ["exchange", "public_key", "public_point"]
    for signer in (ED25519.from_private_bytes(private), ES256.from_private_bytes(private)):
        assert sorted(n for n in dir(signer) if not n.startswith("_")) == ["public_key", "sign"]
