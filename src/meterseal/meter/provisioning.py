"""Provisioning for the simulator, the demo and the tests: meters, head-end identities, trust.

**Stand-in.** In production the security server (``pki/``, a later issue) checks a meter
against the factory manifest, issues its credential and registers it. Until it exists,
:func:`register` is the simulator's stand-in: it writes the meter's registration
(:class:`~meterseal.store.rows.MeterRecord`) straight into the head-end's store, and
:func:`make_headend_identities` makes the head-end's EDHOC and command keys in software
(the real head-end keeps them in its crypto machine).

A meter (:func:`make_meter`) is a secure element that generates its keys inside, a
metering model, and its credential: a CCS (RFC 8392) whose COSE_Key holds the public key
of its EDHOC identity key, with ``sub`` and ``kid`` the meter id (docs/protocol.md section 4).
Its trust store holds the head-end's credentials for the meter's suite and the head-end's
command public key (:class:`~meterseal.meter.trust.HeadendTrust`).

A meter registered by the security server (:mod:`meterseal.pki.registration`) uses the
CCS the CA issued instead (:func:`adopt_credential`), and rotates its identity key with
:func:`request_rotation` then :func:`adopt_credential` (:mod:`meterseal.pki.rotation`;
the request and the new credential travel by function call in this increment).

Head-end kids are ``HE-<|suite|>-dh`` and ``HE-<|suite|>-sig`` (e.g. ``HE-2-dh``,
``HE-24-sig``): one static DH key per suite for methods 1 and 3, one signature key per
suite for methods 0 and 2, and a separate command key per suite (kid ``HE-<|suite|>-cmd``).
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Final, Protocol

from meterseal.crypto.interfaces import DhKey, Rng, SigningKey
from meterseal.crypto.suites import CipherSuite, get_suite, supported_suites
from meterseal.edhoc.authentication import LocalIdentity
from meterseal.edhoc.credentials import Credential, make_ccs
from meterseal.edhoc.id_cred import IdCred
from meterseal.edhoc.messages import Method
from meterseal.errors import SecureElementError
from meterseal.messages.batch import ReadingBatch
from meterseal.messages.readings import MeterType
from meterseal.messages.sealing import seal_batch
from meterseal.meter.metering import (
    ElectricityMeter,
    GasMeter,
    MeterModel,
    MeterSettings,
    WaterMeter,
)
from meterseal.meter.se_state import ScryptParams
from meterseal.meter.secure_element import KeyKind, SecureElement
from meterseal.meter.session import RecordSession, SessionConfig
from meterseal.meter.trust import HeadendTrust
from meterseal.pki.revocation import RevocationList, verify_revocation_list
from meterseal.pki.rotation import RotationRequest, make_rotation_request
from meterseal.pki.serials import ccs_serial
from meterseal.records.keys import Exporter
from meterseal.store.rows import STATE_REGISTERED, MeterRecord

SIMULATOR_SCRYPT: Final = ScryptParams(log2_n=10, r=8, p=1)
"""A cheap at-rest cost for simulated meters (a fleet of thousands starts in seconds)."""

MODELS: Final[dict[MeterType, type[MeterModel]]] = {
    MeterType.ELECTRICITY: ElectricityMeter,
    MeterType.WATER: WaterMeter,
    MeterType.GAS: GasMeter,
}


def _ccs_credential(public: bytes, suite: CipherSuite, signs: bool, kid: bytes) -> Credential:
    crv = suite.credential_crv(signs=signs)
    return Credential.from_ccs(make_ccs(public, crv=crv, subject=kid.decode("ascii"), kid=kid))


def dh_identity(key: DhKey, suite: CipherSuite, kid: bytes) -> LocalIdentity:
    """A static DH identity sent by kid, its CCS made for ``key`` (subject = kid)."""
    credential = _ccs_credential(key.public_point, suite, False, kid)
    return LocalIdentity.static_dh(credential, IdCred.by_kid(kid), key)


def signature_identity(key: SigningKey, suite: CipherSuite, kid: bytes) -> LocalIdentity:
    """A signature identity sent by kid, its CCS made for ``key`` (subject = kid)."""
    credential = _ccs_credential(key.public_key, suite, True, kid)
    return LocalIdentity.signature(credential, IdCred.by_kid(kid), key)


# --- the head-end ---------------------------------------------------------------------


def headend_kid(suite: CipherSuite, role: str) -> bytes:
    """``HE-<|suite|>-<role>`` with role ``dh``, ``sig`` or ``cmd``."""
    return f"HE-{abs(suite.value)}-{role}".encode("ascii")


@dataclass(frozen=True, slots=True)
class HeadendIdentities:
    """The head-end's EDHOC identities per (suite, responder signs) and command keys."""

    identities: Mapping[tuple[int, bool], LocalIdentity]
    command_keys: Mapping[int, SigningKey]

    def for_handshake(self, suite: CipherSuite, method: Method) -> LocalIdentity:
        """The identity that answers message_1 of ``method`` in ``suite``."""
        return self.identities[(suite.value, method.responder_signs)]

    def by_method(self) -> dict[tuple[int, Method], LocalIdentity]:
        """The identities keyed by (suite value, method), for every method of every suite
        (the shape of ``meterseal.headend.HeadendKeys.identities``)."""
        return {
            (suite, method): identity
            for (suite, signs), identity in self.identities.items()
            for method in Method
            if method.responder_signs is signs
        }

    def command_key(self, suite: CipherSuite) -> SigningKey:
        """The key that signs commands for meters of ``suite``."""
        return self.command_keys[suite.value]

    def credentials(self, suite: CipherSuite) -> list[Credential]:
        """The head-end's EDHOC credentials for ``suite``."""
        return [self.identities[(suite.value, signs)].credential for signs in (False, True)]

    def trust_for(self, suite: CipherSuite) -> HeadendTrust:
        """What a meter of ``suite`` is provisioned to trust."""
        return HeadendTrust.of(self.credentials(suite), self.command_key(suite).public_key)


class HeadendKeySource(Protocol):
    """Where a head-end's keys come from: software keys here, crypto-machine handles in
    ``meterseal.demo``. ``role`` is ``"sig"`` (EDHOC) or ``"command"``."""

    def dh_key(self, suite: CipherSuite) -> DhKey: ...

    def signing_key(self, suite: CipherSuite, role: str) -> SigningKey: ...


def headend_identities(keys: HeadendKeySource, suites: Iterable[CipherSuite]) -> HeadendIdentities:
    """A DH and a signature identity and a command key for each suite, from ``keys``."""
    identities: dict[tuple[int, bool], LocalIdentity] = {}
    command_keys: dict[int, SigningKey] = {}
    for suite in suites:
        dh_key = keys.dh_key(suite)
        identities[(suite.value, False)] = dh_identity(dh_key, suite, headend_kid(suite, "dh"))
        sig_key = keys.signing_key(suite, "sig")
        identities[(suite.value, True)] = signature_identity(
            sig_key, suite, headend_kid(suite, "sig")
        )
        command_keys[suite.value] = keys.signing_key(suite, "command")
    return HeadendIdentities(MappingProxyType(identities), MappingProxyType(command_keys))


@dataclass(frozen=True, slots=True)
class _SoftwareKeys:
    rng: Rng

    def dh_key(self, suite: CipherSuite) -> DhKey:
        return suite.dh.generate(self.rng)

    def signing_key(self, suite: CipherSuite, role: str) -> SigningKey:
        del role  # every software key is fresh
        return suite.signature.generate(self.rng)


def make_headend_identities(
    rng: Rng, suites: Iterable[CipherSuite] | None = None
) -> HeadendIdentities:
    """Software keys for a head-end (tests, simulator): a DH and a signature identity and
    a command key for each suite."""
    return headend_identities(_SoftwareKeys(rng), supported_suites() if suites is None else suites)


# --- meters ---------------------------------------------------------------------------


@dataclass(eq=False)
class ProvisionedMeter:
    """A simulated meter: its secure element, metering model, credential and trust."""

    meter_id: str
    owner: str
    suite: CipherSuite
    method: Method
    model: MeterModel
    element: SecureElement
    identity: LocalIdentity
    trust: HeadendTrust
    revocation_number: int = 0  # the newest revocation list this meter applied

    @property
    def meter_type(self) -> MeterType:
        """Electricity, water or gas."""
        return self.model.meter_type

    @property
    def credential(self) -> Credential:
        """The meter's EDHOC credential (CCS), as registered."""
        return self.identity.credential

    def seal(self, batch: ReadingBatch) -> bytes:
        """Sign a batch with the data key, inside the secure element."""
        return seal_batch(batch, self.element.data_key, self.suite.signature)

    def session_config(self, *, expect_message_4: bool = True) -> SessionConfig:
        """The session configuration; record keys live in the secure element."""
        return SessionConfig(
            self.meter_id,
            self.suite,
            self.method,
            self.identity,
            self.trust,
            records=self._install_records,
            expect_message_4=expect_message_4,
        )

    def _install_records(
        self, suite: CipherSuite, exporter: Exporter, c_i: bytes, c_r: bytes
    ) -> RecordSession:
        return self.element.install_session(suite, exporter, c_i, c_r, initiator=True)

    def record(self, registered_at: int, state: str = STATE_REGISTERED) -> MeterRecord:
        """The registration the security server would write for this meter."""
        return MeterRecord(
            meter_id=self.meter_id,
            meter_type=self.meter_type.name.lower(),
            suite=self.suite.value,
            owner=self.owner,
            public_key=self.element.data_key.public_key,
            identity_credential=self.credential.value,
            state=state,
            registered_at=registered_at,
        )


def _element(
    meter_id: str, suite: CipherSuite, method: Method, rng: Rng, scrypt: ScryptParams
) -> SecureElement:
    kind = KeyKind.SIGNATURE if method.initiator_signs else KeyKind.STATIC_DH
    return SecureElement.create(
        suites=(suite,),
        device_secret=rng(32),
        rng=rng,
        device_id=meter_id.encode("ascii"),
        kinds=(kind,),
        scrypt=scrypt,
    )


def meter_identity(element: SecureElement, meter_id: str, method: Method) -> LocalIdentity:
    """The meter's EDHOC identity from its secure element's handle (kid = meter id)."""
    suite, kid = get_suite(element.suites[0]), meter_id.encode("ascii")
    if method.initiator_signs:
        return signature_identity(element.identity_signing_key(suite), suite, kid)
    return dh_identity(element.identity_dh_key(suite), suite, kid)


def make_meter(
    meter_id: str,
    meter_type: MeterType,
    suite: CipherSuite,
    method: Method,
    trust: HeadendTrust,
    *,
    rng: Rng,
    model_seed: int,
    owner: str | None = None,
    settings: MeterSettings | None = None,
    scrypt: ScryptParams = SIMULATOR_SCRYPT,
) -> ProvisionedMeter:
    """Personalise a meter: keys generated inside its secure element, model, credential."""
    element = _element(meter_id, suite, method, rng, scrypt)
    model_rng = random.Random(model_seed)  # noqa: S311 - simulated consumption, not secrets
    model = MODELS[meter_type](meter_id, model_rng, settings or MeterSettings())
    return ProvisionedMeter(
        meter_id=meter_id,
        owner=owner or f"owner of {meter_id}",
        suite=suite,
        method=method,
        model=model,
        element=element,
        identity=meter_identity(element, meter_id, method),
        trust=trust,
    )


def adopt_credential(meter: ProvisionedMeter, ccs: bytes) -> None:
    """Authenticate from now on with the CA-issued ``ccs`` (RFC 8392) for the meter's
    identity key: its static DH key if its method has the initiator use one, else its
    signature key. If a rotation is pending and ``ccs`` names the pending key, the
    rotation is committed first (the old key is destroyed in the element)."""
    credential = Credential.from_ccs(ccs)
    element, suite = meter.element, meter.suite
    kid = meter.meter_id.encode("ascii")
    if not meter.method.initiator_signs:
        dh_key = element.identity_dh_key(suite)
        if dh_key.public_key != credential.key.dh_public_key(suite.dh):
            raise SecureElementError("the credential names no key of this element")
        meter.identity = LocalIdentity.static_dh(credential, IdCred.by_kid(kid), dh_key)
        return
    public_key = credential.key.signature_public_key()
    if element.identity_signing_key(suite).public_key != public_key:
        if element.pending_signing_key(suite).public_key != public_key:
            raise SecureElementError("the credential names no key of this element")
        element.commit_rotation(suite)
    key = element.identity_signing_key(suite)
    meter.identity = LocalIdentity.signature(credential, IdCred.by_kid(kid), key)


def request_rotation(meter: ProvisionedMeter, serial: int, *, now: int) -> bytes:
    """Make a new identity key pair inside the element and return the rotation request
    for credential ``serial``, signed by the old key and the new one."""
    suite = meter.suite
    new_key = meter.element.begin_rotation(suite)
    request = RotationRequest(meter.meter_id, suite.value, serial, new_key.public_key, now)
    return make_rotation_request(request, meter.element.identity_signing_key(suite), new_key)


def apply_revocation_list(
    meter: ProvisionedMeter, signed: bytes, *, root_public_key: bytes, now: int, generation: int = 1
) -> RevocationList:
    """Check a signed revocation list with the CA root of the meter's suite (refusing a
    forged, stale or rolled-back one: :func:`~meterseal.pki.revocation.verify_revocation_list`)
    and stop trusting every head-end credential whose serial it names, so that a revoked
    head-end key fails the meter's next handshake."""
    content = verify_revocation_list(
        signed,
        meter.suite,
        root_public_key,
        now=now,
        min_number=meter.revocation_number,
        generation=generation,
    )
    kept = [
        credential
        for credential in meter.trust.credentials.values()
        if _serial(credential) not in content.serials
    ]
    meter.trust = HeadendTrust.of(kept, meter.trust.command_key)
    meter.revocation_number = content.number
    return content


def _serial(credential: Credential) -> int | None:
    """The serial of a CA-issued CCS credential; None for others."""
    if credential.value[:1] == b"\x30":  # an X.509 certificate: no cti
        return None
    return ccs_serial(credential.value)


class MeterRegistry(Protocol):
    """Where registrations go: :class:`~meterseal.store.interface.Store` is one."""

    def add_meter(self, meter: MeterRecord) -> None:
        """Register a meter."""
        ...


def register(store: MeterRegistry, meter: ProvisionedMeter, *, registered_at: int) -> MeterRecord:
    """Register ``meter`` in the head-end's store (the simulator's stand-in for the
    security server, see the module docstring); return the record written."""
    record = meter.record(registered_at)
    store.add_meter(record)
    return record
