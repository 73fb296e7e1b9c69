"""The AEAD algorithms: round trips, and every kind of damage raises DecryptionError."""

from __future__ import annotations

import pytest
from cryptography.hazmat.primitives.ciphers.aead import AESCCM, AESGCM

from meterseal.crypto.aead import A128GCM, AES_CCM_16_64_128, SM4_GCM_128
from meterseal.crypto.interfaces import AeadAlg
from meterseal.errors import DecryptionError, InvalidKeyError

ALGORITHMS: list[AeadAlg] = [AES_CCM_16_64_128, A128GCM, SM4_GCM_128]
IDS = ["AES-CCM-16-64-128", "A128GCM", "SM4-GCM"]


def _material(alg: AeadAlg) -> tuple[bytes, bytes]:
    return bytes(range(alg.key_length)), bytes(range(100, 100 + alg.nonce_length))


@pytest.mark.parametrize("alg", ALGORITHMS, ids=IDS)
@pytest.mark.parametrize("size", [0, 1, 64, 4096])
def test_seal_then_open_returns_the_plaintext(alg: AeadAlg, size: int) -> None:
    key, nonce = _material(alg)
    plaintext = bytes(size)
    sealed = alg.key(key).seal(nonce, plaintext, b"aad")
    assert len(sealed) == size + alg.tag_length
    assert alg.key(key).open(nonce, sealed, b"aad") == plaintext


@pytest.mark.parametrize("alg", ALGORITHMS, ids=IDS)
def test_each_kind_of_damage_raises_decryption_error(alg: AeadAlg) -> None:
    key, nonce = _material(alg)
    sealed = alg.key(key).seal(nonce, b"reading", b"aad")
    flipped = bytes([sealed[0] ^ 1]) + sealed[1:]
    other_key = bytes(alg.key_length)
    cases = [
        (key, nonce, flipped, b"aad"),
        (key, nonce, sealed, b"other aad"),
        (other_key, nonce, sealed, b"aad"),
        (key, bytes(alg.nonce_length), sealed, b"aad"),
        (key, nonce, sealed[:-1], b"aad"),
        (key, nonce, b"", b"aad"),
    ]
    for case_key, case_nonce, ciphertext, aad in cases:
        with pytest.raises(DecryptionError):
            alg.key(case_key).open(case_nonce, ciphertext, aad)


@pytest.mark.parametrize("alg", ALGORITHMS, ids=IDS)
def test_wrong_key_length_is_refused(alg: AeadAlg) -> None:
    with pytest.raises(InvalidKeyError):
        alg.key(bytes(alg.key_length + 1))


def test_aes_algorithms_agree_with_cryptography_one_shot_objects() -> None:
    key, nonce13 = _material(AES_CCM_16_64_128)
    expected = AESCCM(key, tag_length=8).encrypt(nonce13, b"m", b"a")
    assert AES_CCM_16_64_128.key(key).seal(nonce13, b"m", b"a") == expected
    nonce12 = nonce13[:12]
    assert A128GCM.key(key).seal(nonce12, b"m", b"a") == AESGCM(key).encrypt(nonce12, b"m", b"a")
