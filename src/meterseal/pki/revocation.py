"""Signed revocation lists: which credential serials the CA revoked, when and why.

A list is a CBOR map (RFC 8949, deterministic encoding) inside a COSE_Sign1 (RFC 9052
section 4.2) signed by the CA root of one suite, inside the crypto machine::

    {1: issuer (text, the suite's CWT iss), 2: number (uint), 3: this_update (uint),
     4: next_update (uint), 5: [[serial (uint), revoked_at (uint), reason (uint)], ...]}

It plays the part of an X.509 CRL (RFC 5280 section 5): ``number`` is the CRL number
(5.2.3), strictly increasing, so a relying party that has seen list N refuses any list
below N (a rolled-back list would un-revoke credentials); ``next_update`` (5.1.2.5) bounds
how old a list may be: at or after it, the list is stale and refused. Serials are unique
across suites, so every suite's list of one number carries the same entries; one is
signed per suite so that a meter checks it with the one root it trusts.

:func:`verify_revocation_list` raises, never returns a verdict: a bad signature or a
wrong issuer is :class:`RevocationListRejectedError`, a stale or rolled-back list
:class:`StaleRevocationListError`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final

from meterseal import cbor
from meterseal.crypto.cose import decode_sign1, verify1
from meterseal.crypto.suites import CipherSuite
from meterseal.errors import EncodingError, MeterSealError, VerificationError
from meterseal.ledger.leaves import RevocationReason
from meterseal.pki import events
from meterseal.pki.ca import CertificateAuthority, issuer_name
from meterseal.store.security import (
    CREDENTIAL_REVOKED,
    RevocationListRow,
    RevokedEntry,
    SecurityStore,
    SignLists,
)

DEFAULT_LIST_LIFETIME: Final = 7 * 86_400
"""How long a list stays fresh (next_update - this_update): a week."""

_ISSUER, _NUMBER, _THIS_UPDATE, _NEXT_UPDATE, _ENTRIES = 1, 2, 3, 4, 5
_KEYS = frozenset({_ISSUER, _NUMBER, _THIS_UPDATE, _NEXT_UPDATE, _ENTRIES})


class RevocationListRejectedError(VerificationError):
    """A revocation list is forged, malformed or from another issuer."""


class StaleRevocationListError(VerificationError):
    """A genuine revocation list that is too old: past next_update, or rolled back."""


@dataclass(frozen=True, slots=True)
class RevocationList:
    """The content of one revocation list."""

    issuer: str
    number: int
    this_update: int
    next_update: int
    entries: tuple[RevokedEntry, ...]

    @property
    def serials(self) -> frozenset[int]:
        """The revoked serials."""
        return frozenset(entry.serial for entry in self.entries)

    def encode(self) -> bytes:
        """The deterministic CBOR payload (see the module docstring)."""
        entries = [[e.serial, e.revoked_at, e.reason] for e in self.entries]
        return cbor.encode(
            {
                _ISSUER: self.issuer,
                _NUMBER: self.number,
                _THIS_UPDATE: self.this_update,
                _NEXT_UPDATE: self.next_update,
                _ENTRIES: entries,
            }
        )


def _uint(value: object, what: str) -> int:
    if type(value) is not int or value < 0:
        raise EncodingError(f"revocation list {what} must be an unsigned integer")
    return value


def _entry(item: object) -> RevokedEntry:
    if type(item) is not list or len(item) != 3:
        raise EncodingError("a revocation list entry is [serial, revoked_at, reason]")
    serial, at, reason = (_uint(value, "entry") for value in item)
    RevocationReason(reason)  # ValueError for an unknown reason code
    return RevokedEntry(serial, at, reason)


def decode_revocation_list(payload: bytes) -> RevocationList:
    """Parse the CBOR payload of a list (no signature check); EncodingError if malformed."""
    try:
        item: Any = cbor.decode(payload)
        if type(item) is not dict or set(item) != _KEYS or type(item[_ISSUER]) is not str:
            raise EncodingError("a revocation list is a map with keys 1 to 5")
        if type(item[_ENTRIES]) is not list:
            raise EncodingError("revocation list entries must be an array")
        entries = tuple(_entry(entry) for entry in item[_ENTRIES])
    except ValueError as exc:
        raise EncodingError(f"revocation list: {exc}") from exc
    return RevocationList(
        item[_ISSUER],
        _uint(item[_NUMBER], "number"),
        _uint(item[_THIS_UPDATE], "this_update"),
        _uint(item[_NEXT_UPDATE], "next_update"),
        entries,
    )


def read_revocation_list(signed: bytes) -> RevocationList:
    """The content of a signed list WITHOUT checking its signature.

    Only for a reader that trusts where the bytes came from as much as the signature
    (the head-end reading its own store, which it already trusts for credentials);
    anyone else calls :func:`verify_revocation_list`.
    """
    return decode_revocation_list(decode_sign1(signed).payload)


def sign_revocation_list(
    ca: CertificateAuthority, suite: CipherSuite, content: RevocationList
) -> bytes:
    """The COSE_Sign1 of ``content`` by the suite's root, inside the crypto machine."""
    if content.issuer != issuer_name(suite, ca.generation):
        raise ValueError("the list's issuer is not the suite's CA")
    return ca.sign_with_root(suite, content.encode())


def verify_revocation_list(
    signed: bytes,
    suite: CipherSuite,
    root_public_key: bytes,
    *,
    now: int,
    min_number: int = 0,
    generation: int = 1,
) -> RevocationList:
    """Check signature, issuer (the suite's CA of root ``generation``), freshness at
    ``now`` and that the number is at least ``min_number``; raise (see the module
    docstring) or return the content."""
    try:
        message = verify1(signed, suite.signature, root_public_key)
        content = decode_revocation_list(message.payload)
    except MeterSealError as exc:
        raise RevocationListRejectedError("revocation list refused") from exc
    if content.issuer != issuer_name(suite, generation):
        raise RevocationListRejectedError("revocation list from another issuer")
    if not content.this_update <= now < content.next_update:
        raise StaleRevocationListError(f"revocation list {content.number} is not current")
    if content.number < min_number:
        raise StaleRevocationListError(
            f"revocation list {content.number} is older than {min_number} already seen"
        )
    return content


def list_signer(
    ca: CertificateAuthority, *, now: int, lifetime: int = DEFAULT_LIST_LIFETIME
) -> SignLists:
    """What the store calls inside a revocation's transaction: given the next number and
    every revoked entry, the list signed by each of the CA's roots."""

    def sign(number: int, entries: Sequence[RevokedEntry]) -> list[RevocationListRow]:
        rows = []
        for suite in ca.suites:
            issuer = issuer_name(suite, ca.generation)
            content = RevocationList(issuer, number, now, now + lifetime, tuple(entries))
            signed = sign_revocation_list(ca, suite, content)
            rows.append(RevocationListRow(number, suite.value, now, now + lifetime, signed))
        return rows

    return sign


class NothingToRevokeError(MeterSealError):
    """The serial or meter named has no credential left to revoke."""


def revoke_serial(
    serial: int,
    *,
    ca: CertificateAuthority,
    store: SecurityStore,
    now: int,
    reason: RevocationReason,
) -> list[RevocationListRow]:
    """Revoke one credential and publish the next signed list (one transaction)."""
    row = store.get_credential(serial)
    if row is None or row.state == CREDENTIAL_REVOKED:
        raise NothingToRevokeError(f"credential {serial} is unknown or already revoked")
    return store.revoke_credentials(
        [serial],
        at=now,
        reason=reason,
        sign=list_signer(ca, now=now),
        events=[events.revoked(row, at=now, reason=reason)],
    )


def revoke_meter(
    meter_id: str,
    *,
    ca: CertificateAuthority,
    store: SecurityStore,
    now: int,
    reason: RevocationReason,
) -> list[RevocationListRow]:
    """Revoke every credential of the meter that is not revoked yet, mark the meter
    revoked, and publish the next signed list (one transaction). A meter registered
    outside the CA (no credential rows) is still marked revoked and gets a new list, so
    that every head-end worker notices (:mod:`meterseal.headend.registry`)."""
    rows = [row for row in store.credentials(meter_id) if row.state != CREDENTIAL_REVOKED]
    return store.revoke_credentials(
        [row.serial for row in rows],
        at=now,
        reason=reason,
        sign=list_signer(ca, now=now),
        events=[events.revoked(row, at=now, reason=reason) for row in rows],
        meter_id=meter_id,
    )
