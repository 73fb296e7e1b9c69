"""The crypto machine: one interface, two backends (PKCS#11 HSM and software keystore).

A crypto machine holds the head-end's long-term secrets and hands out *handles*, never
key bytes. Its asymmetric handles implement :class:`~meterseal.crypto.interfaces.DhKey`
and :class:`~meterseal.crypto.interfaces.SigningKey`, so they plug straight into EDHOC
(RFC 9528) as the Responder's static key (method 3) or signing key (method 0).

Symmetric secrets never leave either:

* a **master key** (256 bits) derives each meter's own symmetric keys, HKDF-Expand with
  SHA-256 (RFC 5869 section 2.3) keyed with the master itself (RFC 5869 section 3.3: the
  master is already uniformly random, so Extract is skipped). Each derived key is
  returned: it is meant for that one meter. See :mod:`meterseal.hsm.symmetric`.
* a **wrapping key** (AES-256) wraps key material for transport with AES Key Wrap
  (RFC 3394), byte-identical in both backends (see :mod:`meterseal.hsm.symmetric`).

Nothing in this interface returns a private key, a master key or a wrapping key.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Protocol, Self

from meterseal.crypto.interfaces import DhCurve, DhKey, SignatureAlg, SigningKey
from meterseal.hsm.errors import HsmError

DEFAULT_METER_KEY_LENGTH = 16
"""Bytes of a derived per-meter key: an AES-128 / SM4 key."""


class KeyKind(enum.StrEnum):
    """What a label names, and so what the key may be used for (one use per key)."""

    DH = "dh"
    SIGNING = "signing"
    MASTER = "master"
    WRAPPING = "wrapping"


@dataclass(frozen=True, slots=True)
class KeyInfo:
    """The public description of one key: never any private or secret material.

    ``algorithm`` is the curve name for DH keys (``P-256``, ``X25519``, ``SM2``), the
    signature algorithm for signing keys (``ES256``, ``EdDSA``, ``SM2-SM3``),
    ``HMAC-SHA256`` for master keys and ``AES-256-KW`` for wrapping keys. ``public_key``
    is the whole public key (``04 || x || y`` for EC2 curves), or ``None`` for secrets.
    """

    label: str
    kind: KeyKind
    algorithm: str
    public_key: bytes | None = None


class CryptoMachine(Protocol):
    """Key storage and private-key operations for the head-end and security server."""

    def generate_dh_key(self, label: str, curve: DhCurve) -> DhKey:
        """Generate a static Diffie-Hellman key pair inside the machine under ``label``."""
        ...

    def generate_signing_key(self, label: str, alg: SignatureAlg) -> SigningKey:
        """Generate a signing key pair inside the machine under ``label``."""
        ...

    def dh_key(self, label: str) -> DhKey:
        """The handle of an existing DH key (KeyNotFoundError, WrongKeyKindError)."""
        ...

    def signing_key(self, label: str) -> SigningKey:
        """The handle of an existing signing key (KeyNotFoundError, WrongKeyKindError)."""
        ...

    def labels(self) -> list[KeyInfo]:
        """Every key the machine holds, sorted by label, described by public data only."""
        ...

    def destroy_key(self, label: str) -> None:
        """Destroy the key (both halves of a pair); its handles stop working."""
        ...

    def generate_master_key(self, label: str) -> KeyInfo:
        """Generate a 256-bit master key for per-meter key derivation; it never leaves."""
        ...

    def import_master_key(self, label: str, secret: bytes) -> KeyInfo:
        """Key ceremony: store a 32-byte master key given by its custodians."""
        ...

    def derive_meter_key(
        self,
        master_label: str,
        meter_id: str,
        purpose: str,
        length: int = DEFAULT_METER_KEY_LENGTH,
    ) -> bytes:
        """The key of one meter for one purpose, derived from the master (see module doc)."""
        ...

    def generate_wrapping_key(self, label: str) -> KeyInfo:
        """Generate an AES-256 key-wrapping key; it never leaves."""
        ...

    def import_wrapping_key(self, label: str, secret: bytes) -> KeyInfo:
        """Key ceremony: store a 32-byte key-wrapping key shared with another machine."""
        ...

    def wrap_key(self, wrapping_label: str, key_material: bytes) -> bytes:
        """AES Key Wrap (RFC 3394) of ``key_material`` under the wrapping key."""
        ...

    def unwrap_key(self, wrapping_label: str, wrapped: bytes) -> bytes:
        """The key material of an RFC 3394 ``wrapped`` blob; VerificationError if forged."""
        ...

    def close(self) -> None:
        """Forget every key in memory and release the backend; handles stop working."""
        ...

    def __enter__(self) -> Self: ...

    def __exit__(self, *exc_info: object) -> None: ...


MAX_LABEL_BYTES = 128


def check_label(label: str) -> str:
    """``label`` if it is 1 to 128 UTF-8 bytes of printable text; HsmError otherwise."""
    if not isinstance(label, str) or not label.isprintable():
        raise HsmError("key labels are printable text")
    if not 0 < len(label.encode("utf-8")) <= MAX_LABEL_BYTES:
        raise HsmError(f"key labels are 1 to {MAX_LABEL_BYTES} UTF-8 bytes")
    return label
