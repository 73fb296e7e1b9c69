"""Authentication credentials CRED_x (RFC 9528 section 3.5.2).

A :class:`Credential` is what the transcript and the MACs see (``value``: the CBOR data
item CRED_x, byte for byte) together with the authentication public key it holds, parsed
once at the edge. Two formats are supported:

* a CWT Claims Set (CCS, RFC 8392) whose ``cnf`` claim (8) holds a COSE_Key (1); CRED_x
  is the CCS map itself (RFC 9528 section 3.5.2);
* an X.509 certificate (DER); CRED_x is the certificate wrapped in a CBOR byte string.

Whether the key is trusted is the application's decision: MeterSeal asks for the
credential when the peer's ID_CRED_x arrives, and the application answers with one that
the security server registered.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, x25519

from meterseal import cbor
from meterseal.crypto.interfaces import DhCurve
from meterseal.edhoc.encoding import expect_map, split_sequence
from meterseal.errors import EncodingError, InvalidKeyError, UnsupportedAlgorithmError

KTY_OKP = 1
KTY_EC2 = 2
OKP_DH_CURVES = frozenset({4, 5})
"""COSE curves X25519 (4) and X448 (5): key agreement only."""
OKP_SIGNATURE_CURVES = frozenset({6, 7})
"""COSE curves Ed25519 (6) and Ed448 (7): signatures only."""
ECDH_ALGORITHMS = frozenset(range(-34, -24))
"""COSE ECDH-ES / ECDH-SS algorithm values (RFC 9053 section 6.3)."""

CLAIM_SUB = 2
CLAIM_CNF = 8
CNF_COSE_KEY = 1
KEY_KTY, KEY_KID, KEY_ALG, KEY_CRV, KEY_X, KEY_Y = 1, 2, 3, -1, -2, -3


class KeyUse(enum.Flag):
    """What an authentication key can do: static DH, signatures, or (EC2 keys) both."""

    DH = enum.auto()
    SIGNATURE = enum.auto()


class CredentialFormat(enum.Enum):
    """How CRED_x is encoded (RFC 9528 section 3.5.2)."""

    CCS = "ccs"
    X509 = "x509"


@dataclass(frozen=True, slots=True)
class CoseKey:
    """The parts of a COSE_Key (RFC 9052 section 7) that EDHOC authentication uses."""

    kty: int
    crv: int
    x: bytes
    y: bytes | None = None
    kid: bytes | None = None
    alg: int | None = None

    @property
    def uses(self) -> KeyUse:
        """The authentication methods the key can serve (RFC 9528 section 3.2)."""
        if self.kty == KTY_OKP:
            return KeyUse.DH if self.crv in OKP_DH_CURVES else KeyUse.SIGNATURE
        if self.alg is None:
            return KeyUse.DH | KeyUse.SIGNATURE
        return KeyUse.DH if self.alg in ECDH_ALGORITHMS else KeyUse.SIGNATURE

    def dh_public_key(self, curve: DhCurve) -> bytes:
        """The static DH public key in ``curve``'s encoding (x only, RFC 9528 section 3.7).

        The point itself is checked by the key exchange that uses it.
        """
        if KeyUse.DH not in self.uses or self.crv != curve.cose_crv:
            raise InvalidKeyError(f"credential key (crv {self.crv}) is not a {curve.name} key")
        return self.x

    def signature_public_key(self) -> bytes:
        """The signature public key: ``04 || x || y`` for EC2, the raw key for OKP."""
        if KeyUse.SIGNATURE not in self.uses:
            raise InvalidKeyError("credential key cannot verify signatures")
        if self.kty == KTY_OKP:
            return self.x
        if self.y is None:
            raise InvalidKeyError("EC2 signature keys need their y-coordinate")
        return b"\x04" + self.x + self.y


@dataclass(frozen=True, slots=True)
class Credential:
    """An authentication credential: CRED_x as it enters the transcript, and its key."""

    value: bytes
    key: CoseKey
    format: CredentialFormat
    subject: str | None = None

    @property
    def kid(self) -> bytes | None:
        """The COSE_Key's key identifier, if the credential carries one."""
        return self.key.kid

    @property
    def der(self) -> bytes | None:
        """The DER certificate of an X.509 credential (None for a CCS)."""
        if self.format is not CredentialFormat.X509:
            return None
        der: bytes = cbor.decode(self.value)
        return der

    @classmethod
    def from_ccs(cls, ccs: bytes) -> Credential:
        """Parse a CCS (RFC 8392) with a COSE_Key in its cnf claim (RFC 8747)."""
        items = split_sequence(ccs)
        if len(items) != 1:
            raise EncodingError("a CCS is exactly one CBOR map")
        claims = expect_map(items[0], "CCS")
        subject = claims.get(CLAIM_SUB)
        if subject is not None and type(subject) is not str:
            raise EncodingError("CCS subject (2) must be a text string")
        cnf = claims.get(CLAIM_CNF)
        if type(cnf) is not dict or set(cnf) != {CNF_COSE_KEY}:
            raise EncodingError("CCS cnf (8) must be a map holding one COSE_Key (1)")
        return cls(ccs, _parse_cose_key(cnf[CNF_COSE_KEY]), CredentialFormat.CCS, subject)

    @classmethod
    def from_x509(cls, der: bytes) -> Credential:
        """Take the public key of a DER X.509 certificate (trust is checked elsewhere)."""
        try:
            certificate = x509.load_der_x509_certificate(der)
            public_key = certificate.public_key()
        except ValueError as exc:
            raise EncodingError(f"not a DER X.509 certificate: {exc}") from exc
        subject = certificate.subject.rfc4514_string()
        return cls(cbor.encode(der), _key_from_x509(public_key), CredentialFormat.X509, subject)


def _field(key: dict[Any, Any], label: int, kind: type, required: bool = True) -> Any:
    value = key.get(label)
    if value is None and not required:
        return None
    if type(value) is not kind:
        raise EncodingError(f"COSE_Key parameter {label} must be a {kind.__name__}")
    return value


def _parse_cose_key(key: object) -> CoseKey:
    if type(key) is not dict:
        raise EncodingError("COSE_Key must be a map")
    kty = _field(key, KEY_KTY, int)
    if kty not in (KTY_OKP, KTY_EC2):
        raise UnsupportedAlgorithmError(f"COSE key type {kty} is not supported")
    return CoseKey(
        kty=kty,
        crv=_field(key, KEY_CRV, int),
        x=_field(key, KEY_X, bytes),
        y=_field(key, KEY_Y, bytes, required=kty == KTY_EC2),
        kid=_field(key, KEY_KID, bytes, required=False),
        alg=_field(key, KEY_ALG, int, required=False),
    )


def _key_from_x509(public_key: object) -> CoseKey:
    raw = serialization.Encoding.Raw, serialization.PublicFormat.Raw
    if isinstance(public_key, ed25519.Ed25519PublicKey):
        return CoseKey(KTY_OKP, 6, public_key.public_bytes(*raw))
    if isinstance(public_key, x25519.X25519PublicKey):
        return CoseKey(KTY_OKP, 4, public_key.public_bytes(*raw))
    if isinstance(public_key, ec.EllipticCurvePublicKey) and public_key.curve.name == "secp256r1":
        numbers = public_key.public_numbers()
        return CoseKey(KTY_EC2, 1, numbers.x.to_bytes(32, "big"), numbers.y.to_bytes(32, "big"))
    raise UnsupportedAlgorithmError("certificate key must be Ed25519, X25519 or P-256")


def make_ccs(public_key: bytes, *, crv: int, subject: str, kid: bytes) -> bytes:
    """Build a CCS for a public key (RFC 9528 section 3.5.2, RFC 9529 trace 2 layout).

    ``public_key`` is in the crypto interfaces' encoding: the raw key for OKP curves
    (X25519 4, Ed25519 6), the uncompressed point ``04 || x || y`` for EC2 curves.
    """
    cose_key: dict[int, object] = {KEY_KID: kid, KEY_CRV: crv}
    if crv in OKP_DH_CURVES | OKP_SIGNATURE_CURVES:
        cose_key |= {KEY_KTY: KTY_OKP, KEY_X: public_key}
    elif len(public_key) % 2 == 1 and public_key[:1] == b"\x04":
        half = len(public_key) // 2
        cose_key |= {
            KEY_KTY: KTY_EC2,
            KEY_X: public_key[1 : 1 + half],
            KEY_Y: public_key[1 + half :],
        }
    else:
        raise InvalidKeyError("EC2 credentials need the uncompressed point 04 || x || y")
    return cbor.encode({CLAIM_SUB: subject, CLAIM_CNF: {CNF_COSE_KEY: cose_key}})
