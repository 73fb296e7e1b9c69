"""GM/T primitives against the standards' own examples (see gmt/PROVENANCE.md).

SM3 (GB/T 32905-2016 Appendix A), SM4 (GB/T 32907-2016 Appendix A), SM4-GCM (RFC 8998
Appendix A.1) and the SM2 signature example of GM/T 0003.5-2012 / GB/T 32918.5 Appendix A.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from meterseal.crypto import libcrypto
from meterseal.crypto.aead import SM4_GCM_128
from meterseal.crypto.hashes import SM3
from meterseal.crypto.sm2 import (
    SM2_SIGNATURE,
    Sm2Signature,
    _sign_with_fixed_k_for_test_vectors,
    sm2_z,
)
from meterseal.errors import DecryptionError, SignatureError

VECTORS = Path(__file__).parent / "gmt"


def _load(name: str) -> list[dict[str, Any]]:
    document = json.loads((VECTORS / name).read_text(encoding="utf-8"))
    vectors: list[dict[str, Any]] = document["vectors"]
    return vectors


def _hex(vector: dict[str, Any], field: str) -> bytes:
    return bytes.fromhex(str(vector[field]))


SM3_VECTORS = _load("sm3.json")
SM4_VECTORS = _load("sm4.json")
SM4_GCM_VECTOR = _load("sm4_gcm.json")[0]
SM2_VECTOR = _load("sm2_signature.json")[0]


# --- SM3 ------------------------------------------------------------------------------


@pytest.mark.parametrize("vector", SM3_VECTORS, ids=lambda v: str(v["name"]))
def test_sm3_digest_matches_gbt_32905_appendix_a(vector: dict[str, Any]) -> None:
    assert SM3.digest(_hex(vector, "message_hex")) == _hex(vector, "digest_hex")


# --- SM4 ------------------------------------------------------------------------------


@pytest.mark.parametrize("vector", SM4_VECTORS, ids=lambda v: str(v["name"]))
def test_sm4_block_encryption_matches_gbt_32907_appendix_a(vector: dict[str, Any]) -> None:
    ecb = modes.ECB()  # noqa: S305  # the standard's examples are raw single-block encryptions
    encryptor = Cipher(algorithms.SM4(_hex(vector, "key_hex")), ecb).encryptor()
    block = _hex(vector, "plaintext_hex")
    for _ in range(int(vector["iterations"])):
        block = encryptor.update(block)
    assert block == _hex(vector, "ciphertext_hex")


def test_sm4_block_decryption_inverts_example_1() -> None:
    vector = SM4_VECTORS[0]
    ecb = modes.ECB()  # noqa: S305  # the standard's examples are raw single-block encryptions
    decryptor = Cipher(algorithms.SM4(_hex(vector, "key_hex")), ecb).decryptor()
    plaintext = decryptor.update(_hex(vector, "ciphertext_hex")) + decryptor.finalize()
    assert plaintext == _hex(vector, "plaintext_hex")


# --- SM4-GCM --------------------------------------------------------------------------


def _gcm_inputs() -> tuple[bytes, bytes, bytes, bytes, bytes]:
    v = SM4_GCM_VECTOR
    sealed = _hex(v, "ciphertext_hex") + _hex(v, "tag_hex")
    return (
        _hex(v, "key_hex"),
        _hex(v, "nonce_hex"),
        _hex(v, "aad_hex"),
        _hex(v, "plaintext_hex"),
        sealed,
    )


def test_sm4_gcm_seal_matches_rfc_8998_a1() -> None:
    key, nonce, aad, plaintext, sealed = _gcm_inputs()
    assert SM4_GCM_128.key(key).seal(nonce, plaintext, aad) == sealed


def test_sm4_gcm_open_matches_rfc_8998_a1() -> None:
    key, nonce, aad, plaintext, sealed = _gcm_inputs()
    assert SM4_GCM_128.key(key).open(nonce, sealed, aad) == plaintext


@pytest.mark.parametrize("bit", [0, 8 * 40 + 3, 8 * 64 + 7], ids=["first", "middle", "tag"])
def test_sm4_gcm_open_rejects_one_flipped_bit(bit: int) -> None:
    key, nonce, aad, _, sealed = _gcm_inputs()
    tampered = bytearray(sealed)
    tampered[bit // 8] ^= 1 << (bit % 8)
    with pytest.raises(DecryptionError):
        SM4_GCM_128.key(key).open(nonce, bytes(tampered), aad)


# --- SM2 ------------------------------------------------------------------------------


def _sm2_signature() -> bytes:
    return _hex(SM2_VECTOR, "r_hex") + _hex(SM2_VECTOR, "s_hex")


def test_sm2_public_key_is_d_times_g() -> None:
    key = Sm2Signature().from_private_bytes(_hex(SM2_VECTOR, "private_key_hex"))
    assert key.public_key == _hex(SM2_VECTOR, "public_key_hex")


def test_sm2_intermediate_z_a_and_e_match_the_example() -> None:
    z_a = sm2_z(_hex(SM2_VECTOR, "distid_hex"), _hex(SM2_VECTOR, "public_key_hex"))
    assert z_a == _hex(SM2_VECTOR, "z_a_hex")
    assert SM3.digest(z_a + _hex(SM2_VECTOR, "message_hex")) == _hex(SM2_VECTOR, "e_hex")


def test_sm2_k_times_g_has_the_example_x1() -> None:
    point = libcrypto.scalar_base_mult(_hex(SM2_VECTOR, "k_hex"))
    assert point[1:33] == _hex(SM2_VECTOR, "x1_hex")


def test_sm2_standard_signature_verifies() -> None:
    algorithm = Sm2Signature(distid=_hex(SM2_VECTOR, "distid_hex"))
    message = _hex(SM2_VECTOR, "message_hex")
    algorithm.verify(_hex(SM2_VECTOR, "public_key_hex"), message, _sm2_signature())


def test_sm2_standard_signature_fails_under_another_distid() -> None:
    algorithm = Sm2Signature(distid=b"ALICE123@YAHOO.COM")
    message = _hex(SM2_VECTOR, "message_hex")
    with pytest.raises(SignatureError):
        algorithm.verify(_hex(SM2_VECTOR, "public_key_hex"), message, _sm2_signature())


def test_sm2_fixed_k_hook_reproduces_the_standard_signature() -> None:
    signature = _sign_with_fixed_k_for_test_vectors(
        _hex(SM2_VECTOR, "private_key_hex"),
        _hex(SM2_VECTOR, "message_hex"),
        _hex(SM2_VECTOR, "k_hex"),
        _hex(SM2_VECTOR, "distid_hex"),
    )
    assert signature == _sm2_signature()


def test_sm2_fixed_k_hook_agrees_with_openssl_verification_on_other_messages() -> None:
    private = _hex(SM2_VECTOR, "private_key_hex")
    k = bytes.fromhex("6c" * 32)
    signature = _sign_with_fixed_k_for_test_vectors(private, b"meter 17: 4.2 kWh", k)
    SM2_SIGNATURE.verify(_hex(SM2_VECTOR, "public_key_hex"), b"meter 17: 4.2 kWh", signature)
