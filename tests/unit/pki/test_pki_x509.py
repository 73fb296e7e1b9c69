"""X.509 certificates signed by the CA root inside the machine parse and verify."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from meterseal.crypto.suites import SUITE_2
from meterseal.edhoc.credentials import Credential
from meterseal.errors import InvalidKeyError
from meterseal.hsm.kek import TEST_SCRYPT, kek_from_passphrase
from meterseal.hsm.software import SoftwareKeystore
from meterseal.pki.ca import CertificateAuthority
from meterseal.pki.x509 import issue_x509, root_x509

START, END = 1_700_000_000, 1_800_000_000


@pytest.fixture
def machine(tmp_path: Path) -> Iterator[SoftwareKeystore]:
    kek = kek_from_passphrase("pki x509", TEST_SCRYPT)
    with SoftwareKeystore(tmp_path / "ca.keys", kek, create=True) as keystore:
        CertificateAuthority.init(keystore, [SUITE_2])
        yield keystore


def _meter_certificate(machine: SoftwareKeystore) -> tuple[bytes, bytes]:
    point = machine.generate_signing_key("meter-7", SUITE_2.signature).public_key
    der = issue_x509(machine, point, "meter-7", serial=99, not_before=START, not_after=END)
    return point, der


def test_certificate_parses_and_verifies_with_the_ca_key(machine: SoftwareKeystore) -> None:
    point, der = _meter_certificate(machine)
    certificate = x509.load_der_x509_certificate(der)
    ca_point = CertificateAuthority(machine, [SUITE_2]).root_public_key(SUITE_2)
    ca_key = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), ca_point)
    ca_key.verify(
        certificate.signature, certificate.tbs_certificate_bytes, ec.ECDSA(hashes.SHA256())
    )
    assert certificate.serial_number == 99
    assert certificate.subject.rfc4514_string() == "CN=meter-7"
    assert int(certificate.not_valid_after_utc.timestamp()) == END
    assert Credential.from_x509(der).key.signature_public_key() == point


def test_certificate_chains_to_the_self_signed_root(machine: SoftwareKeystore) -> None:
    _, der = _meter_certificate(machine)
    root = x509.load_der_x509_certificate(
        root_x509(machine, serial=1, not_before=START, not_after=END)
    )
    root.verify_directly_issued_by(root)
    x509.load_der_x509_certificate(der).verify_directly_issued_by(root)


def test_tampered_certificate_does_not_verify(machine: SoftwareKeystore) -> None:
    _, der = _meter_certificate(machine)
    tampered = der.replace(b"meter-7", b"meter-8")
    root = x509.load_der_x509_certificate(
        root_x509(machine, serial=1, not_before=START, not_after=END)
    )
    with pytest.raises(InvalidSignature):
        x509.load_der_x509_certificate(tampered).verify_directly_issued_by(root)


def test_bad_public_point_is_refused(machine: SoftwareKeystore) -> None:
    with pytest.raises(InvalidKeyError):
        issue_x509(machine, b"\x04" + b"\x01" * 64, "x", serial=1, not_before=0, not_after=9)


@pytest.mark.skipif(shutil.which("openssl") is None, reason="needs the openssl command line")
def test_openssl_verifies_the_chain(machine: SoftwareKeystore, tmp_path: Path) -> None:
    _, der = _meter_certificate(machine)
    root = root_x509(machine, serial=1, not_before=START, not_after=END)
    pem = serialization.Encoding.PEM
    (tmp_path / "root.pem").write_bytes(x509.load_der_x509_certificate(root).public_bytes(pem))
    (tmp_path / "leaf.pem").write_bytes(x509.load_der_x509_certificate(der).public_bytes(pem))
    result = subprocess.run(
        ["openssl", "verify", "-attime", str(START + 1), "-CAfile", "root.pem", "leaf.pem"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "leaf.pem: OK"
