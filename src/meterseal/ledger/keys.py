"""Note signature types: Ed25519, ECDSA P-256 (verify only) and SM2 with SM3 (GM deployments).

Signature type identifier bytes (c2sp.org/signed-note, "Signature types"):

* ``0x01`` Ed25519 over the note text (RFC 8032). Key ID =
  SHA-256(name || 0x0A || 0x01 || 32-byte public key)[:4].
* ``0x02`` ECDSA as in github.com/transparency-dev/witness: ASN.1 DER signature with
  SHA-256; the key is a DER SubjectPublicKeyInfo and the key ID is SHA-256(SPKI)[:4].
  Verify only (to read Sigstore-style checkpoints); MeterSeal signs with Ed25519 or SM2.
* ``0x04`` timestamped Ed25519 cosignatures: see :mod:`meterseal.ledger.checkpoint`.
* ``0xff || 06 08 2a 81 1c cf 55 01 83 75``: SM2 signatures with SM3 (GB/T 32918.2, default
  distinguishing ID ``1234567812345678``) over the note text, the signature being
  ``r || s`` (64 bytes) and the public key the uncompressed point ``04 || x || y``. The
  signed-note spec assigns no byte to SM2; ``0xfa..0xfe`` are reserved for the spec's own
  future use and ``0xff`` is "reserved for signature types without an identifier byte
  assigned by this specification", RECOMMENDED to be followed by "a longer identifier that
  is unlikely to collide". Ours is the DER encoding of the OID of SM2-with-SM3,
  1.2.156.10197.1.501 (GM/T 0006), which is self-delimiting. Key ID =
  SHA-256(name || 0x0A || 0xff || OID DER || 65-byte public key)[:4]. See docs/ledger.md.
"""

from __future__ import annotations

import hashlib

from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

from meterseal.crypto.interfaces import SigningKey
from meterseal.crypto.international import ED25519, ES256
from meterseal.crypto.sm2 import SM2_SIGNATURE
from meterseal.errors import SignatureError
from meterseal.ledger.checkpoint import SIG_COSIGNATURE_V1, CosignatureVerifier
from meterseal.ledger.errors import NoteKeyError
from meterseal.ledger.note import (
    NoteVerifier,
    compute_key_id,
    format_verifier_key,
    is_valid_key_name,
    split_verifier_key,
)

SIG_ED25519 = b"\x01"
"""Signature type of Ed25519 note signatures."""

SIG_ECDSA = b"\x02"
"""Signature type of ECDSA note signatures (transparency-dev/witness)."""

SM2_SM3_OID_DER = bytes.fromhex("06082a811ccf55018375")
"""DER of OID 1.2.156.10197.1.501, SM2 signature with SM3 (GM/T 0006)."""

SIG_SM2_SM3 = b"\xff" + SM2_SM3_OID_DER
"""MeterSeal's signature type for SM2-with-SM3 note signatures (0xff, then the OID)."""

_P256_SPKI_PREFIX = bytes.fromhex(
    "3059301306072a8648ce3d020106082a8648ce3d030107034200"  # SPKI, id-ecPublicKey, P-256
)


def _check_name(name: str) -> None:
    if not is_valid_key_name(name):
        raise NoteKeyError(f"invalid key name {name!r}")


# --- Ed25519 (0x01) -------------------------------------------------------------------


class Ed25519NoteVerifier:
    """Checks Ed25519 note signatures (signature type 0x01) under one name."""

    __slots__ = ("_public_key", "key_id", "name")

    def __init__(self, name: str, public_key: bytes) -> None:
        _check_name(name)
        if len(public_key) != 32:
            raise NoteKeyError("Ed25519 public keys are 32 bytes")
        self.name = name
        self._public_key = public_key
        self.key_id = compute_key_id(name, SIG_ED25519 + public_key)

    @property
    def verifier_key(self) -> str:
        return format_verifier_key(self.name, self.key_id, SIG_ED25519 + self._public_key)

    def verify(self, message: bytes, signature: bytes) -> None:
        ED25519.verify(self._public_key, message, signature)


class Ed25519NoteSigner:
    """Signs note texts with an Ed25519 key handle (signature type 0x01)."""

    __slots__ = ("_key", "key_id", "name")

    def __init__(self, name: str, key: SigningKey) -> None:
        self._key = key
        self.name = name
        self.key_id = Ed25519NoteVerifier(name, key.public_key).key_id

    @property
    def verifier(self) -> Ed25519NoteVerifier:
        return Ed25519NoteVerifier(self.name, self._key.public_key)

    def sign(self, message: bytes) -> bytes:
        return self._key.sign(message)


def parse_signer_key(skey: str) -> Ed25519NoteSigner:
    """An Ed25519 signer from ``PRIVATE+KEY+<name>+<key ID>+base64(0x01 || seed)``.

    The golang.org/x/mod/sumdb/note format; the key ID must match the derived public key.
    """
    marker, _, vkey_like = skey.partition("+KEY+")
    if marker != "PRIVATE":
        raise NoteKeyError("signer keys start with PRIVATE+KEY+")
    name, key_id, type_and_seed = split_verifier_key(vkey_like)
    if type_and_seed[:1] != SIG_ED25519 or len(type_and_seed) != 33:
        raise NoteKeyError(f"signer key {name!r} is not an Ed25519 seed")
    signer = Ed25519NoteSigner(name, ED25519.from_private_bytes(type_and_seed[1:]))
    if signer.key_id != key_id:
        raise NoteKeyError(f"signer key {name!r} has the wrong key ID")
    return signer


# --- ECDSA P-256 (0x02), verify only --------------------------------------------------


def _der_to_raw(signature: bytes) -> bytes:
    try:
        r, s = decode_dss_signature(signature)
    except ValueError as exc:
        raise SignatureError("ECDSA note signature is not DER") from exc
    if r.bit_length() > 256 or s.bit_length() > 256:
        raise SignatureError("ECDSA note signature is not a P-256 signature")
    return r.to_bytes(32, "big") + s.to_bytes(32, "big")


class EcdsaNoteVerifier:
    """Checks ECDSA P-256 / SHA-256 note signatures (type 0x02, transparency-dev/witness)."""

    __slots__ = ("_point", "_spki", "key_id", "name")

    def __init__(self, name: str, spki_der: bytes) -> None:
        _check_name(name)
        if len(spki_der) != 91 or not spki_der.startswith(_P256_SPKI_PREFIX):
            raise NoteKeyError("only uncompressed P-256 SubjectPublicKeyInfo keys are supported")
        self.name = name
        self._spki = spki_der
        self._point = spki_der[len(_P256_SPKI_PREFIX) :]
        self.key_id = int.from_bytes(hashlib.sha256(spki_der).digest()[:4], "big")

    @property
    def verifier_key(self) -> str:
        return format_verifier_key(self.name, self.key_id, SIG_ECDSA + self._spki)

    def verify(self, message: bytes, signature: bytes) -> None:
        ES256.verify(self._point, message, _der_to_raw(signature))


# --- SM2 with SM3 (0xff || OID) -------------------------------------------------------


class Sm2NoteVerifier:
    """Checks SM2-with-SM3 note signatures (MeterSeal's type 0xff || OID 1.2.156.10197.1.501)."""

    __slots__ = ("_public_key", "key_id", "name")

    def __init__(self, name: str, public_key: bytes) -> None:
        _check_name(name)
        if len(public_key) != 65 or public_key[0] != 0x04:
            raise NoteKeyError("SM2 public keys are 65 bytes: 04 || x || y")
        self.name = name
        self._public_key = public_key
        self.key_id = compute_key_id(name, SIG_SM2_SM3 + public_key)

    @property
    def verifier_key(self) -> str:
        return format_verifier_key(self.name, self.key_id, SIG_SM2_SM3 + self._public_key)

    def verify(self, message: bytes, signature: bytes) -> None:
        SM2_SIGNATURE.verify(self._public_key, message, signature)


class Sm2NoteSigner:
    """Signs note texts with an SM2 key handle (the crypto machine holds the key)."""

    __slots__ = ("_key", "key_id", "name")

    def __init__(self, name: str, key: SigningKey) -> None:
        self._key = key
        self.name = name
        self.key_id = Sm2NoteVerifier(name, key.public_key).key_id

    @property
    def verifier(self) -> Sm2NoteVerifier:
        return Sm2NoteVerifier(self.name, self._key.public_key)

    def sign(self, message: bytes) -> bytes:
        return self._key.sign(message)


# --- verifier key strings -------------------------------------------------------------


def _verifier_for(name: str, type_and_key: bytes) -> NoteVerifier:
    kind, key = type_and_key[:1], type_and_key[1:]
    if kind == SIG_ED25519:
        return Ed25519NoteVerifier(name, key)
    if kind == SIG_ECDSA:
        return EcdsaNoteVerifier(name, key)
    if kind == SIG_COSIGNATURE_V1:
        return CosignatureVerifier(name, key)
    if type_and_key.startswith(SIG_SM2_SM3):
        return Sm2NoteVerifier(name, type_and_key[len(SIG_SM2_SM3) :])
    raise NoteKeyError(f"verifier key {name!r} has unknown signature type {kind.hex()}")


def parse_verifier_key(vkey: str) -> NoteVerifier:
    """A verifier from ``<name>+<key ID>+base64(type || key)``; the key ID must match."""
    name, key_id, type_and_key = split_verifier_key(vkey)
    verifier = _verifier_for(name, type_and_key)
    if verifier.key_id != key_id:
        raise NoteKeyError(f"verifier key {name!r} has key ID {key_id:08x}, not its hash")
    return verifier
