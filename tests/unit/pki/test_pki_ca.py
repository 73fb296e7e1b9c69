"""The CA issues CWTs with roots kept in the machine, and refuses bad ones."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from meterseal import cbor
from meterseal.crypto.cose import COSE_SIGN1_TAG, sign1
from meterseal.crypto.suites import SUITE_0, SUITE_2, SUITE_GMT, CipherSuite
from meterseal.edhoc.credentials import make_ccs
from meterseal.errors import EncodingError
from meterseal.hsm.kek import TEST_SCRYPT, kek_from_passphrase
from meterseal.hsm.software import SoftwareKeystore
from meterseal.pki.ca import CertificateAuthority, CredentialRejectedError, root_label

SUITES = (SUITE_2, SUITE_0, SUITE_GMT)
CRV = {2: 1, 0: 6, -24: -65537}
START, END = 1_700_000_000, 1_800_000_000


@pytest.fixture
def machine(tmp_path: Path) -> Iterator[SoftwareKeystore]:
    kek = kek_from_passphrase("pki test", TEST_SCRYPT)
    with SoftwareKeystore(tmp_path / "ca.keys", kek, create=True) as keystore:
        yield keystore


def subject_ccs(machine: SoftwareKeystore, suite: CipherSuite, name: str = "meter-1") -> bytes:
    key = machine.generate_signing_key(f"{name}-{suite.value}", suite.signature)
    return make_ccs(key.public_key, crv=CRV[suite.value], subject=name, kid=b"\x01")


def test_init_creates_one_root_per_suite_and_is_idempotent(machine: SoftwareKeystore) -> None:
    CertificateAuthority.init(machine, SUITES)
    first = {info.label: info.public_key for info in machine.labels()}
    CertificateAuthority.init(machine, SUITES)
    second = {info.label: info.public_key for info in machine.labels()}
    assert set(first) == {"ca-root-2", "ca-root-0", "ca-root--24"}
    assert first == second


def test_root_algorithms_follow_the_suite(machine: SoftwareKeystore) -> None:
    CertificateAuthority.init(machine, SUITES)
    algorithms = {info.label: info.algorithm for info in machine.labels()}
    assert algorithms == {"ca-root-2": "ES256", "ca-root-0": "EdDSA", "ca-root--24": "SM2-SM3"}


@pytest.mark.parametrize("suite", SUITES, ids=lambda s: str(s.value))
def test_issue_verify_round_trip(machine: SoftwareKeystore, suite: CipherSuite) -> None:
    ca = CertificateAuthority.init(machine, SUITES)
    ccs = subject_ccs(machine, suite)
    cwt = ca.issue(ccs, suite, serial=4242, not_before=START, not_after=END)
    verified = ca.verify(cwt, suite, now=START + 1)
    assert verified.serial == 4242
    assert (verified.not_before, verified.not_after) == (START, END)
    assert verified.claims[2] == "meter-1"
    assert verified.credential.key == verified.key
    assert (
        verified.key.signature_public_key()
        == machine.signing_key(f"meter-1-{suite.value}").public_key
    )
    assert cbor.decode(verified.ccs)[8] == cbor.decode(ccs)[8]


def test_cwt_is_a_tagged_sign1(machine: SoftwareKeystore) -> None:
    ca = CertificateAuthority.init(machine, SUITES)
    cwt = ca.issue(subject_ccs(machine, SUITE_2), SUITE_2, serial=1, not_before=0, not_after=9)
    assert cbor.decode(cwt).tag == COSE_SIGN1_TAG


def _tamper_payload(cwt: bytes) -> bytes:
    item = cbor.decode(cwt)
    protected, unprotected, payload, signature = item.value
    claims = cbor.decode(payload)
    claims[2] = "meter-evil"
    return cbor.encode(
        cbor.CBORTag(item.tag, [protected, unprotected, cbor.encode(claims), signature])
    )


@pytest.mark.parametrize("suite", SUITES, ids=lambda s: str(s.value))
def test_tampered_cwt_is_refused(machine: SoftwareKeystore, suite: CipherSuite) -> None:
    ca = CertificateAuthority.init(machine, SUITES)
    cwt = ca.issue(subject_ccs(machine, suite), suite, serial=1, not_before=START, not_after=END)
    with pytest.raises(CredentialRejectedError):
        ca.verify(_tamper_payload(cwt), suite, now=START)


@pytest.mark.parametrize("now", [START - 1, END, END + 1])
def test_cwt_outside_validity_is_refused(machine: SoftwareKeystore, now: int) -> None:
    ca = CertificateAuthority.init(machine, SUITES)
    ccs = subject_ccs(machine, SUITE_0)
    cwt = ca.issue(ccs, SUITE_0, serial=1, not_before=START, not_after=END)
    with pytest.raises(CredentialRejectedError, match="validity"):
        ca.verify(cwt, SUITE_0, now=now)


def test_cwt_of_another_suite_root_is_refused(machine: SoftwareKeystore) -> None:
    ca = CertificateAuthority.init(machine, SUITES)
    cwt = ca.issue(
        subject_ccs(machine, SUITE_2), SUITE_2, serial=1, not_before=START, not_after=END
    )
    with pytest.raises(CredentialRejectedError):
        ca.verify(cwt, SUITE_GMT, now=START)


def test_cwt_of_another_ca_is_refused(machine: SoftwareKeystore, tmp_path: Path) -> None:
    kek = kek_from_passphrase("other", TEST_SCRYPT)
    with SoftwareKeystore(tmp_path / "other.keys", kek, create=True) as other:
        rogue = CertificateAuthority.init(other, SUITES)
        cwt = rogue.issue(
            subject_ccs(other, SUITE_2), SUITE_2, serial=1, not_before=START, not_after=END
        )
    ca = CertificateAuthority.init(machine, SUITES)
    with pytest.raises(CredentialRejectedError, match="refused"):
        ca.verify(cwt, SUITE_2, now=START)


def test_wrong_issuer_claim_is_refused(machine: SoftwareKeystore) -> None:
    ca = CertificateAuthority.init(machine, SUITES)
    claims = cbor.decode(subject_ccs(machine, SUITE_2))
    claims |= {1: "someone-else", 4: END, 5: START, 6: START, 7: b"\x01"}
    root = machine.signing_key(root_label(SUITE_2))
    forged = sign1(root, SUITE_2.signature, cbor.encode(claims))
    with pytest.raises(CredentialRejectedError, match="issuer"):
        ca.verify(forged, SUITE_2, now=START)


def test_issue_refuses_a_ccs_with_ca_claims(machine: SoftwareKeystore) -> None:
    ca = CertificateAuthority.init(machine, SUITES)
    claims = cbor.decode(subject_ccs(machine, SUITE_2)) | {1: "someone-else"}
    with pytest.raises(EncodingError, match="CA claims"):
        ca.issue(cbor.encode(claims), SUITE_2, serial=1, not_before=START, not_after=END)
