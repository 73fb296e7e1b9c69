"""The small interfaces every algorithm and key holder in MeterSeal implements.

A cipher suite is a bundle of one of each algorithm (see :mod:`meterseal.crypto.suites`).
Private keys are only ever reached through a *key handle* (:class:`DhKey`,
:class:`SigningKey`): the meter's secure element and the head-end's crypto machine hand
out handles, never key bytes.

Public keys travel in one encoding per algorithm:

* key agreement: the x-coordinate for EC2 curves (RFC 9528 section 3.7, compact form;
  either y gives the same shared x), the u-coordinate for X25519;
* signatures: the uncompressed SEC1 point ``04 || x || y`` for EC2 curves, the 32-byte
  key for Ed25519.

Randomness is a parameter: ``Rng`` is a callable returning n random bytes, so that tests
and the RFC 9529 traces can inject fixed values.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

Rng = Callable[[int], bytes]
"""Returns ``n`` uniformly random bytes (``os.urandom`` in production)."""


class HashAlg(Protocol):
    """A hash function with the HMAC and HKDF (RFC 5869) built on it."""

    @property
    def name(self) -> str: ...
    @property
    def cose_alg(self) -> int: ...
    @property
    def digest_size(self) -> int: ...

    def digest(self, data: bytes) -> bytes: ...

    def hmac(self, key: bytes, data: bytes) -> bytes: ...

    def hkdf_extract(self, salt: bytes, ikm: bytes) -> bytes: ...

    def hkdf_expand(self, prk: bytes, info: bytes, length: int) -> bytes: ...


class AeadKey(Protocol):
    """An AEAD cipher bound to one key; reusable for many messages."""

    def seal(self, nonce: bytes, plaintext: bytes, aad: bytes) -> bytes:
        """Return ciphertext with the tag appended."""
        ...

    def open(self, nonce: bytes, ciphertext: bytes, aad: bytes) -> bytes:
        """Return the plaintext, or raise :class:`~meterseal.errors.DecryptionError`."""
        ...


class AeadAlg(Protocol):
    """An AEAD algorithm (COSE algorithm value, key, nonce and tag lengths)."""

    @property
    def name(self) -> str: ...
    @property
    def cose_alg(self) -> int: ...
    @property
    def key_length(self) -> int: ...
    @property
    def nonce_length(self) -> int: ...
    @property
    def tag_length(self) -> int: ...
    @property
    def max_messages(self) -> int:
        """Messages one key may protect before it must be updated (confidentiality limit)."""
        ...

    def key(self, key: bytes) -> AeadKey: ...


class DhKey(Protocol):
    """A private key for key agreement, usable but not readable."""

    @property
    def public_key(self) -> bytes: ...

    @property
    def public_point(self) -> bytes:
        """The whole public key, as a credential carries it: ``04 || x || y`` for EC2
        curves, the 32-byte u-coordinate for X25519."""
        ...

    def exchange(self, peer_public_key: bytes) -> bytes:
        """Return the shared secret (the x-coordinate for EC2 curves)."""
        ...


class SigningKey(Protocol):
    """A private signing key, usable but not readable."""

    @property
    def public_key(self) -> bytes: ...

    def sign(self, message: bytes) -> bytes: ...


class DhCurve(Protocol):
    """A curve for ephemeral and static Diffie-Hellman."""

    @property
    def name(self) -> str: ...
    @property
    def cose_crv(self) -> int: ...
    @property
    def public_key_length(self) -> int: ...

    def generate(self, rng: Rng) -> DhKey:
        """Make a key pair from ``rng``."""
        ...

    def from_private_bytes(self, private: bytes) -> DhKey:
        """Load a private key (test vectors, and key stores that decrypt into memory)."""
        ...

    def validate_public_key(self, public_key: bytes) -> None:
        """Raise :class:`~meterseal.errors.InvalidKeyError` unless it is a valid point."""
        ...


class SignatureAlg(Protocol):
    """A signature algorithm."""

    @property
    def name(self) -> str: ...
    @property
    def cose_alg(self) -> int: ...
    @property
    def signature_length(self) -> int: ...

    def generate(self, rng: Rng) -> SigningKey: ...

    def from_private_bytes(self, private: bytes) -> SigningKey: ...

    def verify(self, public_key: bytes, message: bytes, signature: bytes) -> None:
        """Return quietly, or raise :class:`~meterseal.errors.SignatureError`."""
        ...
