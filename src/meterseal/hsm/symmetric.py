"""The symmetric formats both backends share, so that their results are byte-identical.

**Per-meter key diversification.** A meter's key for one purpose is::

    info = CBOR(["MeterSeal per-meter key v1", meter_id, purpose, length])   RFC 8949
    key  = HKDF-Expand(PRK = master, info, length)  with HMAC-SHA256         RFC 5869 2.3

The master key is 32 uniformly random bytes, so the Extract step is skipped and the
master keys HMAC directly (RFC 5869 section 3.3). Binding the meter ID, the purpose and
the length into ``info`` means two meters, two purposes or two lengths never share a
key, and knowing any number of derived keys tells nothing about the master or about
another meter's keys (HMAC as a PRF). The software keystore computes the HMAC itself;
the PKCS#11 backend computes each ``T(i) = HMAC(master, T(i-1) || info || i)`` on the
token with ``CKM_SHA256_HMAC`` (PKCS#11 v2.40 section 2.19.3), so the master stays
inside. PKCS#11 v3.0's ``CKM_HKDF_DERIVE`` would do the same in one call, but SoftHSM2
2.6 does not offer it.

**Key wrapping.** AES Key Wrap, RFC 3394 (``CKM_AES_KEY_WRAP``, PKCS#11 v2.40 section
2.14.3), with the default IV ``A6A6A6A6A6A6A6A6``, under an AES-256 wrapping key. Key
material must be a whole number of 64-bit blocks, at least 128 bits: RFC 3394 needs
that, and it is the one case in which SoftHSM2 2.6 and RFC 5649 agree (SoftHSM2
zero-pads other lengths, and its ``CKM_AES_KEY_WRAP_PAD`` is really RFC 5649, which
PKCS#11 v2.40 calls ``CKM_AES_KEY_WRAP_KWP``: softhsm/SoftHSMv2 issue 726). So a blob
wrapped by either backend unwraps on the other given the same wrapping key.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable

from meterseal import cbor
from meterseal.errors import CryptoError, DecryptionError, InvalidKeyError

METER_KEY_CONTEXT = "MeterSeal per-meter key v1"
SECRET_KEY_LENGTH = 32
"""Bytes of a master key and of an AES-256 wrapping key."""

MIN_METER_KEY_LENGTH = 16
MAX_METER_KEY_LENGTH = 64
MAX_NAME_BYTES = 255
_SHA256_LENGTH = 32

MIN_WRAPPED_MATERIAL = 16
MAX_WRAPPED_MATERIAL = 4096
_SEMIBLOCK = 8

Prf = Callable[[bytes], bytes]
"""HMAC-SHA256 under a key that the caller holds (in memory, or on a token)."""


def _check_name(value: str, what: str) -> bytes:
    if not isinstance(value, str) or not value:
        raise CryptoError(f"{what} must be a non-empty string")
    encoded = value.encode("utf-8")
    if len(encoded) > MAX_NAME_BYTES:
        raise CryptoError(f"{what} is longer than {MAX_NAME_BYTES} UTF-8 bytes")
    return encoded


def meter_key_info(meter_id: str, purpose: str, length: int) -> bytes:
    """The HKDF ``info`` of one meter's key for one purpose (see the module doc)."""
    _check_name(meter_id, "meter_id")
    _check_name(purpose, "purpose")
    if not MIN_METER_KEY_LENGTH <= length <= MAX_METER_KEY_LENGTH:
        raise CryptoError(
            f"per-meter keys are {MIN_METER_KEY_LENGTH}..{MAX_METER_KEY_LENGTH} bytes, not {length}"
        )
    return cbor.encode([METER_KEY_CONTEXT, meter_id, purpose, length])


def hkdf_expand(prf: Prf, info: bytes, length: int) -> bytes:
    """HKDF-Expand (RFC 5869 section 2.3): T(i) = PRF(T(i-1) || info || i), truncated."""
    blocks: list[bytes] = []
    previous = b""
    for counter in range(1, -(-length // _SHA256_LENGTH) + 1):
        previous = prf(previous + info + bytes((counter,)))
        blocks.append(previous)
    return b"".join(blocks)[:length]


def software_prf(key: bytes) -> Prf:
    """HMAC-SHA256 (RFC 2104) keyed with ``key``, computed in this process."""

    def prf(data: bytes) -> bytes:
        return hmac.new(key, data, hashlib.sha256).digest()

    return prf


def check_secret(secret: bytes) -> None:
    """InvalidKeyError unless ``secret`` is a 32-byte master or wrapping key."""
    if len(secret) != SECRET_KEY_LENGTH:
        raise InvalidKeyError(f"master and wrapping keys are {SECRET_KEY_LENGTH} bytes")


def check_wrappable(key_material: bytes) -> None:
    """InvalidKeyError unless RFC 3394 can wrap ``key_material`` the same on any backend."""
    length = len(key_material)
    if length % _SEMIBLOCK or not MIN_WRAPPED_MATERIAL <= length <= MAX_WRAPPED_MATERIAL:
        raise InvalidKeyError(
            f"key material to wrap must be {MIN_WRAPPED_MATERIAL}..{MAX_WRAPPED_MATERIAL} "
            f"bytes in whole 8-byte blocks (RFC 3394), got {length}"
        )


def check_wrapped(wrapped: bytes) -> None:
    """DecryptionError unless ``wrapped`` has the length of an RFC 3394 output."""
    length = len(wrapped)
    if length % _SEMIBLOCK or not 24 <= length <= MAX_WRAPPED_MATERIAL + _SEMIBLOCK:
        raise DecryptionError("not an RFC 3394 wrapped key")
