"""Signed batches: seal and open under every suite's signature, and every forgery fails."""

from __future__ import annotations

import os
from typing import Any

import pytest
from messages_support import METER_ID, electricity_batch, volume_batch

from meterseal import cbor
from meterseal.crypto.cose import decode_sign1, sign1
from meterseal.crypto.interfaces import SignatureAlg
from meterseal.crypto.suites import SUITE_0, SUITE_2, SUITE_GMT, CipherSuite
from meterseal.errors import EncodingError, MeterSealError, SignatureError
from meterseal.messages import (
    IdentityMismatchError,
    encode_batch,
    open_batch,
    peek_batch_header,
    seal_batch,
)
from meterseal.messages.sealing import BATCH_AAD

SUITES = [pytest.param(suite, id=str(suite.value)) for suite in (SUITE_2, SUITE_0, SUITE_GMT)]


@pytest.mark.parametrize("suite", SUITES)
def test_sealed_batch_opens_to_the_same_batch(suite: CipherSuite) -> None:
    alg = suite.signature
    key = alg.generate(os.urandom)
    batch = electricity_batch()
    assert open_batch(seal_batch(batch, key, alg), alg, key.public_key) == batch


@pytest.mark.parametrize("suite", SUITES)
def test_batch_signed_by_another_key_is_refused(suite: CipherSuite) -> None:
    alg = suite.signature
    signed = seal_batch(electricity_batch(), alg.generate(os.urandom), alg)
    with pytest.raises(SignatureError):
        open_batch(signed, alg, alg.generate(os.urandom).public_key)


@pytest.mark.parametrize("suite", SUITES)
def test_forged_payload_under_the_original_signature_is_refused(suite: CipherSuite) -> None:
    alg = suite.signature
    key = alg.generate(os.urandom)
    protected, unprotected, _payload, signature = cbor.decode(
        seal_batch(electricity_batch(), key, alg)
    ).value
    forged_payload = encode_batch(electricity_batch(batch_seq=8))
    forged = cbor.encode(cbor.CBORTag(18, [protected, unprotected, forged_payload, signature]))
    with pytest.raises(SignatureError):
        open_batch(forged, alg, key.public_key)


def test_signature_over_another_context_is_refused() -> None:
    alg = SUITE_2.signature
    key = alg.generate(os.urandom)
    payload = encode_batch(electricity_batch())
    signed = sign1(key, alg, payload, kid=METER_ID.encode(), external_aad=b"other")
    with pytest.raises(SignatureError):
        open_batch(signed, alg, key.public_key)


def test_every_single_bit_flip_is_refused() -> None:
    alg = SUITE_0.signature
    key = alg.generate(os.urandom)
    signed = seal_batch(volume_batch(), key, alg)
    for bit in range(8 * len(signed)):
        flipped = bytearray(signed)
        flipped[bit // 8] ^= 1 << (bit % 8)
        with pytest.raises(MeterSealError):
            open_batch(bytes(flipped), alg, key.public_key)


def test_kid_must_name_the_batch_meter() -> None:
    alg = SUITE_2.signature
    key = alg.generate(os.urandom)
    payload = encode_batch(electricity_batch())
    signed = sign1(key, alg, payload, kid=b"ELEC-000002", external_aad=BATCH_AAD)
    with pytest.raises(IdentityMismatchError, match="ELEC-000002"):
        open_batch(signed, alg, key.public_key)


def test_missing_kid_is_refused() -> None:
    alg = SUITE_2.signature
    key = alg.generate(os.urandom)
    signed = sign1(key, alg, encode_batch(electricity_batch()), external_aad=BATCH_AAD)
    with pytest.raises(IdentityMismatchError):
        open_batch(signed, alg, key.public_key)


def test_wrong_algorithm_is_refused_before_verifying() -> None:
    key = SUITE_2.signature.generate(os.urandom)
    signed = seal_batch(electricity_batch(), key, SUITE_2.signature)
    with pytest.raises(EncodingError, match="alg"):
        open_batch(signed, SUITE_0.signature, key.public_key)


def test_kid_is_the_meter_id() -> None:
    alg = SUITE_2.signature
    signed = seal_batch(electricity_batch(), alg.generate(os.urandom), alg)
    assert decode_sign1(signed).kid == METER_ID.encode()


def test_peek_reads_the_header_without_a_key() -> None:
    alg: SignatureAlg = SUITE_0.signature
    signed = seal_batch(electricity_batch(batch_seq=99), alg.generate(os.urandom), alg)
    assert peek_batch_header(signed) == (METER_ID, 99)


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        (cbor.encode([1]), "must be a CBOR map"),
        (cbor.encode({1: "ok", 2: -3}), "batch_seq must lie in"),
        (cbor.encode({2: 3}), "meter_id must be a text string"),
    ],
)
def test_peek_refuses_what_it_cannot_read(payload: bytes, message: str) -> None:
    alg = SUITE_0.signature
    signed = sign1(alg.generate(os.urandom), alg, payload)
    with pytest.raises(EncodingError, match=message):
        peek_batch_header(signed)


def test_signed_96_reading_batch_is_compact() -> None:
    alg = SUITE_2.signature
    signed = seal_batch(electricity_batch(), alg.generate(os.urandom), alg)
    assert len(signed) < 1300


@pytest.mark.parametrize(
    "rewrap",
    [
        pytest.param(lambda p, _u, b, s: cbor.CBORTag(18, [p, {5: b"iv"}, b, s]), id="header"),
        pytest.param(lambda p, u, b, s: [p, u, b, s], id="untagged"),
    ],
)
def test_validly_signed_but_rewritten_batch_is_refused(rewrap: Any) -> None:
    alg = SUITE_0.signature
    key = alg.generate(os.urandom)
    parts = cbor.decode(seal_batch(electricity_batch(), key, alg)).value
    rewritten = cbor.encode(rewrap(*parts))
    with pytest.raises(EncodingError, match="canonical"):
        open_batch(rewritten, alg, key.public_key)
