"""Cipher suites: the bundles of algorithms that EDHOC negotiates (RFC 9528 section 3.6).

=====  ===========================  ==========================================
value  name                         algorithms
=====  ===========================  ==========================================
0      international (EdDSA)        AES-CCM-16-64-128, SHA-256, MAC 8, X25519, EdDSA
2      international (P-256)        AES-CCM-16-64-128, SHA-256, MAC 8, P-256, ES256
-24    GM/T (private use)           SM4-GCM-128, SM3, MAC 16, SM2 curve, SM2-SM3
=====  ===========================  ==========================================

The record layer that follows the handshake uses ``record_aead`` (AES-GCM-128 for the
international suites, SM4-GCM for GM/T) and ``app_hash`` for its key derivation; see
docs/protocol.md for why the records do not use the suites' CCM_8 application AEAD.
"""

from __future__ import annotations

from dataclasses import dataclass

from meterseal.crypto.aead import A128GCM, AES_CCM_16_64_128, SM4_GCM_128
from meterseal.crypto.hashes import SHA_256, SM3
from meterseal.crypto.interfaces import AeadAlg, DhCurve, HashAlg, SignatureAlg
from meterseal.crypto.international import (
    COSE_ALG_EDDSA,
    COSE_CRV_ED25519,
    ED25519,
    ES256,
    P256,
    X25519,
)
from meterseal.crypto.sm2 import SM2_CURVE, SM2_SIGNATURE
from meterseal.errors import UnsupportedAlgorithmError


@dataclass(frozen=True, slots=True)
class CipherSuite:
    """One EDHOC cipher suite and the record protection that goes with it."""

    value: int
    name: str
    edhoc_aead: AeadAlg
    edhoc_hash: HashAlg
    mac_length: int
    dh: DhCurve
    signature: SignatureAlg
    app_aead: AeadAlg
    app_hash: HashAlg
    record_aead: AeadAlg

    def credential_crv(self, *, signs: bool) -> int:
        """The COSE curve a credential names for this suite's authentication key: Ed25519
        for an EdDSA key, otherwise the suite's curve (its EC2 signature keys share it)."""
        if signs and self.signature.cose_alg == COSE_ALG_EDDSA:
            return COSE_CRV_ED25519
        return self.dh.cose_crv

    def cose_array(self) -> list[int]:
        """The suite as the array of COSE values that RFC 9528 section 10.2 registers."""
        return [
            self.edhoc_aead.cose_alg,
            self.edhoc_hash.cose_alg,
            self.mac_length,
            self.dh.cose_crv,
            self.signature.cose_alg,
            self.app_aead.cose_alg,
            self.app_hash.cose_alg,
        ]


SUITE_0 = CipherSuite(
    value=0,
    name="EDHOC suite 0 (X25519, EdDSA, AES-CCM-16-64-128, SHA-256)",
    edhoc_aead=AES_CCM_16_64_128,
    edhoc_hash=SHA_256,
    mac_length=8,
    dh=X25519,
    signature=ED25519,
    app_aead=AES_CCM_16_64_128,
    app_hash=SHA_256,
    record_aead=A128GCM,
)

SUITE_2 = CipherSuite(
    value=2,
    name="EDHOC suite 2 (P-256, ES256, AES-CCM-16-64-128, SHA-256)",
    edhoc_aead=AES_CCM_16_64_128,
    edhoc_hash=SHA_256,
    mac_length=8,
    dh=P256,
    signature=ES256,
    app_aead=AES_CCM_16_64_128,
    app_hash=SHA_256,
    record_aead=A128GCM,
)

GMT_SUITE_VALUE = -24
"""EDHOC private-use cipher suite value (RFC 9528 section 10.2) for the GM/T suite."""

SUITE_GMT = CipherSuite(
    value=GMT_SUITE_VALUE,
    name="GM/T private suite -24 (SM2 curve, SM2-SM3, SM4-GCM-128, SM3)",
    edhoc_aead=SM4_GCM_128,
    edhoc_hash=SM3,
    mac_length=16,
    dh=SM2_CURVE,
    signature=SM2_SIGNATURE,
    app_aead=SM4_GCM_128,
    app_hash=SM3,
    record_aead=SM4_GCM_128,
)

_REGISTRY: dict[int, CipherSuite] = {suite.value: suite for suite in (SUITE_2, SUITE_GMT, SUITE_0)}


def get_suite(value: int) -> CipherSuite:
    """Return the suite registered under ``value``, or raise UnsupportedAlgorithmError."""
    try:
        return _REGISTRY[value]
    except KeyError:
        raise UnsupportedAlgorithmError(f"cipher suite {value} is not supported") from None


def supported_suites() -> tuple[CipherSuite, ...]:
    """Every suite this build offers, in order of preference."""
    return tuple(_REGISTRY.values())
