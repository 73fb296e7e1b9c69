"""MeterSeal leaf entries: one deterministic encoding per entry, a type tag per kind."""

from __future__ import annotations

import hashlib

import pytest

from meterseal import cbor
from meterseal.crypto.hashes import SM3
from meterseal.ledger.errors import MalformedLeafError
from meterseal.ledger.leaves import (
    AuditEntry,
    AuthenticationResult,
    AuthReason,
    BatchAccepted,
    CredentialIssued,
    CredentialRevoked,
    CredentialRotated,
    LeafEntry,
    LeafKind,
    OperatorCommand,
    Registration,
    RevocationReason,
    batch_accepted,
    leaf_data,
    leaf_hash,
    parse_leaf,
)
from meterseal.ledger.merkle import SHA256_HASHER, SM3_HASHER

H1, H2 = bytes(range(32)), bytes(range(32, 64))
T = 1_700_000_000

ENTRIES: list[LeafEntry] = [
    BatchAccepted("MTR-0001", 7, H1),
    AuthenticationResult(b"MTR-0001", True, AuthReason.OK, T),
    AuthenticationResult(b"\x01\x02", False, AuthReason.BAD_SIGNATURE, T),
    Registration("MTR-0001", H1, T),
    CredentialIssued("MTR-0001", H1, T),
    CredentialRotated("MTR-0001", H1, H2, T),
    CredentialRevoked("MTR-0001", H2, RevocationReason.KEY_COMPROMISE, T),
    OperatorCommand("alice@utility.example", "MTR-0001", 12, H2, T),
    AuditEntry("alice@utility.example", "user.add", "bob", H1, T),
]


@pytest.mark.parametrize("entry", ENTRIES, ids=lambda e: type(e).__name__)
def test_leaf_data_round_trips(entry: LeafEntry) -> None:
    data = leaf_data(entry)
    assert parse_leaf(data) == entry
    assert leaf_data(parse_leaf(data)) == data


def test_the_batch_leaf_encoding_is_pinned() -> None:
    data = leaf_data(BatchAccepted("M1", 7, H1))
    assert data == bytes.fromhex("8201a301624d31020703" + "5820" + H1.hex())
    assert cbor.decode(data) == [1, {1: "M1", 2: 7, 3: H1}]
    assert leaf_hash(BatchAccepted("M1", 7, H1)) == hashlib.sha256(b"\x00" + data).digest()


def test_each_kind_has_its_own_type_tag() -> None:
    kinds = [cbor.decode(leaf_data(entry))[0] for entry in ENTRIES]
    assert set(kinds) == {int(kind) for kind in LeafKind}
    # identical field values under two kinds still give different leaves
    issued, registered = CredentialIssued("M", H1, T), Registration("M", H1, T)
    assert leaf_data(issued) != leaf_data(registered)


def test_all_leaves_are_distinct() -> None:
    assert len({leaf_data(entry) for entry in ENTRIES}) == len(ENTRIES)


def test_leaf_hashes_follow_the_log_hash() -> None:
    entry = ENTRIES[0]
    assert leaf_hash(entry, SM3_HASHER) == SM3_HASHER.hash_leaf(leaf_data(entry))
    assert leaf_hash(entry, SM3_HASHER) != leaf_hash(entry, SHA256_HASHER)


def test_batch_accepted_hashes_the_signed_batch() -> None:
    signed = b"\xd2\x84signed batch bytes"
    assert batch_accepted("M1", 3, signed).batch_hash == hashlib.sha256(signed).digest()
    assert batch_accepted("M1", 3, signed, SM3).batch_hash == SM3.digest(signed)


@pytest.mark.parametrize(
    "data",
    [
        cbor.encode([1, {1: "M1", 2: 7}]),  # missing field
        cbor.encode([1, {1: "M1", 2: 7, 3: H1, 4: 0}]),  # unknown field
        cbor.encode([99, {1: "M1", 2: 7, 3: H1}]),  # unknown kind
        cbor.encode([1, {1: "M1", 2: -7, 3: H1}]),  # negative sequence
        cbor.encode([1, {1: "M 1", 2: 7, 3: H1}]),  # bad meter id
        cbor.encode([1, {1: "M1", 2: 7, 3: H1[:31]}]),  # short hash
        cbor.encode([1, {1: "M1", 2: 7, 3: H1}, 0]),  # extra item
        cbor.encode({1: "M1"}),
        cbor.encode([2, {1: b"k", 2: 1, 3: 0, 4: T}]),  # success not a boolean
        cbor.encode([2, {1: b"k", 2: True, 3: 2, 4: T}]),  # success with a failure reason
        b"\x82\x01\xa3\x01\x62M1\x02\x18\x07\x03\x58\x20" + H1,  # 7 in two bytes: not canonical
        leaf_data(ENTRIES[0]) + b"\x00",  # trailing byte
        b"\xff",
    ],
)
def test_malformed_or_non_canonical_leaves_are_refused(data: bytes) -> None:
    with pytest.raises(MalformedLeafError):
        parse_leaf(data)


def test_invalid_entries_cannot_be_built() -> None:
    with pytest.raises(MalformedLeafError):
        BatchAccepted("MTR-0001", 7, H1[:16])
    with pytest.raises(MalformedLeafError):
        AuthenticationResult(b"x" * 65, False, AuthReason.TIMEOUT, T)
    with pytest.raises(MalformedLeafError):
        AuthenticationResult(b"k", False, AuthReason.OK, T)
    with pytest.raises(MalformedLeafError):
        OperatorCommand("not an operator!", "M1", 1, H1, T)
