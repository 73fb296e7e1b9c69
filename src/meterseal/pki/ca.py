"""The security server's certificate authority: CWTs (RFC 8392) signed inside the machine.

One root signing key per cipher suite lives in a :class:`CryptoMachine` under the label
``ca-root-<suite>``; its private half never leaves. :meth:`CertificateAuthority.issue`
turns a subject's CCS (RFC 8392 claims with a cnf COSE_Key, RFC 8747) into a CWT: a
COSE_Sign1 (RFC 9052 section 4.2) over the CCS claims augmented with iss (1), exp (4),
nbf (5), iat (6) and cti (7). Time is a parameter (``now``, ``not_before``...).

Root generations (a CA rollover, docs/operations.md): the first root of a suite is
``ca-root-<suite>`` with issuer ``meterseal-ca/<suite>``; :meth:`CertificateAuthority.rollover`
makes generation N+1 (``ca-root-<suite>-gN``, issuer ``meterseal-ca/<suite>/gN``) inside
the machine. A CA issues and signs with its own generation and verifies a CWT of any
generation whose root the machine still holds (the CWT's iss names it), so credentials
issued before a rollover stay valid until they are replaced or the old root is retired.
"""

from __future__ import annotations

import re
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
from meterseal.pki.serials import cti_serial, serial_cti

CLAIM_ISS = 1
CLAIM_EXP = 4
CLAIM_NBF = 5
CLAIM_IAT = 6
CLAIM_CTI = 7
_CA_CLAIMS = frozenset({CLAIM_ISS, CLAIM_EXP, CLAIM_NBF, CLAIM_IAT, CLAIM_CTI})


class CredentialRejectedError(VerificationError):
    """A CWT is not valid: bad signature, wrong issuer, outside its validity, malformed."""


def root_label(suite: CipherSuite, generation: int = 1) -> str:
    """The machine label of the suite's root signing key, e.g. ``ca-root-2`` (generation
    1) or ``ca-root-2-g2``."""
    _check_generation(generation)
    suffix = "" if generation == 1 else f"-g{generation}"
    return f"ca-root-{suite.value}{suffix}"


def issuer_name(suite: CipherSuite, generation: int = 1) -> str:
    """The iss claim the CA writes into CWTs of ``suite``, e.g. ``meterseal-ca/2`` or
    ``meterseal-ca/2/g2``."""
    _check_generation(generation)
    suffix = "" if generation == 1 else f"/g{generation}"
    return f"meterseal-ca/{suite.value}{suffix}"


def _check_generation(generation: int) -> None:
    if generation < 1:
        raise ValueError("root generations count from 1")


def root_generations(machine: CryptoMachine, suite: CipherSuite) -> list[int]:
    """The generations of the suite's root that the machine holds, ascending."""
    pattern = re.compile(rf"ca-root-{re.escape(str(suite.value))}(?:-g([0-9]+))?")
    found = (pattern.fullmatch(info.label) for info in machine.labels())
    return sorted(int(match[1] or 1) for match in found if match is not None)


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

    def __init__(
        self, machine: CryptoMachine, suites: Iterable[CipherSuite], generation: int = 1
    ) -> None:
        _check_generation(generation)
        self._machine = machine
        self._suites = {suite.value: suite for suite in suites}
        self._generation = generation

    @property
    def machine(self) -> CryptoMachine:
        """The crypto machine holding the roots."""
        return self._machine

    @property
    def generation(self) -> int:
        """The root generation this CA issues and signs with."""
        return self._generation

    @classmethod
    def current(cls, machine: CryptoMachine, suites: Iterable[CipherSuite]) -> CertificateAuthority:
        """The CA of the newest generation the machine holds a root of for every suite."""
        chosen = tuple(suites)
        held = [set(root_generations(machine, suite)) for suite in chosen]
        common = set.intersection(*held) if held else set()
        if not common:
            raise KeyNotFoundError("the machine holds no complete set of CA roots")
        return cls(machine, chosen, max(common))

    @classmethod
    def rollover(
        cls, machine: CryptoMachine, suites: Iterable[CipherSuite]
    ) -> CertificateAuthority:
        """Make the next generation's roots inside the machine and return its CA (the
        old roots stay, to verify what they issued, until retired)."""
        chosen = tuple(suites)
        new = cls.current(machine, chosen).generation + 1
        for suite in chosen:
            machine.generate_signing_key(root_label(suite, new), suite.signature)
        return cls(machine, chosen, new)

    @classmethod
    def init(cls, machine: CryptoMachine, suites: Iterable[CipherSuite]) -> CertificateAuthority:
        """Create the first root of each suite that has none yet (idempotent; a suite
        whose first root was retired after a rollover keeps its later ones) and return
        the CA of generation 1."""
        ca = cls(machine, suites)
        for suite in ca._suites.values():
            if not root_generations(machine, suite):
                machine.generate_signing_key(root_label(suite), suite.signature)
        return ca

    def root_public_key(self, suite: CipherSuite, generation: int | None = None) -> bytes:
        """The public key of the suite's root (raw for EdDSA, ``04||x||y`` for EC), of
        this CA's generation unless told another."""
        label = root_label(self._suite(suite), generation or self._generation)
        return self._machine.signing_key(label).public_key

    @property
    def suites(self) -> tuple[CipherSuite, ...]:
        """The suites this CA has roots for."""
        return tuple(self._suites.values())

    def sign_with_root(self, suite: CipherSuite, payload: bytes) -> bytes:
        """A COSE_Sign1 of ``payload`` by the suite's root (revocation lists, RFC 9052
        section 4.2); the private key stays in the machine."""
        key = self._machine.signing_key(root_label(self._suite(suite), self._generation))
        return sign1(key, suite.signature, payload)

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
            CLAIM_ISS: issuer_name(suite, self._generation),
            CLAIM_EXP: not_after,
            CLAIM_NBF: not_before,
            CLAIM_IAT: not_before,
            CLAIM_CTI: serial_cti(serial),
        }
        key = self._machine.signing_key(root_label(self._suite(suite), self._generation))
        return sign1(key, suite.signature, cbor.encode(claims))

    def verify(self, cwt: bytes, suite: CipherSuite, *, now: int) -> VerifiedCredential:
        """Check signature, issuer and validity at ``now``; CredentialRejectedError otherwise."""
        try:
            message = decode_sign1(cwt)
            if message.alg != suite.signature.cose_alg:
                raise EncodingError(f"CWT alg {message.alg} is not the suite's")
            claims = cbor.decode(message.payload)
            generation = self._issuer_generation(suite, claims)
            public_key = self.root_public_key(suite, generation)
            suite.signature.verify(public_key, message.to_be_signed(), message.signature)
            credential = Credential.from_ccs(message.payload)
        except CredentialRejectedError:
            raise
        except MeterSealError as exc:
            raise CredentialRejectedError(f"CWT refused: {exc}") from exc
        return _checked(claims, credential, now)

    def _issuer_generation(self, suite: CipherSuite, claims: object) -> int:
        """The root generation the (not yet verified) iss claim names, if held."""
        iss = claims.get(CLAIM_ISS) if isinstance(claims, dict) else None
        for generation in root_generations(self._machine, self._suite(suite)):
            if iss == issuer_name(suite, generation):
                return generation
        raise CredentialRejectedError("CWT issuer is not this CA")


def _int_claim(claims: dict[int, Any], label: int) -> int:
    value = claims.get(label)
    if type(value) is not int:
        raise CredentialRejectedError(f"CWT claim {label} must be an integer")
    return value


def _checked(claims: dict[int, Any], credential: Credential, now: int) -> VerifiedCredential:
    not_before = _int_claim(claims, CLAIM_NBF)
    not_after = _int_claim(claims, CLAIM_EXP)
    if not not_before <= now < not_after:
        raise CredentialRejectedError("CWT is outside its validity period")
    try:
        serial = cti_serial(claims.get(CLAIM_CTI))
    except EncodingError as exc:
        raise CredentialRejectedError(f"CWT refused: {exc}") from exc
    return VerifiedCredential(
        claims, credential.key, credential.value, serial, not_before, not_after
    )
