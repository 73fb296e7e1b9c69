"""Signed revocation lists: signed by each root, verified, forged and stale lists refused."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from meterseal import cbor
from meterseal.crypto.cose import decode_sign1, sign1
from meterseal.crypto.suites import SUITE_0, SUITE_2, SUITE_GMT, CipherSuite
from meterseal.hsm.kek import TEST_SCRYPT, kek_from_passphrase
from meterseal.hsm.software import SoftwareKeystore
from meterseal.pki.ca import CertificateAuthority, issuer_name
from meterseal.pki.revocation import (
    RevocationList,
    RevocationListRejectedError,
    StaleRevocationListError,
    list_signer,
    read_revocation_list,
    sign_revocation_list,
    verify_revocation_list,
)
from meterseal.store.security import RevokedEntry

NOW = 1_760_000_000
SUITES = (SUITE_2, SUITE_0, SUITE_GMT)
ENTRIES = (RevokedEntry(7, NOW - 10, 1), RevokedEntry(2**62, NOW - 5, 2))


@pytest.fixture
def ca(tmp_path: Path) -> Iterator[CertificateAuthority]:
    kek = kek_from_passphrase("revocation", TEST_SCRYPT)
    with SoftwareKeystore(tmp_path / "ca.keys", kek, create=True) as machine:
        yield CertificateAuthority.init(machine, SUITES)


def content(suite: CipherSuite, number: int = 3) -> RevocationList:
    return RevocationList(issuer_name(suite), number, NOW, NOW + 3600, ENTRIES)


@pytest.mark.parametrize("suite", SUITES, ids=lambda s: str(s.value))
def test_a_signed_list_verifies_with_its_root(ca: CertificateAuthority, suite: CipherSuite) -> None:
    signed = sign_revocation_list(ca, suite, content(suite))
    checked = verify_revocation_list(signed, suite, ca.root_public_key(suite), now=NOW + 1)
    assert checked == content(suite)
    assert checked.serials == {7, 2**62}
    assert read_revocation_list(signed) == checked


def test_the_signer_numbers_every_suite_alike(ca: CertificateAuthority) -> None:
    rows = list_signer(ca, now=NOW, lifetime=60)(4, ENTRIES)
    assert [(row.number, row.suite, row.next_update) for row in rows] == [
        (4, suite.value, NOW + 60) for suite in SUITES
    ]
    for row, suite in zip(rows, SUITES, strict=True):
        checked = verify_revocation_list(row.signed_list, suite, ca.root_public_key(suite), now=NOW)
        assert checked.entries == ENTRIES


def test_a_forged_list_is_refused(ca: CertificateAuthority) -> None:
    signed = sign_revocation_list(ca, SUITE_2, content(SUITE_2))
    message = decode_sign1(signed)
    emptied = cbor.encode(cbor.decode(message.payload) | {5: []})
    forged = cbor.encode(cbor.CBORTag(18, [message.protected, {}, emptied, message.signature]))
    root = ca.root_public_key(SUITE_2)
    with pytest.raises(RevocationListRejectedError):
        verify_revocation_list(forged, SUITE_2, root, now=NOW)
    other_root = ca.root_public_key(SUITE_0)
    signed_0 = sign_revocation_list(ca, SUITE_0, content(SUITE_0))
    with pytest.raises(RevocationListRejectedError):  # another suite's root, another alg
        verify_revocation_list(signed_0, SUITE_2, root, now=NOW)
    with pytest.raises(RevocationListRejectedError):
        verify_revocation_list(signed, SUITE_0, other_root, now=NOW)


def test_a_list_signed_by_another_key_or_issuer_is_refused(ca: CertificateAuthority) -> None:
    attacker = SUITE_2.signature.generate(lambda n: b"\x07" * n)
    payload = content(SUITE_2).encode()
    with pytest.raises(RevocationListRejectedError):
        verify_revocation_list(
            sign1(attacker, SUITE_2.signature, payload), SUITE_2, ca.root_public_key(SUITE_2),
            now=NOW,
        )  # fmt: skip
    foreign = replace(content(SUITE_2), issuer="someone-else")
    signed = ca.sign_with_root(SUITE_2, foreign.encode())
    with pytest.raises(RevocationListRejectedError, match="issuer"):
        verify_revocation_list(signed, SUITE_2, ca.root_public_key(SUITE_2), now=NOW)


def test_stale_and_rolled_back_lists_are_refused(ca: CertificateAuthority) -> None:
    signed = sign_revocation_list(ca, SUITE_2, content(SUITE_2, number=3))
    root = ca.root_public_key(SUITE_2)
    verify_revocation_list(signed, SUITE_2, root, now=NOW + 3599, min_number=3)
    with pytest.raises(StaleRevocationListError):
        verify_revocation_list(signed, SUITE_2, root, now=NOW + 3600)
    with pytest.raises(StaleRevocationListError):
        verify_revocation_list(signed, SUITE_2, root, now=NOW - 1)
    with pytest.raises(StaleRevocationListError, match="older"):
        verify_revocation_list(signed, SUITE_2, root, now=NOW, min_number=4)


def test_malformed_lists_are_refused(ca: CertificateAuthority) -> None:
    root = ca.root_public_key(SUITE_2)
    good = content(SUITE_2)
    for payload in (
        cbor.encode([1, 2]),
        cbor.encode(cbor.decode(good.encode()) | {6: 0}),
        cbor.encode(cbor.decode(good.encode()) | {5: [[1, 2]]}),
        cbor.encode(cbor.decode(good.encode()) | {5: [[1, 2, 99]]}),  # unknown reason
        cbor.encode(cbor.decode(good.encode()) | {2: -1}),
    ):
        with pytest.raises(RevocationListRejectedError):
            verify_revocation_list(ca.sign_with_root(SUITE_2, payload), SUITE_2, root, now=NOW)
