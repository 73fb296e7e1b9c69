"""CA root rollover: a second generation of roots beside the first, old CWTs still valid."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from meterseal import cbor
from meterseal.crypto.cose import decode_sign1
from meterseal.crypto.suites import SUITE_0, SUITE_2, CipherSuite
from meterseal.edhoc.credentials import make_ccs
from meterseal.hsm.errors import KeyNotFoundError
from meterseal.hsm.kek import TEST_SCRYPT, kek_from_passphrase
from meterseal.hsm.software import SoftwareKeystore
from meterseal.pki.ca import (
    CertificateAuthority,
    CredentialRejectedError,
    issuer_name,
    root_generations,
    root_label,
)
from meterseal.pki.revocation import (
    RevocationListRejectedError,
    list_signer,
    verify_revocation_list,
)

NOW = 1_760_000_000
SUITES = (SUITE_2, SUITE_0)


@pytest.fixture
def machine(tmp_path: Path) -> Iterator[SoftwareKeystore]:
    kek = kek_from_passphrase("rollover", TEST_SCRYPT)
    with SoftwareKeystore(tmp_path / "ca.keys", kek, create=True) as keystore:
        yield keystore


def cwt(ca: CertificateAuthority, suite: CipherSuite, serial: int) -> bytes:
    key = suite.signature.generate(os.urandom).public_key
    ccs = make_ccs(key, crv=suite.credential_crv(signs=True), subject="m-1", kid=b"m-1")
    return ca.issue(ccs, suite, serial=serial, not_before=NOW, not_after=NOW + 100)


def test_labels_and_issuers_name_the_generation() -> None:
    assert (root_label(SUITE_2), root_label(SUITE_2, 3)) == ("ca-root-2", "ca-root-2-g3")
    assert issuer_name(SUITE_0, 2) == "meterseal-ca/0/g2"
    with pytest.raises(ValueError, match="generations"):
        root_label(SUITE_2, 0)


def test_rollover_makes_new_roots_and_keeps_old_credentials_valid(
    machine: SoftwareKeystore,
) -> None:
    first = CertificateAuthority.init(machine, SUITES)
    old = cwt(first, SUITE_2, 1)
    second = CertificateAuthority.rollover(machine, SUITES)
    assert second.generation == 2
    assert root_generations(machine, SUITE_2) == [1, 2]
    assert second.root_public_key(SUITE_2) != first.root_public_key(SUITE_2)
    assert CertificateAuthority.current(machine, SUITES).generation == 2
    new = cwt(second, SUITE_2, 2)
    assert second.verify(new, SUITE_2, now=NOW).claims[1] == "meterseal-ca/2/g2"
    assert second.verify(old, SUITE_2, now=NOW).serial == 1  # the old root still verifies
    assert first.verify(new, SUITE_2, now=NOW).serial == 2  # any held generation verifies

    machine.destroy_key(root_label(SUITE_2, 1))  # the old root is retired
    with pytest.raises(CredentialRejectedError, match="issuer"):
        second.verify(old, SUITE_2, now=NOW)
    assert second.verify(new, SUITE_2, now=NOW).serial == 2
    CertificateAuthority.init(machine, SUITES)  # does not bring a retired first root back
    assert root_generations(machine, SUITE_2) == [2]


def test_a_forged_issuer_does_not_pick_another_root(machine: SoftwareKeystore) -> None:
    first = CertificateAuthority.init(machine, SUITES)
    second = CertificateAuthority.rollover(machine, SUITES)
    old = cwt(first, SUITE_2, 1)
    # a CWT signed by the first root but claiming the second generation's issuer
    claims = cbor.decode(decode_sign1(old).payload) | {1: issuer_name(SUITE_2, 2)}
    relabelled = first.sign_with_root(SUITE_2, cbor.encode(claims))
    with pytest.raises(CredentialRejectedError):
        second.verify(relabelled, SUITE_2, now=NOW)


def test_lists_are_signed_by_the_current_generation(machine: SoftwareKeystore) -> None:
    CertificateAuthority.init(machine, SUITES)
    second = CertificateAuthority.rollover(machine, SUITES)
    [row, _] = list_signer(second, now=NOW)(1, [])
    root = second.root_public_key(SUITE_2)
    assert verify_revocation_list(row.signed_list, SUITE_2, root, now=NOW, generation=2).number == 1
    with pytest.raises(RevocationListRejectedError, match="issuer"):
        verify_revocation_list(row.signed_list, SUITE_2, root, now=NOW)
    old_root = second.root_public_key(SUITE_2, 1)
    with pytest.raises(RevocationListRejectedError):
        verify_revocation_list(row.signed_list, SUITE_2, old_root, now=NOW, generation=2)


def test_current_needs_a_complete_set_of_roots(machine: SoftwareKeystore) -> None:
    with pytest.raises(KeyNotFoundError):
        CertificateAuthority.current(machine, SUITES)
    CertificateAuthority.init(machine, SUITES)
    machine.generate_signing_key(root_label(SUITE_2, 2), SUITE_2.signature)  # half a rollover
    assert CertificateAuthority.current(machine, SUITES).generation == 1
