"""The key-event audit trail: one record per generation, issuance, rotation, revocation and
refused registration, and the ledger leaf each one becomes.

A :class:`~meterseal.store.security.KeyEvent` names its kind, subject (a meter id, a
head-end name, or a CA root label), the credential serial it concerns (if any) and a
detail: a small JSON object with sorted keys (hashes in hex), so that the trail is both
readable and parseable. Events about a meter carry the ledger leaves that anchor them
(kinds 3 to 6 of :mod:`meterseal.ledger.leaves`: Registration, CredentialIssued,
CredentialRotated, CredentialRevoked); the store writes the events and queues their
leaves in the ledger outbox in the same transaction as the change they record
(:mod:`meterseal.store.security`). Generations and refused registrations have no leaf
kind: they stay in the trail.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from meterseal import cbor
from meterseal.ledger.leaves import (
    CredentialIssued,
    CredentialRevoked,
    CredentialRotated,
    LeafEntry,
    Registration,
    RevocationReason,
    leaf_data,
)
from meterseal.store.rows import MeterRecord
from meterseal.store.security import (
    EVENT_GENERATION,
    EVENT_ISSUANCE,
    EVENT_REFUSED_REGISTRATION,
    EVENT_REVOCATION,
    EVENT_ROTATION,
    SUBJECT_METER,
    CredentialRow,
    KeyEvent,
    KeyEventRow,
)


def credential_hash(credential: bytes) -> bytes:
    """SHA-256 of a credential's bytes (the CWT): how the trail and the ledger name it."""
    return hashlib.sha256(credential).digest()


def key_fingerprint(public_key: bytes) -> str:
    """SHA-256 of a public key, in hex: how the trail names a key."""
    return hashlib.sha256(public_key).hexdigest()


def _detail(**fields: Any) -> str:
    return json.dumps(fields, sort_keys=True, separators=(",", ":"))


def detail_of(event: KeyEvent | KeyEventRow) -> dict[str, Any]:
    """The parsed detail of an event."""
    parsed: dict[str, Any] = json.loads(event.detail)
    return parsed


def generated(subject: str, public_key: bytes, *, at: int, where: str, purpose: str) -> KeyEvent:
    """A key pair was generated (``where``: ``crypto-machine`` or ``secure-element``)."""
    detail = _detail(key=key_fingerprint(public_key), where=where, purpose=purpose)
    return KeyEvent(at, EVENT_GENERATION, subject, None, detail)


def record_hash(record: MeterRecord) -> bytes:
    """SHA-256 of a registration record in canonical CBOR (the Registration leaf's hash)."""
    fields = [
        record.meter_id,
        record.meter_type,
        record.suite,
        record.owner,
        record.public_key,
        record.identity_credential,
        record.state,
        record.registered_at,
    ]
    return hashlib.sha256(cbor.encode(fields)).digest()


def issued(credential: CredentialRow, *, registered: MeterRecord | None = None) -> KeyEvent:
    """The CA issued ``credential``: at the registration of ``registered``, or to
    replace a rotated credential. Ledger leaves (meters only): the Registration (if any)
    and CredentialIssued."""
    detail = _detail(
        credential_hash=credential.credential_hash.hex(),
        not_after=credential.not_after,
        registration=registered is not None,
        suite=credential.suite,
    )
    leaves: list[LeafEntry] = []
    if credential.subject_kind == SUBJECT_METER:
        subject, at = credential.subject, credential.issued_at
        if registered is not None:
            leaves.append(Registration(subject, record_hash(registered), at))
        leaves.append(CredentialIssued(subject, credential.credential_hash, at))
    return KeyEvent(
        credential.issued_at,
        EVENT_ISSUANCE,
        credential.subject,
        credential.serial,
        detail,
        _data(leaves),
    )


def rotated(old: CredentialRow, new: CredentialRow, *, grace_until: int) -> KeyEvent:
    """``old`` was superseded by ``new``; it stays valid until ``grace_until``."""
    detail = _detail(
        grace_until=grace_until,
        new_credential_hash=new.credential_hash.hex(),
        new_serial=new.serial,
        old_credential_hash=old.credential_hash.hex(),
    )
    leaves: list[LeafEntry] = []
    if new.subject_kind == SUBJECT_METER:
        digests = (old.credential_hash, new.credential_hash)
        leaves.append(CredentialRotated(new.subject, *digests, new.issued_at))
    return KeyEvent(new.issued_at, EVENT_ROTATION, new.subject, old.serial, detail, _data(leaves))


def revoked(credential: CredentialRow, *, at: int, reason: RevocationReason) -> KeyEvent:
    """``credential`` was revoked for ``reason``."""
    detail = _detail(credential_hash=credential.credential_hash.hex(), reason=reason.name.lower())
    leaves: list[LeafEntry] = []
    if credential.subject_kind == SUBJECT_METER:
        digest = credential.credential_hash
        leaves.append(CredentialRevoked(credential.subject, digest, reason, at))
    subject, serial = credential.subject, credential.serial
    return KeyEvent(at, EVENT_REVOCATION, subject, serial, detail, _data(leaves))


def _data(entries: list[LeafEntry]) -> tuple[bytes, ...]:
    return tuple(leaf_data(entry) for entry in entries)


def refused(meter_id: str, *, at: int, reason: str) -> KeyEvent:
    """A registration of ``meter_id`` was refused."""
    return KeyEvent(at, EVENT_REFUSED_REGISTRATION, meter_id, None, _detail(reason=reason))
