"""COSE_Sign1: round trip, external AAD, and every kind of tampering."""

from __future__ import annotations

import os

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

from meterseal import cbor
from meterseal.crypto.cose import decode_sign1, sign1, verify1
from meterseal.crypto.international import ED25519, ES256, p256_public_from_point
from meterseal.errors import EncodingError, SignatureError


def test_sign1_round_trip_returns_payload_and_kid() -> None:
    key = ES256.generate(os.urandom)
    data = sign1(key, ES256, b"batch", kid=b"meter-7", external_aad=b"ctx")
    message = verify1(data, ES256, key.public_key, external_aad=b"ctx")
    assert (message.payload, message.kid, message.alg) == (b"batch", b"meter-7", ES256.cose_alg)


def test_signature_covers_the_rfc9052_sig_structure() -> None:
    key = ES256.generate(os.urandom)
    message = decode_sign1(sign1(key, ES256, b"payload"))
    expected_tbs = cbor.encode(["Signature1", message.protected, b"", b"payload"])
    r, s = message.signature[:32], message.signature[32:]
    der = encode_dss_signature(int.from_bytes(r, "big"), int.from_bytes(s, "big"))
    p256_public_from_point(key.public_key).verify(der, expected_tbs, ec.ECDSA(hashes.SHA256()))


def test_tampering_with_any_part_is_detected() -> None:
    key = ED25519.generate(os.urandom)
    data = sign1(key, ED25519, b"reading 42 kWh")
    tag = cbor.decode(data)
    protected, unprotected, _payload, signature = tag.value
    forged_payload = cbor.encode(
        cbor.CBORTag(18, [protected, unprotected, b"reading 1 kWh", signature])
    )
    with pytest.raises(SignatureError):
        verify1(forged_payload, ED25519, key.public_key)
    with pytest.raises(SignatureError):
        verify1(data, ED25519, key.public_key, external_aad=b"other context")
    with pytest.raises(SignatureError):
        verify1(data, ED25519, ED25519.generate(os.urandom).public_key)
    with pytest.raises(EncodingError):
        verify1(data, ES256, key.public_key)  # wrong algorithm is refused before verifying


@pytest.mark.parametrize(
    "garbage",
    [
        b"",
        b"\xa0",
        cbor.encode([1, 2, 3]),
        cbor.encode(cbor.CBORTag(98, [])),
        cbor.encode([b"", {}, 1, b""]),
        cbor.encode([cbor.encode({1: -7}), [], b"payload", b"sig"]),
    ],
)
def test_malformed_messages_raise_encoding_error(garbage: bytes) -> None:
    with pytest.raises(EncodingError):
        decode_sign1(garbage)
