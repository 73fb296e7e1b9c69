"""AEAD algorithms: AES-CCM-16-64-128, AES-GCM-128 and SM4-GCM-128.

All run in OpenSSL through ``cryptography``. Every failure to authenticate becomes one
opaque :class:`~meterseal.errors.DecryptionError`.

Usage limits (``max_messages``) follow the confidentiality limits computed in
draft-irtf-cfrg-aead-limits for an attacker advantage of 2^-50, rounded down to a power
of two: AES-CCM with an 8-byte tag 2^20 messages of up to 1 KiB blocks (the OSCORE key
limits draft's q for CCM_8), GCM 2^23 messages of up to 2^8 blocks. The record layer
updates keys well before them.
"""

from __future__ import annotations

from dataclasses import dataclass

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.ciphers.aead import AESCCM, AESGCM

from meterseal.crypto.interfaces import AeadKey
from meterseal.errors import DecryptionError, InvalidKeyError

COSE_ALG_AES_CCM_16_64_128 = 10
COSE_ALG_A128GCM = 1
COSE_ALG_SM4_GCM_128 = -65539
"""SM4-GCM (RFC 8998's AEAD_SM4_GCM) in the COSE private-use range; see docs/protocol.md."""


def _check_lengths(key: bytes, key_length: int, name: str) -> None:
    if len(key) != key_length:
        raise InvalidKeyError(f"{name} needs a {key_length}-byte key, got {len(key)}")


class _OneShotAeadKey:
    """An AEAD key around one of ``cryptography``'s one-shot AEAD objects (AESCCM, AESGCM)."""

    __slots__ = ("_cipher",)

    def __init__(self, cipher: AESCCM | AESGCM) -> None:
        self._cipher = cipher

    def seal(self, nonce: bytes, plaintext: bytes, aad: bytes) -> bytes:
        return self._cipher.encrypt(nonce, plaintext, aad)

    def open(self, nonce: bytes, ciphertext: bytes, aad: bytes) -> bytes:
        try:
            return self._cipher.decrypt(nonce, ciphertext, aad)
        except InvalidTag as exc:
            raise DecryptionError("AEAD tag did not verify") from exc


class _Sm4GcmKey:
    """SM4-GCM through the Cipher API (``cryptography`` has no SM4 AEAD object)."""

    __slots__ = ("_algorithm",)
    _TAG = 16

    def __init__(self, key: bytes) -> None:
        self._algorithm = algorithms.SM4(key)

    def seal(self, nonce: bytes, plaintext: bytes, aad: bytes) -> bytes:
        encryptor = Cipher(self._algorithm, modes.GCM(nonce)).encryptor()
        encryptor.authenticate_additional_data(aad)
        body = encryptor.update(plaintext) + encryptor.finalize()
        return body + encryptor.tag

    def open(self, nonce: bytes, ciphertext: bytes, aad: bytes) -> bytes:
        if len(ciphertext) < self._TAG:
            raise DecryptionError("AEAD ciphertext shorter than its tag")
        body, tag = ciphertext[: -self._TAG], ciphertext[-self._TAG :]
        decryptor = Cipher(self._algorithm, modes.GCM(nonce, tag)).decryptor()
        decryptor.authenticate_additional_data(aad)
        try:
            return decryptor.update(body) + decryptor.finalize()
        except InvalidTag as exc:
            raise DecryptionError("AEAD tag did not verify") from exc


@dataclass(frozen=True, slots=True)
class AesCcm:
    name: str = "AES-CCM-16-64-128"
    cose_alg: int = COSE_ALG_AES_CCM_16_64_128
    key_length: int = 16
    nonce_length: int = 13
    tag_length: int = 8
    max_messages: int = 2**20

    def key(self, key: bytes) -> AeadKey:
        _check_lengths(key, self.key_length, self.name)
        return _OneShotAeadKey(AESCCM(key, tag_length=self.tag_length))


@dataclass(frozen=True, slots=True)
class AesGcm:
    name: str = "A128GCM"
    cose_alg: int = COSE_ALG_A128GCM
    key_length: int = 16
    nonce_length: int = 12
    tag_length: int = 16
    max_messages: int = 2**23

    def key(self, key: bytes) -> AeadKey:
        _check_lengths(key, self.key_length, self.name)
        return _OneShotAeadKey(AESGCM(key))


@dataclass(frozen=True, slots=True)
class Sm4Gcm:
    name: str = "SM4-GCM-128"
    cose_alg: int = COSE_ALG_SM4_GCM_128
    key_length: int = 16
    nonce_length: int = 12
    tag_length: int = 16
    max_messages: int = 2**23

    def key(self, key: bytes) -> AeadKey:
        _check_lengths(key, self.key_length, self.name)
        return _Sm4GcmKey(key)


AES_CCM_16_64_128 = AesCcm()
A128GCM = AesGcm()
SM4_GCM_128 = Sm4Gcm()
