"""Kind 8, AuditEntry: console and API actions committed to the ledger (docs/console.md)."""

from __future__ import annotations

import hashlib

import pytest

from meterseal import cbor
from meterseal.crypto.hashes import SM3
from meterseal.ledger.errors import MalformedLeafError
from meterseal.ledger.leaves import AuditEntry, LeafKind, audit_entry, leaf_data, parse_leaf

H = bytes(range(32))
T = 1_700_000_000


def test_audit_entry_encoding_is_pinned() -> None:
    data = leaf_data(AuditEntry("root", "user.add", "bob", H, T))
    assert cbor.decode(data) == [8, {1: "root", 2: "user.add", 3: "bob", 4: H, 5: T}]
    assert data.hex() == (
        "8208a50164726f6f740268757365722e6164640363626f62045820" + H.hex() + "051a6553f100"
    )
    assert parse_leaf(data) == AuditEntry("root", "user.add", "bob", H, T)
    assert int(LeafKind.AUDIT_ENTRY) == 8


def test_audit_entry_hashes_the_detail_bytes() -> None:
    detail = b'{"role":"operator"}'
    entry = audit_entry("root", "user.add", "bob", detail, T)
    assert entry.detail_hash == hashlib.sha256(detail).digest()
    in_sm3 = audit_entry("root", "user.add", "bob", detail, T, hash_alg=SM3)
    assert in_sm3.detail_hash == SM3.digest(detail)


def test_an_empty_target_is_allowed() -> None:
    entry = AuditEntry("root", "session.logout", "", H, T)
    assert parse_leaf(leaf_data(entry)) == entry


@pytest.mark.parametrize(
    ("actor", "action", "target"),
    [
        ("has space", "user.add", "bob"),
        ("root", "User.Add", "bob"),  # actions are lower case
        ("root", "", "bob"),
        ("root", "user.add", "x" * 129),
        ("root", "user.add", "tab\there"),
        ("root", "user.add", "caf\u00e9"),
    ],
)
def test_invalid_audit_entries_cannot_be_built(actor: str, action: str, target: str) -> None:
    with pytest.raises(MalformedLeafError):
        AuditEntry(actor, action, target, H, T)


def test_a_short_detail_hash_is_refused_on_parse() -> None:
    data = cbor.encode([8, {1: "root", 2: "user.add", 3: "bob", 4: H[:16], 5: T}])
    with pytest.raises(MalformedLeafError):
        parse_leaf(data)
