"""Hash functions with HMAC and HKDF: SHA-256 and SM3 (GB/T 32905).

Both run in OpenSSL through :mod:`hashlib` and :mod:`hmac`. HKDF is RFC 5869, written
over ``hmac.digest`` so that one construction serves both hashes (EDHOC's key schedule,
RFC 9528 section 4.1, and the GM/T suite's HKDF with HMAC-SM3).
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass

from meterseal.errors import CryptoError

COSE_ALG_SHA_256 = -16
"""COSE algorithm value of SHA-256 (RFC 9053)."""

COSE_ALG_SM3 = -65538
"""SM3 in the COSE private-use range; see docs/protocol.md."""


@dataclass(frozen=True, slots=True)
class OpenSslHash:
    """A hash named by its OpenSSL name, with HMAC and HKDF built on it."""

    name: str
    openssl_name: str
    cose_alg: int
    digest_size: int

    def digest(self, data: bytes) -> bytes:
        return hashlib.new(self.openssl_name, data).digest()

    def hmac(self, key: bytes, data: bytes) -> bytes:
        return hmac.digest(key, data, self.openssl_name)

    def hkdf_extract(self, salt: bytes, ikm: bytes) -> bytes:
        """RFC 5869 section 2.2: PRK = HMAC-Hash(salt, IKM)."""
        return self.hmac(salt or bytes(self.digest_size), ikm)

    def hkdf_expand(self, prk: bytes, info: bytes, length: int) -> bytes:
        """RFC 5869 section 2.3: T(1) | T(2) | ... truncated to ``length`` octets."""
        if length <= self.digest_size:  # one block, T(1): what EDHOC asks for almost always
            return self.hmac(prk, info + b"\x01")[:length]
        if length > 255 * self.digest_size:
            raise CryptoError(f"HKDF-Expand cannot produce {length} octets with {self.name}")
        out = b""
        block = b""
        counter = 1
        while len(out) < length:
            block = self.hmac(prk, block + info + bytes([counter]))
            out += block
            counter += 1
        return out[:length]


SHA_256 = OpenSslHash("SHA-256", "sha256", COSE_ALG_SHA_256, 32)
SM3 = OpenSslHash("SM3", "sm3", COSE_ALG_SM3, 32)
