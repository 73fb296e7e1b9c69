"""MeterSeal's ledger leaves: typed entries and their one deterministic encoding.

Leaf data (the ``d`` of RFC 9162 section 2.1.1, hashed as ``HASH(0x00 || d)``) is a
two-item CBOR array (RFC 8949, canonical: shortest integers, definite lengths, sorted
keys)::

    [kind, {1: field 1, 2: field 2, ...}]

``kind`` is the :class:`LeafKind` code; the map holds exactly the fields of that kind's
table below, keyed 1, 2, ... in table order. Two kinds can never share leaf data (the first
item differs), a kind never changes its table (a new field is a new kind), and
:func:`parse_leaf` accepts only the canonical encoding, so one entry has one leaf hash.

====  ===================  ==============================================================
kind  class                fields
====  ===================  ==============================================================
1     BatchAccepted        meter_id, batch_seq, batch_hash (hash of the signed batch bytes)
2     AuthenticationResult kid (as presented, 0..64 bytes), success, reason, time
3     Registration         meter_id, record_hash (the checked registration record), time
4     CredentialIssued     meter_id, credential_hash, time
5     CredentialRotated    meter_id, old_credential_hash, new_credential_hash, time
6     CredentialRevoked    meter_id, credential_hash, reason, time
7     OperatorCommand      operator, meter_id (target), command_id, command_hash, time
8     AuditEntry           actor, action, target, detail_hash (detail and outcome), time
====  ===================  ==============================================================

Hashes are 32 bytes: SHA-256, or SM3 in a GM deployment (the log's hash). Times are
integer Unix seconds (UTC), passed in by the caller.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, fields
from enum import IntEnum
from typing import Any, ClassVar, Final

from meterseal import cbor
from meterseal.crypto.hashes import SHA_256, OpenSslHash
from meterseal.errors import EncodingError
from meterseal.ledger.errors import MalformedLeafError
from meterseal.ledger.merkle import SHA256_HASHER, TreeHasher
from meterseal.messages.fields import (
    METER_ID_PATTERN,
    expect_array,
    expect_bytes,
    expect_enum,
    expect_map,
    expect_text,
    expect_time,
    expect_uint,
    type_name,
)

OPERATOR_PATTERN: Final = re.compile(r"[A-Za-z0-9._@:-]{1,64}")
"""An operator account name."""

MAX_KID_LENGTH: Final = 64
"""Longest kid an authentication result records."""

HASH_LENGTH: Final = 32
"""Length of every hash a leaf carries."""

ACTION_PATTERN: Final = re.compile(r"[a-z][a-z0-9_.-]{0,63}")
"""An audited action's name, such as ``user.add`` or ``command.time_sync``."""

TARGET_PATTERN: Final = re.compile(r"[\x20-\x7e]{0,128}")
"""What an audited action acted on: printable ASCII, at most 128 characters (may be empty)."""


class LeafKind(IntEnum):
    """The type tag: the first item of every leaf."""

    BATCH_ACCEPTED = 1
    AUTHENTICATION = 2
    REGISTRATION = 3
    CREDENTIAL_ISSUED = 4
    CREDENTIAL_ROTATED = 5
    CREDENTIAL_REVOKED = 6
    OPERATOR_COMMAND = 7
    AUDIT_ENTRY = 8


class AuthReason(IntEnum):
    """Why an authentication succeeded (``OK``) or failed."""

    OK = 0
    UNKNOWN_CREDENTIAL = 1
    BAD_SIGNATURE = 2
    CREDENTIAL_REVOKED = 3
    SUITE_REJECTED = 4
    PROTOCOL_ERROR = 5
    TIMEOUT = 6
    ABANDONED = 7  # the meter closed the connection before the handshake completed
    HEADEND_UNAVAILABLE = 8  # the head-end could not decide: registry unreadable, shutdown


class RevocationReason(IntEnum):
    """Why a credential was revoked."""

    UNSPECIFIED = 0
    KEY_COMPROMISE = 1
    SUPERSEDED = 2
    DECOMMISSIONED = 3
    TAMPERED = 4


# --- field readers: one CBOR item in, one typed value out (or EncodingError) ----------

_Reader = Callable[[object, str], Any]


def _meter_id(item: object, what: str) -> str:
    return expect_text(item, what, METER_ID_PATTERN)


def _operator(item: object, what: str) -> str:
    return expect_text(item, what, OPERATOR_PATTERN)


def _action(item: object, what: str) -> str:
    return expect_text(item, what, ACTION_PATTERN)


def _target(item: object, what: str) -> str:
    return expect_text(item, what, TARGET_PATTERN)


def _hash(item: object, what: str) -> bytes:
    value = expect_bytes(item, what)
    if len(value) != HASH_LENGTH:
        raise EncodingError(f"{what} must be {HASH_LENGTH} bytes, got {len(value)}")
    return value


def _kid(item: object, what: str) -> bytes:
    value = expect_bytes(item, what)
    if len(value) > MAX_KID_LENGTH:
        raise EncodingError(f"{what} must be at most {MAX_KID_LENGTH} bytes")
    return value


def _bool(item: object, what: str) -> bool:
    if type(item) is not bool:
        raise EncodingError(f"{what} must be a boolean, got {type_name(item)}")
    return item


def _auth_reason(item: object, what: str) -> AuthReason:
    return expect_enum(AuthReason, item, what)


def _revocation_reason(item: object, what: str) -> RevocationReason:
    return expect_enum(RevocationReason, item, what)


def _to_item(value: object) -> object:
    """The CBOR item of a field value (an enumeration travels as its integer code)."""
    return int(value) if isinstance(value, IntEnum) else value


def _check_fields(entry: Any) -> None:
    """Run each field of ``entry`` through its reader, as if it had been decoded."""
    for field, (name, reader) in zip(fields(entry), entry.FIELDS, strict=True):
        try:
            reader(_to_item(getattr(entry, field.name)), f"{type(entry).__name__} {name}")
        except EncodingError as exc:
            raise MalformedLeafError(str(exc)) from exc


# --- the leaf kinds -------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class BatchAccepted:
    """The head-end accepted (stored and acknowledged) a signed reading batch."""

    KIND: ClassVar[LeafKind] = LeafKind.BATCH_ACCEPTED
    FIELDS: ClassVar[tuple[tuple[str, _Reader], ...]] = (
        ("meter_id", _meter_id),
        ("batch_seq", expect_uint),
        ("batch_hash", _hash),
    )
    meter_id: str
    batch_seq: int
    batch_hash: bytes

    def __post_init__(self) -> None:
        _check_fields(self)


@dataclass(frozen=True, slots=True)
class AuthenticationResult:
    """An EDHOC authentication attempt and its outcome, good or bad."""

    KIND: ClassVar[LeafKind] = LeafKind.AUTHENTICATION
    FIELDS: ClassVar[tuple[tuple[str, _Reader], ...]] = (
        ("kid", _kid),
        ("success", _bool),
        ("reason", _auth_reason),
        ("time", expect_time),
    )
    kid: bytes
    success: bool
    reason: AuthReason
    time: int

    def __post_init__(self) -> None:
        _check_fields(self)
        if self.success != (self.reason == AuthReason.OK):
            raise MalformedLeafError("success must go with reason OK, failure with another")


@dataclass(frozen=True, slots=True)
class Registration:
    """The security server registered a meter after checking it against the manifest."""

    KIND: ClassVar[LeafKind] = LeafKind.REGISTRATION
    FIELDS: ClassVar[tuple[tuple[str, _Reader], ...]] = (
        ("meter_id", _meter_id),
        ("record_hash", _hash),
        ("time", expect_time),
    )
    meter_id: str
    record_hash: bytes
    time: int

    def __post_init__(self) -> None:
        _check_fields(self)


@dataclass(frozen=True, slots=True)
class CredentialIssued:
    """The CA issued a credential to a meter."""

    KIND: ClassVar[LeafKind] = LeafKind.CREDENTIAL_ISSUED
    FIELDS: ClassVar[tuple[tuple[str, _Reader], ...]] = (
        ("meter_id", _meter_id),
        ("credential_hash", _hash),
        ("time", expect_time),
    )
    meter_id: str
    credential_hash: bytes
    time: int

    def __post_init__(self) -> None:
        _check_fields(self)


@dataclass(frozen=True, slots=True)
class CredentialRotated:
    """A meter's credential was replaced by a new one."""

    KIND: ClassVar[LeafKind] = LeafKind.CREDENTIAL_ROTATED
    FIELDS: ClassVar[tuple[tuple[str, _Reader], ...]] = (
        ("meter_id", _meter_id),
        ("old_credential_hash", _hash),
        ("new_credential_hash", _hash),
        ("time", expect_time),
    )
    meter_id: str
    old_credential_hash: bytes
    new_credential_hash: bytes
    time: int

    def __post_init__(self) -> None:
        _check_fields(self)


@dataclass(frozen=True, slots=True)
class CredentialRevoked:
    """A meter's credential was revoked."""

    KIND: ClassVar[LeafKind] = LeafKind.CREDENTIAL_REVOKED
    FIELDS: ClassVar[tuple[tuple[str, _Reader], ...]] = (
        ("meter_id", _meter_id),
        ("credential_hash", _hash),
        ("reason", _revocation_reason),
        ("time", expect_time),
    )
    meter_id: str
    credential_hash: bytes
    reason: RevocationReason
    time: int

    def __post_init__(self) -> None:
        _check_fields(self)


@dataclass(frozen=True, slots=True)
class OperatorCommand:
    """An operator sent a signed command to a meter."""

    KIND: ClassVar[LeafKind] = LeafKind.OPERATOR_COMMAND
    FIELDS: ClassVar[tuple[tuple[str, _Reader], ...]] = (
        ("operator", _operator),
        ("meter_id", _meter_id),
        ("command_id", expect_uint),
        ("command_hash", _hash),
        ("time", expect_time),
    )
    operator: str
    meter_id: str
    command_id: int
    command_hash: bytes
    time: int

    def __post_init__(self) -> None:
        _check_fields(self)


@dataclass(frozen=True, slots=True)
class AuditEntry:
    """A console or API user did something that changes state (docs/console.md).

    ``detail_hash`` is the log's hash of ``{"detail": ..., "outcome": ...}`` of the audit
    row in canonical JSON (sorted keys, no spaces, ASCII; see
    :func:`meterseal.api.ledger_hook.audit_leaf`), so the ledger commits to the whole row
    while holding nothing of it beyond the names.
    """

    KIND: ClassVar[LeafKind] = LeafKind.AUDIT_ENTRY
    FIELDS: ClassVar[tuple[tuple[str, _Reader], ...]] = (
        ("actor", _operator),
        ("action", _action),
        ("target", _target),
        ("detail_hash", _hash),
        ("time", expect_time),
    )
    actor: str
    action: str
    target: str
    detail_hash: bytes
    time: int

    def __post_init__(self) -> None:
        _check_fields(self)


LeafEntry = (
    BatchAccepted
    | AuthenticationResult
    | Registration
    | CredentialIssued
    | CredentialRotated
    | CredentialRevoked
    | OperatorCommand
    | AuditEntry
)
"""Any MeterSeal ledger entry."""

_CLASSES: Final[dict[LeafKind, type[LeafEntry]]] = {
    cls.KIND: cls
    for cls in (
        BatchAccepted,
        AuthenticationResult,
        Registration,
        CredentialIssued,
        CredentialRotated,
        CredentialRevoked,
        OperatorCommand,
        AuditEntry,
    )
}


# --- encoding -------------------------------------------------------------------------


def leaf_data(entry: LeafEntry) -> bytes:
    """The entry's leaf data: ``[kind, {1: ..., 2: ...}]`` in canonical CBOR."""
    values = [_to_item(getattr(entry, f.name)) for f in fields(entry)]
    return cbor.encode([int(entry.KIND), dict(enumerate(values, start=1))])


def leaf_hash(entry: LeafEntry, hasher: TreeHasher = SHA256_HASHER) -> bytes:
    """HASH(0x00 || leaf_data(entry)), RFC 9162 section 2.1.1."""
    return hasher.hash_leaf(leaf_data(entry))


def _decode_entry(item: object) -> LeafEntry:
    kind_item, body = expect_array(item, "leaf", min_len=2, max_len=2)
    cls = _CLASSES[expect_enum(LeafKind, kind_item, "leaf kind")]
    table = {key: name for key, (name, _) in enumerate(cls.FIELDS, start=1)}
    mapping = expect_map(body, table, cls.__name__)
    values = [
        reader(mapping[key], f"{cls.__name__} {name}")
        for key, (name, reader) in enumerate(cls.FIELDS, start=1)
    ]
    return cls(*values)


def parse_leaf(data: bytes) -> LeafEntry:
    """The entry whose leaf data is ``data``; only the canonical encoding is accepted."""
    try:
        entry = _decode_entry(cbor.decode(data))
    except EncodingError as exc:
        raise MalformedLeafError(f"malformed leaf: {exc}") from exc
    if leaf_data(entry) != data:
        raise MalformedLeafError("leaf data is not in its canonical encoding")
    return entry


def batch_accepted(
    meter_id: str, batch_seq: int, signed_batch: bytes, hash_alg: OpenSslHash = SHA_256
) -> BatchAccepted:
    """The leaf for an accepted batch, hashing the signed batch bytes as stored."""
    return BatchAccepted(meter_id, batch_seq, hash_alg.digest(signed_batch))


def audit_entry(
    actor: str,
    action: str,
    target: str,
    detail: bytes,
    time: int,
    *,
    hash_alg: OpenSslHash = SHA_256,
) -> AuditEntry:
    """The leaf for an audit row, hashing its ``detail`` bytes (canonical JSON) as stored."""
    return AuditEntry(actor, action, target, hash_alg.digest(detail), time)
