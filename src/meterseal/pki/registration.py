"""Meter registration: a factory-declared meter joins a customer and gets its credential.

:func:`register` admits a meter only if the factory manifest declares its ID, the public
keys it presents are exactly the manifest's, the owner it names matches the customer
record, and it is not registered yet. It then issues the identity CWT (RFC 8392) through
the CA, with a random serial in its cti claim (:mod:`meterseal.pki.serials`), and files,
in one transaction, a :class:`~meterseal.store.rows.MeterRecord` whose identity
credential is the CWT's CCS (CRED_x as EDHOC, RFC 9528 section 3.5.2, uses it: a
signature key for methods 0 and 1, a static DH key for methods 2 and 3), the
credential under its serial, and an issuance key event. A refused registration is
recorded as a key event too (:mod:`meterseal.pki.events`).
"""

from __future__ import annotations

import enum
import hmac
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Protocol

from meterseal.crypto.suites import get_suite
from meterseal.edhoc.credentials import make_ccs
from meterseal.errors import MeterSealError
from meterseal.pki import events
from meterseal.pki.ca import CertificateAuthority, VerifiedCredential
from meterseal.pki.manifest import Manifest, ManifestEntry
from meterseal.store.errors import DuplicateMeterError
from meterseal.store.rows import STATE_REGISTERED, MeterRecord
from meterseal.store.security import (
    CREDENTIAL_ACTIVE,
    SUBJECT_METER,
    CredentialRow,
    SecurityStore,
)


class RefusalReason(enum.StrEnum):
    """Why a registration was refused."""

    UNKNOWN_METER = "unknown meter"
    KEY_MISMATCH = "key mismatch"
    OWNER_MISMATCH = "owner mismatch"
    ALREADY_REGISTERED = "already registered"


class RegistrationRefusedError(MeterSealError):
    """The registration was refused; ``reason`` says why."""

    def __init__(self, reason: RefusalReason, detail: str = "") -> None:
        super().__init__(f"registration refused: {reason}{': ' + detail if detail else ''}")
        self.reason = reason


class RegistrationStore(SecurityStore, Protocol):
    """The store registration needs: the security records and the meter registry."""

    def get_meter(self, meter_id: str) -> MeterRecord | None:
        """The registered meter, or None."""
        ...


@dataclass(frozen=True, slots=True)
class CustomerRecord:
    """The utility's record of a customer: who, and a hash of the supply address."""

    customer_id: str
    address_hash: bytes


@dataclass(frozen=True, slots=True)
class RegistrationRequest:
    """What the installer presents: the meter, its keys, and its owner."""

    meter_id: str
    identity_public_key: bytes
    data_public_key: bytes
    customer_id: str
    address_hash: bytes
    static_dh: bool = False  # the identity key is a static DH key (EDHOC methods 2 and 3)


@dataclass(frozen=True, slots=True)
class Validity:
    """The identity credential's serial number and validity, and the registration time."""

    serial: int
    now: int
    not_after: int


@dataclass(frozen=True, slots=True)
class Registration:
    """The outcome of a successful registration."""

    cwt: bytes
    credential: VerifiedCredential
    record: MeterRecord


def credential_row(
    cwt: bytes, credential: VerifiedCredential, *, subject: str, suite: int, issued_at: int
) -> CredentialRow:
    """The credentials-table row of a freshly issued, verified meter CWT."""
    return CredentialRow(
        serial=credential.serial,
        subject_kind=SUBJECT_METER,
        subject=subject,
        suite=suite,
        credential=cwt,
        credential_hash=events.credential_hash(cwt),
        not_before=credential.not_before,
        not_after=credential.not_after,
        state=CREDENTIAL_ACTIVE,
        issued_at=issued_at,
    )


def register(
    manifest: Manifest,
    customer_records: Mapping[str, CustomerRecord],
    request: RegistrationRequest,
    *,
    ca: CertificateAuthority,
    store: RegistrationStore,
    validity: Validity,
) -> Registration:
    """Check the request, issue the identity CWT and file the meter (see module doc)."""
    try:
        entry = _admitted(manifest, customer_records, request, store)
    except RegistrationRefusedError as exc:
        _record_refusal(store, request.meter_id, exc.reason, validity.now)
        raise
    suite = get_suite(entry.suite)
    ccs = make_ccs(
        entry.identity_public_key,
        crv=suite.credential_crv(signs=not request.static_dh),
        subject=entry.meter_id,
        kid=entry.meter_id.encode("utf-8"),
    )
    cwt = ca.issue(
        ccs, suite, serial=validity.serial, not_before=validity.now, not_after=validity.not_after
    )
    credential = ca.verify(cwt, suite, now=validity.now)
    record = MeterRecord(
        meter_id=entry.meter_id,
        meter_type=entry.meter_type,
        suite=suite.value,
        owner=request.customer_id,
        public_key=entry.data_public_key,
        identity_credential=credential.ccs,
        state=STATE_REGISTERED,
        registered_at=validity.now,
    )
    row = credential_row(
        cwt, credential, subject=entry.meter_id, suite=suite.value, issued_at=validity.now
    )
    try:
        store.register_meter(record, row, [events.issued(row, registered=record)])
    except DuplicateMeterError as exc:
        _record_refusal(store, request.meter_id, RefusalReason.ALREADY_REGISTERED, validity.now)
        raise RegistrationRefusedError(RefusalReason.ALREADY_REGISTERED) from exc
    return Registration(cwt, credential, record)


def _record_refusal(store: SecurityStore, meter_id: str, reason: RefusalReason, now: int) -> None:
    store.record_key_events([events.refused(meter_id, at=now, reason=reason.value)])


def _admitted(
    manifest: Manifest,
    customer_records: Mapping[str, CustomerRecord],
    request: RegistrationRequest,
    store: RegistrationStore,
) -> ManifestEntry:
    entry = manifest.get(request.meter_id)
    if entry is None:
        raise RegistrationRefusedError(RefusalReason.UNKNOWN_METER, request.meter_id)
    if not (
        hmac.compare_digest(entry.identity_public_key, request.identity_public_key)
        and hmac.compare_digest(entry.data_public_key, request.data_public_key)
    ):
        raise RegistrationRefusedError(RefusalReason.KEY_MISMATCH, request.meter_id)
    customer = customer_records.get(request.customer_id)
    if customer is None or not hmac.compare_digest(customer.address_hash, request.address_hash):
        raise RegistrationRefusedError(RefusalReason.OWNER_MISMATCH, request.customer_id)
    if store.get_meter(request.meter_id) is not None:
        raise RegistrationRefusedError(RefusalReason.ALREADY_REGISTERED, request.meter_id)
    return entry
