"""The security server's certificate authority: CWTs (RFC 8392) signed inside the machine.

One root signing key per cipher suite lives in a :class:`CryptoMachine` under the label
``ca-root-<suite>``; its private half never leaves. :meth:`CertificateAuthority.issue`
turns a subject's CCS (RFC 8392 claims with a cnf COSE_Key, RFC 8747) into a CWT: a
COSE_Sign1 (RFC 9052 section 4.2) over the CCS claims augmented with iss (1), exp (4),
nbf (5), iat (6) and cti (7). Time is a parameter (``now``, ``not_before``...).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from meterseal import cbor
from meterseal.crypto.cose import decode_sign1, sign1
from meterseal.crypto.suites import CipherSuite
from meterseal.edhoc.credentials import CoseKey, Credential
from meterseal.errors import EncodingError, MeterSealError, VerificationError
from meterseal.hsm.errors import KeyNotFoundError
from meterseal.hsm.interface import CryptoMachine

CLAIM_ISS = 1
CLAIM_EXP = 4
CLAIM_NBF = 5
CLAIM_IAT = 6
CLAIM_CTI = 7
_CA_CLAIMS = frozenset({CLAIM_ISS, CLAIM_EXP, CLAIM_NBF, CLAIM_IAT, CLAIM_CTI})


class CredentialRejectedError(VerificationError):
    """A CWT is not valid: bad signature, wrong issuer, outside its validity, malformed."""


def root_label(suite: CipherSuite) -> str:
    """The machine label of the suite's root signing key, e.g. ``ca-root-2``."""
    return f"ca-root-{suite.value}"


def issuer_name(suite: CipherSuite) -> str:
    """The iss claim the CA writes into CWTs of ``suite``."""
    return f"meterseal-ca/{suite.value}"


@dataclass(frozen=True, slots=True)
class VerifiedCredential:
    """A CWT whose signature, issuer and validity have been checked."""

    claims: dict[int, Any]
    key: CoseKey
    ccs: bytes  # the signed claims: a CCS, CRED_x for EDHOC (RFC 9528 section 3.5.2)
    serial: int
    not_before: int
    not_after: int

    @property
    def credential(self) -> Credential:
        """The EDHOC credential of the CCS."""
        return Credential.from_ccs(self.ccs)


class CertificateAuthority:
    """Issues and verifies CWTs with root keys that stay inside ``machine``."""

    def __init__(self, machine: CryptoMachine, suites: Iterable[CipherSuite]) -> None:
        self._machine = machine
        self._suites = {suite.value: suite for suite in suites}

    @classmethod
    def init(cls, machine: CryptoMachine, suites: Iterable[CipherSuite]) -> CertificateAuthority:
        """Create the missing root keys (idempotent) and return the CA."""
        ca = cls(machine, suites)
        present = {info.label for info in machine.labels()}
        for suite in ca._suites.values():
            if root_label(suite) not in present:
                machine.generate_signing_key(root_label(suite), suite.signature)
        return ca

    def root_public_key(self, suite: CipherSuite) -> bytes:
        """The public key of the suite's root (raw for EdDSA, ``04||x||y`` for EC)."""
        return self._machine.signing_key(root_label(self._suite(suite))).public_key

    def _suite(self, suite: CipherSuite) -> CipherSuite:
        if suite.value not in self._suites:
            raise KeyNotFoundError(f"the CA has no root for suite {suite.value}")
        return suite

    def issue(
        self,
        subject_ccs: bytes,
        suite: CipherSuite,
        *,
        serial: int,
        not_before: int,
        not_after: int,
    ) -> bytes:
        """The CWT of ``subject_ccs``, valid ``not_before <= now < not_after``."""
        if not not_before < not_after:
            raise ValueError("not_before must precede not_after")
        Credential.from_ccs(subject_ccs)  # parse before signing anything
        claims = cbor.decode(subject_ccs)
        if _CA_CLAIMS & set(claims):
            raise EncodingError("the subject CCS may not carry CA claims (1, 4-7)")
        claims |= {
            CLAIM_ISS: issuer_name(suite),
            CLAIM_EXP: not_after,
            CLAIM_NBF: not_before,
            CLAIM_IAT: not_before,
            CLAIM_CTI: serial.to_bytes(max(1, (serial.bit_length() + 7) // 8), "big"),
        }
        key = self._machine.signing_key(root_label(self._suite(suite)))
        return sign1(key, suite.signature, cbor.encode(claims))

    def verify(self, cwt: bytes, suite: CipherSuite, *, now: int) -> VerifiedCredential:
        """Check signature, issuer and validity at ``now``; CredentialRejectedError otherwise."""
        try:
            message = decode_sign1(cwt)
            if message.alg != suite.signature.cose_alg:
                raise EncodingError(f"CWT alg {message.alg} is not the suite's")
            public_key = self.root_public_key(suite)
            suite.signature.verify(public_key, message.to_be_signed(), message.signature)
            claims = cbor.decode(message.payload)
            credential = Credential.from_ccs(message.payload)
        except CredentialRejectedError:
            raise
        except MeterSealError as exc:
            raise CredentialRejectedError(f"CWT refused: {exc}") from exc
        return _checked(claims, credential, suite, now)


def _int_claim(claims: dict[int, Any], label: int) -> int:
    value = claims.get(label)
    if type(value) is not int:
        raise CredentialRejectedError(f"CWT claim {label} must be an integer")
    return value


def _checked(
    claims: dict[int, Any], credential: Credential, suite: CipherSuite, now: int
) -> VerifiedCredential:
    if claims.get(CLAIM_ISS) != issuer_name(suite):
        raise CredentialRejectedError("CWT issuer is not this CA")
    not_before = _int_claim(claims, CLAIM_NBF)
    not_after = _int_claim(claims, CLAIM_EXP)
    if not not_before <= now < not_after:
        raise CredentialRejectedError("CWT is outside its validity period")
    cti = claims.get(CLAIM_CTI)
    if type(cti) is not bytes:
        raise CredentialRejectedError("CWT cti (7) must be a byte string")
    serial = int.from_bytes(cti, "big")
    return VerifiedCredential(
        claims, credential.key, credential.value, serial, not_before, not_after
    )
