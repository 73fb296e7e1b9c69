"""Meter identity-key rotation: a new key pair made in the secure element, a new credential,
the old one superseded for a grace period, then revoked.

The rotation request is a CBOR array of two COSE_Sign1 (RFC 9052 section 4.2) over the
same payload, with external AAD ``"MeterSeal key rotation"``::

    payload = {1: meter_id, 2: suite, 3: old serial, 4: new public key, 5: requested_at}
    request = [COSE_Sign1 by the OLD identity key, COSE_Sign1 by the NEW identity key]

The old key's signature says the registered meter asks for the change (it is checked
against the meter's registered credential, whose serial must be the one named and still
active); the new key's signature proves that the meter holds the new private key (proof
of possession, as in RFC 4211 section 4). The CA then issues a CWT for the new key with a
fresh serial, and in one store transaction the old credential becomes ``superseded``
until ``now + grace``, the new one is filed and becomes the meter's registered
credential, the generation, issuance and rotation key events are written, and the next
revocation list is published (revoking nothing new: its number makes every head-end
worker drop its cached registrations, so the new credential is used at once).

What the grace period means here: the head-end finds a meter's credential by kid (the
meter id, docs/protocol.md section 5), so it authenticates NEW handshakes with the new
credential at once; sessions opened with the old key keep running, and the old key's
signatures stay attributable, until the grace period ends and :func:`expire_superseded`
revokes the old credential (superseded -> revoked, a new signed list), which closes those
sessions on every head-end worker.

Transport: in this increment the request and the new credential travel by function call
(:func:`meterseal.meter.provisioning.request_rotation` and
:func:`~meterseal.meter.provisioning.adopt_credential`); carrying them in a head-end
command is a later step.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

from meterseal import cbor
from meterseal.crypto.cose import decode_sign1, sign1, verify1
from meterseal.crypto.interfaces import Rng, SigningKey
from meterseal.crypto.suites import CipherSuite, get_suite
from meterseal.edhoc.credentials import Credential, make_ccs
from meterseal.errors import EncodingError, MeterSealError, VerificationError
from meterseal.ledger.leaves import RevocationReason
from meterseal.pki import events
from meterseal.pki.ca import CertificateAuthority, VerifiedCredential
from meterseal.pki.registration import RegistrationStore, credential_row
from meterseal.pki.revocation import list_signer
from meterseal.pki.serials import ccs_serial, new_serial
from meterseal.store.rows import STATE_REGISTERED
from meterseal.store.security import (
    CREDENTIAL_ACTIVE,
    CredentialRow,
    RevocationListRow,
    SecurityStore,
)

ROTATION_AAD: Final = b"MeterSeal key rotation"
DEFAULT_GRACE: Final = 7 * 86_400
MAX_REQUEST_AGE: Final = 300
"""How far a request's time may be from the CA's clock, in seconds."""
_KEYS = frozenset({1, 2, 3, 4, 5})


class RotationRefusedError(VerificationError):
    """A rotation request was refused: forged, stale, or for a credential not active."""


@dataclass(frozen=True, slots=True)
class RotationRequest:
    """What a meter asks for: replace credential ``old_serial`` by one for the new key."""

    meter_id: str
    suite: int
    old_serial: int
    new_public_key: bytes
    requested_at: int

    def payload(self) -> bytes:
        """The signed payload (see the module docstring)."""
        return cbor.encode(
            {
                1: self.meter_id,
                2: self.suite,
                3: self.old_serial,
                4: self.new_public_key,
                5: self.requested_at,
            }
        )


@dataclass(frozen=True, slots=True)
class Rotated:
    """The outcome of a rotation: the new CWT and both credential rows."""

    cwt: bytes
    credential: VerifiedCredential
    old: CredentialRow
    new: CredentialRow
    grace_until: int


def make_rotation_request(
    request: RotationRequest, old_key: SigningKey, new_key: SigningKey
) -> bytes:
    """The request signed by the old and the new identity key (inside the element)."""
    alg = get_suite(request.suite).signature
    payload = request.payload()
    old = sign1(old_key, alg, payload, external_aad=ROTATION_AAD)
    new = sign1(new_key, alg, payload, external_aad=ROTATION_AAD)
    return cbor.encode([old, new])


def parse_rotation_request(data: bytes) -> tuple[RotationRequest, bytes, bytes]:
    """The request and its two signed copies (signatures NOT checked)."""
    try:
        item: Any = cbor.decode(data)
        if type(item) is not list or len(item) != 2 or not all(type(i) is bytes for i in item):
            raise EncodingError("a rotation request is an array of two COSE_Sign1")
        old, new = item
        payload = decode_sign1(old).payload
        if decode_sign1(new).payload != payload:
            raise EncodingError("the two signatures cover different payloads")
        fields: Any = cbor.decode(payload)
        if type(fields) is not dict or set(fields) != _KEYS:
            raise EncodingError("a rotation payload is a map with keys 1 to 5")
        request = RotationRequest(fields[1], fields[2], fields[3], fields[4], fields[5])
        _check_types(request)
    except MeterSealError as exc:
        raise RotationRefusedError(f"rotation request refused: {exc}") from exc
    return request, old, new


def _check_types(request: RotationRequest) -> None:
    typed = (
        type(request.meter_id) is str
        and type(request.suite) is int
        and type(request.old_serial) is int
        and type(request.new_public_key) is bytes
        and type(request.requested_at) is int
    )
    if not typed:
        raise EncodingError("rotation payload fields have the wrong types")


def rotate_meter_credential(
    data: bytes,
    *,
    ca: CertificateAuthority,
    store: RegistrationStore,
    now: int,
    rng: Rng,
    valid_for: int,
    grace: int = DEFAULT_GRACE,
) -> Rotated:
    """Check a rotation request and issue the new credential (see the module docstring)."""
    request, old_signed, new_signed = parse_rotation_request(data)
    suite = get_suite(request.suite)
    old = _active_credential(store, request)
    try:
        old_key = Credential.from_ccs(_registered_ccs(store, request)).key.signature_public_key()
        verify1(old_signed, suite.signature, old_key, external_aad=ROTATION_AAD)
        verify1(new_signed, suite.signature, request.new_public_key, external_aad=ROTATION_AAD)
    except MeterSealError as exc:
        raise RotationRefusedError("rotation request signature refused") from exc
    if abs(now - request.requested_at) > MAX_REQUEST_AGE:
        raise RotationRefusedError("rotation request is not fresh")
    cwt, credential = _issue(ca, suite, request, now=now, rng=rng, valid_for=valid_for)
    new = credential_row(
        cwt, credential, subject=request.meter_id, suite=suite.value, issued_at=now
    )
    grace_until = now + grace
    trail = [
        events.generated(
            request.meter_id,
            request.new_public_key,
            at=now,
            where="secure-element",
            purpose="identity",
        ),
        events.issued(new),
        events.rotated(old, new, grace_until=grace_until),
    ]
    store.rotate_credential(
        old.serial,
        new,
        ccs=credential.ccs,
        grace_until=grace_until,
        sign=list_signer(ca, now=now),
        events=trail,
    )
    return Rotated(cwt, credential, old, new, grace_until)


def _registered_ccs(store: RegistrationStore, request: RotationRequest) -> bytes:
    meter = store.get_meter(request.meter_id)
    if meter is None or meter.state != STATE_REGISTERED:
        raise RotationRefusedError(f"meter {request.meter_id} is not an active registration")
    if ccs_serial(meter.identity_credential) != request.old_serial:
        raise RotationRefusedError("the request names a credential the meter does not use")
    return meter.identity_credential


def _active_credential(store: SecurityStore, request: RotationRequest) -> CredentialRow:
    old = store.get_credential(request.old_serial)
    if old is None or old.subject != request.meter_id or old.state != CREDENTIAL_ACTIVE:
        raise RotationRefusedError(f"credential {request.old_serial} is not active")
    return old


def _issue(
    ca: CertificateAuthority,
    suite: CipherSuite,
    request: RotationRequest,
    *,
    now: int,
    rng: Rng,
    valid_for: int,
) -> tuple[bytes, VerifiedCredential]:
    meter_id = request.meter_id
    ccs = make_ccs(
        request.new_public_key,
        crv=suite.credential_crv(signs=True),
        subject=meter_id,
        kid=meter_id.encode("utf-8"),
    )
    serial = new_serial(rng)
    cwt = ca.issue(ccs, suite, serial=serial, not_before=now, not_after=now + valid_for)
    return cwt, ca.verify(cwt, suite, now=now)


def expire_superseded(
    *, ca: CertificateAuthority, store: SecurityStore, now: int
) -> list[RevocationListRow]:
    """Revoke every superseded credential whose grace period has ended (reason
    ``superseded``) and publish the new list; [] (and no new list) if none is due."""
    due = store.superseded_due(now)
    if not due:
        return []
    reason = RevocationReason.SUPERSEDED
    return store.revoke_credentials(
        [row.serial for row in due],
        at=now,
        reason=reason,
        sign=list_signer(ca, now=now),
        events=[events.revoked(row, at=now, reason=reason) for row in due],
    )
