"""The international algorithms: X25519, ECDH P-256, Ed25519 and ES256 (ECDSA P-256).

All run in OpenSSL through ``cryptography``. Private keys are drawn from the ``rng``
parameter, so that the RFC 9529 traces and the tests are exact; the key handles keep the
key object private and expose only the public key and the operation.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, x25519
from cryptography.hazmat.primitives.asymmetric.utils import (
    decode_dss_signature,
    encode_dss_signature,
)

from meterseal.crypto.interfaces import DhKey, Rng, SigningKey
from meterseal.errors import InvalidKeyError, SignatureError

COSE_CRV_P256 = 1
COSE_CRV_X25519 = 4
COSE_CRV_ED25519 = 6
COSE_ALG_ES256 = -7
COSE_ALG_EDDSA = -8

P256_ORDER = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551
_RAW = serialization.Encoding.Raw
_RAW_PUB = serialization.PublicFormat.Raw
_X962 = serialization.Encoding.X962
_UNCOMPRESSED = serialization.PublicFormat.UncompressedPoint


def scalar_from_rng(rng: Rng, order: int) -> int:
    """Draw a scalar uniformly from [1, order - 1] by rejection sampling."""
    size = (order.bit_length() + 7) // 8
    while True:
        candidate = int.from_bytes(rng(size), "big")
        if 0 < candidate < order:
            return candidate


@lru_cache(maxsize=1024)
def p256_public_from_x(x: bytes) -> ec.EllipticCurvePublicKey:
    """Load a P-256 point from its x-coordinate alone (RFC 9528 section 3.7).

    Cached: a handshake meets the same peer point several times (validation, then one
    exchange per static or ephemeral key), and a head-end the same meters every day. The
    cache holds public points only; an invalid x raises and is not cached."""
    if len(x) != 32:
        raise InvalidKeyError(f"P-256 x-coordinate must be 32 bytes, got {len(x)}")
    try:
        return ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), b"\x02" + x)
    except ValueError as exc:
        raise InvalidKeyError("not the x-coordinate of a P-256 point") from exc


@lru_cache(maxsize=1024)
def p256_public_from_point(point: bytes) -> ec.EllipticCurvePublicKey:
    """Load a P-256 point from its SEC1 encoding (compressed or uncompressed); cached."""
    try:
        return ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), point)
    except ValueError as exc:
        raise InvalidKeyError("not a P-256 point") from exc


# --- X25519 ---------------------------------------------------------------------------


class _X25519Key:
    __slots__ = ("_key", "_public")

    def __init__(self, key: x25519.X25519PrivateKey) -> None:
        self._key = key
        self._public = key.public_key().public_bytes(_RAW, _RAW_PUB)

    @property
    def public_key(self) -> bytes:
        return self._public

    @property
    def public_point(self) -> bytes:
        return self._public

    def exchange(self, peer_public_key: bytes) -> bytes:
        if len(peer_public_key) != 32:
            raise InvalidKeyError("X25519 public keys are 32 bytes")
        try:
            peer = x25519.X25519PublicKey.from_public_bytes(peer_public_key)
            return self._key.exchange(peer)
        except ValueError as exc:  # all-zero shared secret: a small-order point
            raise InvalidKeyError("X25519 exchange with a small-order point") from exc


@dataclass(frozen=True, slots=True)
class X25519Curve:
    name: str = "X25519"
    cose_crv: int = COSE_CRV_X25519
    public_key_length: int = 32

    def generate(self, rng: Rng) -> DhKey:
        return self.from_private_bytes(rng(32))

    def from_private_bytes(self, private: bytes) -> DhKey:
        if len(private) != 32:
            raise InvalidKeyError("X25519 private keys are 32 bytes")
        return _X25519Key(x25519.X25519PrivateKey.from_private_bytes(private))

    def validate_public_key(self, public_key: bytes) -> None:
        if len(public_key) != 32:
            raise InvalidKeyError("X25519 public keys are 32 bytes")


# --- P-256 ECDH -----------------------------------------------------------------------


class _P256DhKey:
    __slots__ = ("_key", "_point")

    def __init__(self, key: ec.EllipticCurvePrivateKey) -> None:
        self._key = key
        self._point = key.public_key().public_bytes(_X962, _UNCOMPRESSED)

    @property
    def public_key(self) -> bytes:
        return self._point[1:33]

    @property
    def public_point(self) -> bytes:
        return self._point

    def exchange(self, peer_public_key: bytes) -> bytes:
        return self._key.exchange(ec.ECDH(), p256_public_from_x(peer_public_key))


def _p256_private(private: bytes) -> ec.EllipticCurvePrivateKey:
    scalar = int.from_bytes(private, "big")
    if len(private) != 32 or not 0 < scalar < P256_ORDER:
        raise InvalidKeyError("P-256 private keys are 32-byte scalars in [1, n-1]")
    return ec.derive_private_key(scalar, ec.SECP256R1())


@dataclass(frozen=True, slots=True)
class P256Curve:
    name: str = "P-256"
    cose_crv: int = COSE_CRV_P256
    public_key_length: int = 32

    def generate(self, rng: Rng) -> DhKey:
        scalar = scalar_from_rng(rng, P256_ORDER)
        return _P256DhKey(ec.derive_private_key(scalar, ec.SECP256R1()))

    def from_private_bytes(self, private: bytes) -> DhKey:
        return _P256DhKey(_p256_private(private))

    def validate_public_key(self, public_key: bytes) -> None:
        p256_public_from_x(public_key)


# --- Ed25519 --------------------------------------------------------------------------


class _Ed25519Key:
    __slots__ = ("_key", "_public")

    def __init__(self, key: ed25519.Ed25519PrivateKey) -> None:
        self._key = key
        self._public = key.public_key().public_bytes(_RAW, _RAW_PUB)

    @property
    def public_key(self) -> bytes:
        return self._public

    def sign(self, message: bytes) -> bytes:
        return self._key.sign(message)


@dataclass(frozen=True, slots=True)
class Ed25519Signature:
    name: str = "EdDSA"
    cose_alg: int = COSE_ALG_EDDSA
    signature_length: int = 64

    def generate(self, rng: Rng) -> SigningKey:
        return self.from_private_bytes(rng(32))

    def from_private_bytes(self, private: bytes) -> SigningKey:
        if len(private) != 32:
            raise InvalidKeyError("Ed25519 private keys are 32 bytes")
        return _Ed25519Key(ed25519.Ed25519PrivateKey.from_private_bytes(private))

    def verify(self, public_key: bytes, message: bytes, signature: bytes) -> None:
        try:
            ed25519.Ed25519PublicKey.from_public_bytes(public_key).verify(signature, message)
        except (InvalidSignature, ValueError, UnsupportedAlgorithm) as exc:
            raise SignatureError("Ed25519 signature did not verify") from exc


# --- ES256 ----------------------------------------------------------------------------


class _Es256Key:
    __slots__ = ("_key", "_public")

    def __init__(self, key: ec.EllipticCurvePrivateKey) -> None:
        self._key = key
        self._public = key.public_key().public_bytes(_X962, _UNCOMPRESSED)

    @property
    def public_key(self) -> bytes:
        return self._public

    def sign(self, message: bytes) -> bytes:
        r, s = decode_dss_signature(self._key.sign(message, ec.ECDSA(hashes.SHA256())))
        return r.to_bytes(32, "big") + s.to_bytes(32, "big")


@dataclass(frozen=True, slots=True)
class Es256Signature:
    name: str = "ES256"
    cose_alg: int = COSE_ALG_ES256
    signature_length: int = 64

    def generate(self, rng: Rng) -> SigningKey:
        scalar = scalar_from_rng(rng, P256_ORDER)
        return _Es256Key(ec.derive_private_key(scalar, ec.SECP256R1()))

    def from_private_bytes(self, private: bytes) -> SigningKey:
        return _Es256Key(_p256_private(private))

    def verify(self, public_key: bytes, message: bytes, signature: bytes) -> None:
        if len(signature) != 64:
            raise SignatureError("ES256 signatures are 64 bytes (r || s)")
        der = encode_dss_signature(
            int.from_bytes(signature[:32], "big"), int.from_bytes(signature[32:], "big")
        )
        key = p256_public_from_point(public_key)
        try:
            key.verify(der, message, ec.ECDSA(hashes.SHA256()))
        except InvalidSignature as exc:
            raise SignatureError("ES256 signature did not verify") from exc


X25519 = X25519Curve()
P256 = P256Curve()
ED25519 = Ed25519Signature()
ES256 = Es256Signature()
