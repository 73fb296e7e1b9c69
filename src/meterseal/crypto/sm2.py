"""SM2 signatures and key agreement on the recommended curve (GB/T 32918, GM/T 0003).

Both run in OpenSSL's libcrypto through :mod:`meterseal.crypto.libcrypto`. A private key
lives inside an ``EVP_PKEY`` (and, for the length of one key agreement, in a cleared
secure-heap BIGNUM), never in a Python object, so a key handle can be used but not read.

* :class:`Sm2Signature` (``SM2-SM3``): GB/T 32918.2 digital signatures with SM3 and a
  distinguishing ID, by default ``1234567812345678`` (GM/T 0009-2012 section 10). The
  signature travels as ``r || s`` (32 + 32 bytes), the public key as the uncompressed
  point ``04 || x || y``.
* :class:`Sm2Curve` (``SM2``): ephemeral-static Diffie-Hellman on the same curve, with
  the public key sent as its x-coordinate alone (RFC 9528 section 3.7; either y gives
  the same shared x). This is plain ECDH as EDHOC needs it, not the GB/T 32918.3 key
  exchange protocol.

Helpers convert public keys to and from SubjectPublicKeyInfo (id-ecPublicKey with the SM2
curve OID 1.2.156.10197.1.301, GM/T 0006/0015) and signatures to and from DER
``SEQUENCE { INTEGER r, INTEGER s }`` (GM/T 0009-2012 section 7.3), the forms that OpenSSL
and X.509 use.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

from cryptography.hazmat.primitives.asymmetric.utils import (
    decode_dss_signature,
    encode_dss_signature,
)

from meterseal.crypto import libcrypto
from meterseal.crypto.hashes import SM3
from meterseal.crypto.interfaces import DhKey, Rng, SigningKey
from meterseal.crypto.international import scalar_from_rng
from meterseal.errors import CryptoError, InvalidKeyError, SignatureError

COSE_CRV_SM2 = -65537
"""The SM2 curve in the COSE private-use range; see docs/protocol.md."""

COSE_ALG_SM2_SM3 = -65537
"""SM2 signatures with SM3 in the COSE private-use range; see docs/protocol.md."""

SM2_DEFAULT_DISTID = b"1234567812345678"
"""The default distinguishing ID of GM/T 0009-2012 section 10."""

# The recommended curve, GB/T 32918.5-2017 (GM/T 0003.5-2012): y^2 = x^3 + ax + b mod p.
SM2_P = 0xFFFFFFFEFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF00000000FFFFFFFFFFFFFFFF
SM2_A = 0xFFFFFFFEFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF00000000FFFFFFFFFFFFFFFC
SM2_B = 0x28E9FA9E9D9F5E344D5A9E4BCF6509A7F39789F515AB8F92DDBCBD414D940E93
SM2_N = 0xFFFFFFFEFFFFFFFFFFFFFFFFFFFFFFFF7203DF6B21C6052B53BBF40939D54123
SM2_GX = 0x32C4AE2C1F1981195F9904466A39C9948FE30BBFF2660BE1715A4589334C74C7
SM2_GY = 0xBC3736A2F4F6779C59BDCEE36B692153D0A9877CC62A474002DF32E52139F0A0

_SIZE = 32
_POINT_LENGTH = 65
_MAX_DISTID = 8191
"""ENTL_A is the ID's length in bits, in two bytes (GB/T 32918.2 section 5.5)."""

_SPKI_PREFIX = bytes.fromhex(
    "3059"  # SEQUENCE, 89 bytes: SubjectPublicKeyInfo
    "3013"  # SEQUENCE, 19 bytes: AlgorithmIdentifier
    "06072a8648ce3d0201"  # OID 1.2.840.10045.2.1 id-ecPublicKey
    "06082a811ccf5501822d"  # OID 1.2.156.10197.1.301 sm2 (named curve)
    "034200"  # BIT STRING, 66 bytes, no unused bits: the 65-byte point follows
)


def _fixed(value: int) -> bytes:
    return value.to_bytes(_SIZE, "big")


# --- encodings ------------------------------------------------------------------------


def _check_uncompressed(public_key: bytes) -> None:
    if len(public_key) != _POINT_LENGTH or public_key[0] != 0x04:
        raise InvalidKeyError("SM2 signature public keys are 65 bytes: 04 || x || y")


def public_key_to_spki_der(public_key: bytes) -> bytes:
    """DER SubjectPublicKeyInfo (RFC 5480 section 2, GM/T 0015-2012) of ``04 || x || y``."""
    _check_uncompressed(public_key)
    return _SPKI_PREFIX + public_key


def public_key_from_spki_der(der: bytes) -> bytes:
    """The point ``04 || x || y`` from a DER SubjectPublicKeyInfo of an SM2 key.

    Only the single DER encoding of id-ecPublicKey with the SM2 named curve and an
    uncompressed point is accepted; the point must lie on the curve.
    """
    if len(der) != len(_SPKI_PREFIX) + _POINT_LENGTH or not der.startswith(_SPKI_PREFIX):
        raise InvalidKeyError("not a DER SubjectPublicKeyInfo of an uncompressed SM2 key")
    public_key = der[len(_SPKI_PREFIX) :]
    _verifying_key(public_key)
    return public_key


def signature_to_der(signature: bytes) -> bytes:
    """DER ``SEQUENCE { r INTEGER, s INTEGER }`` (GM/T 0009-2012 section 7.3) of r || s."""
    r, s = _split_signature(signature)
    return encode_dss_signature(r, s)


def signature_from_der(der: bytes) -> bytes:
    """``r || s`` (32 + 32 bytes) from a DER SM2 signature; SignatureError if malformed."""
    try:
        r, s = decode_dss_signature(der)
    except ValueError as exc:
        raise SignatureError("SM2 signature is not DER SEQUENCE { INTEGER, INTEGER }") from exc
    if not (0 < r < SM2_N and 0 < s < SM2_N):
        raise SignatureError("SM2 signature r or s outside [1, n-1]")
    return _fixed(r) + _fixed(s)


def _split_signature(signature: bytes) -> tuple[int, int]:
    """r and s from ``r || s``, each in [1, n-1] (GB/T 32918.2 section 7.1, B1 and B2)."""
    if len(signature) != 2 * _SIZE:
        raise SignatureError(f"SM2 signatures are 64 bytes, got {len(signature)}")
    r = int.from_bytes(signature[:_SIZE], "big")
    s = int.from_bytes(signature[_SIZE:], "big")
    if not (0 < r < SM2_N and 0 < s < SM2_N):
        raise SignatureError("SM2 signature r or s outside [1, n-1]")
    return r, s


# --- private keys ---------------------------------------------------------------------


def _scalar(private: bytes, upper: int) -> int:
    """The private scalar d, checked to lie in [1, upper]."""
    if len(private) != _SIZE:
        raise InvalidKeyError(f"SM2 private keys are 32 bytes, got {len(private)}")
    scalar = int.from_bytes(private, "big")
    if not 0 < scalar <= upper:
        raise InvalidKeyError("SM2 private key outside its range")
    return scalar


def _load_private(private: bytes) -> tuple[libcrypto.Pkey, bytes]:
    """The ``EVP_PKEY`` for scalar ``private`` and its point P = [d]G (GB/T 32918.1 6.1)."""
    public_point = libcrypto.scalar_base_mult(private)
    return libcrypto.load_private_key(private, public_point), public_point


@functools.lru_cache(maxsize=1024)
def _verifying_key(public_key: bytes) -> libcrypto.Pkey:
    """The ``EVP_PKEY`` of ``04 || x || y``, loaded once per key and kept for reuse."""
    _check_uncompressed(public_key)
    return libcrypto.load_public_key(public_key)


# --- signatures -----------------------------------------------------------------------


def sm2_z(distid: bytes, public_key: bytes) -> bytes:
    """Z_A = SM3(ENTL_A || ID_A || a || b || x_G || y_G || x_A || y_A), GB/T 32918.2 5.5."""
    _check_uncompressed(public_key)
    if len(distid) > _MAX_DISTID:
        raise CryptoError(f"SM2 distinguishing IDs are at most {_MAX_DISTID} bytes")
    entl = (8 * len(distid)).to_bytes(2, "big")
    curve = b"".join(_fixed(v) for v in (SM2_A, SM2_B, SM2_GX, SM2_GY))
    return SM3.digest(entl + distid + curve + public_key[1:])


class _Sm2SigningKey:
    """An SM2 signing key: usable, not readable. The scalar lives only in the EVP_PKEY."""

    __slots__ = ("_distid", "_pkey", "_public_key")

    def __init__(self, private: bytes, distid: bytes) -> None:
        _scalar(private, SM2_N - 2)
        self._pkey, self._public_key = _load_private(private)
        self._distid = distid

    def __repr__(self) -> str:
        return f"<SM2 signing key {self._public_key[1:9].hex()}...>"

    @property
    def public_key(self) -> bytes:
        return self._public_key

    def sign(self, message: bytes) -> bytes:
        """GB/T 32918.2 section 6.1 with a fresh k from OpenSSL's DRBG; returns r || s."""
        der = libcrypto.sign(self._pkey, self._distid, message)
        try:
            return signature_from_der(der)
        except SignatureError as exc:
            raise CryptoError("OpenSSL produced an unreadable SM2 signature") from exc


@dataclass(frozen=True, slots=True)
class Sm2Signature:
    """SM2 digital signatures with SM3 (GB/T 32918.2), for one distinguishing ID."""

    distid: bytes = SM2_DEFAULT_DISTID
    name: str = "SM2-SM3"
    cose_alg: int = COSE_ALG_SM2_SM3
    signature_length: int = 64

    def __post_init__(self) -> None:
        if len(self.distid) > _MAX_DISTID:
            raise CryptoError(f"SM2 distinguishing IDs are at most {_MAX_DISTID} bytes")

    def generate(self, rng: Rng) -> SigningKey:
        """A key with d drawn from ``rng`` in [1, n-2] (GB/T 32918.1 section 6.1)."""
        return _Sm2SigningKey(_fixed(scalar_from_rng(rng, SM2_N - 1)), self.distid)

    def from_private_bytes(self, private: bytes) -> SigningKey:
        return _Sm2SigningKey(private, self.distid)

    def verify(self, public_key: bytes, message: bytes, signature: bytes) -> None:
        """GB/T 32918.2 section 7.1. SignatureError if the signature is bad or malformed;
        InvalidKeyError if ``public_key`` is not a point ``04 || x || y`` on the curve.
        """
        key = _verifying_key(public_key)
        libcrypto.verify(key, self.distid, message, signature_to_der(signature))


# --- key agreement --------------------------------------------------------------------


def _peer_point(x: bytes) -> bytes:
    """``02 || x``: the point with x-coordinate ``x``, to be decompressed (RFC 9528 3.7)."""
    if len(x) != _SIZE:
        raise InvalidKeyError(f"SM2 x-coordinates are 32 bytes, got {len(x)}")
    return b"\x02" + x


class _Sm2DhKey:
    """An SM2 Diffie-Hellman key: usable, not readable."""

    __slots__ = ("_pkey", "_public_key", "_public_point")

    def __init__(self, private: bytes) -> None:
        _scalar(private, SM2_N - 1)
        self._pkey, self._public_point = _load_private(private)
        self._public_key = self._public_point[1 : 1 + _SIZE]

    def __repr__(self) -> str:
        return f"<SM2 DH key {self._public_key[:8].hex()}...>"

    @property
    def public_key(self) -> bytes:
        return self._public_key

    @property
    def public_point(self) -> bytes:
        return self._public_point

    def exchange(self, peer_public_key: bytes) -> bytes:
        """The x-coordinate of [d]Q; InvalidKeyError if Q is not on the curve."""
        return libcrypto.derive(self._pkey, _peer_point(peer_public_key))


@dataclass(frozen=True, slots=True)
class Sm2Curve:
    """ECDH on the SM2 recommended curve (GB/T 32918.5), x-only public keys."""

    name: str = "SM2"
    cose_crv: int = COSE_CRV_SM2
    public_key_length: int = 32

    def generate(self, rng: Rng) -> DhKey:
        """A key with d drawn from ``rng`` in [1, n-1] by rejection sampling."""
        return _Sm2DhKey(_fixed(scalar_from_rng(rng, SM2_N)))

    def from_private_bytes(self, private: bytes) -> DhKey:
        return _Sm2DhKey(private)

    def validate_public_key(self, public_key: bytes) -> None:
        """InvalidKeyError unless ``public_key`` is the x-coordinate of a curve point."""
        libcrypto.check_point(_peer_point(public_key))


SM2_CURVE = Sm2Curve()
SM2_SIGNATURE = Sm2Signature()


# --- test vectors only ----------------------------------------------------------------


def _sign_with_fixed_k_for_test_vectors(
    private: bytes, message: bytes, k: bytes, distid: bytes = SM2_DEFAULT_DISTID
) -> bytes:
    """FOR TEST VECTORS ONLY: SM2 signing with a caller-chosen nonce k.

    Reusing or predicting k reveals the private key, so nothing but the vector tests may
    call this. It follows GB/T 32918.2 section 6.1 step by step, in Python integers, with
    libcrypto only for [d]G and [k]G:

    e = SM3(Z_A || M); (x1, y1) = [k]G; r = (e + x1) mod n;
    s = ((1 + d)^-1 * (k - r * d)) mod n. Returns r || s.
    """
    d = _scalar(private, SM2_N - 2)
    k_int = _scalar(k, SM2_N - 1)
    z = sm2_z(distid, libcrypto.scalar_base_mult(private))
    e = int.from_bytes(SM3.digest(z + message), "big")
    x1 = int.from_bytes(libcrypto.scalar_base_mult(k)[1 : 1 + _SIZE], "big")
    r = (e + x1) % SM2_N
    if r == 0 or r + k_int == SM2_N:
        raise CryptoError("this k gives r = 0 or r + k = n; the standard picks another k")
    s = pow(1 + d, -1, SM2_N) * (k_int - r * d) % SM2_N
    if s == 0:
        raise CryptoError("this k gives s = 0; the standard picks another k")
    return _fixed(r) + _fixed(s)
