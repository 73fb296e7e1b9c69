"""X.509 certificates (RFC 5280) for P-256 keys, signed by the CA root inside the machine.

cryptography's builder only signs with a private key object, and the CA's key never leaves
the machine. So the TBSCertificate is built by signing once with a throwaway P-256 key
(whose signature is discarded: the TBS already names ecdsa-with-SHA256, RFC 5758 section
3.2), its bytes are signed through the machine's ES256 handle (raw ``r || s``, RFC 9053
section 2.1), and the certificate is assembled by hand (RFC 5280 section 4.1)::

    Certificate ::= SEQUENCE { tbsCertificate, signatureAlgorithm, signatureValue BIT STRING }
"""

from __future__ import annotations

import datetime

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from cryptography.x509.oid import NameOID

from meterseal.crypto.suites import SUITE_2
from meterseal.errors import InvalidKeyError
from meterseal.hsm.interface import CryptoMachine
from meterseal.pki.ca import root_label

_ECDSA_WITH_SHA256 = bytes.fromhex("300a06082a8648ce3d040302")
"""AlgorithmIdentifier { ecdsa-with-SHA256 (1.2.840.10045.4.3.2) }, parameters absent."""

_SCALAR = 32


def _der_length(length: int) -> bytes:
    if length < 0x80:
        return bytes([length])
    body = length.to_bytes((length.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(body)]) + body


def _tlv(tag: int, value: bytes) -> bytes:
    return bytes([tag]) + _der_length(len(value)) + value


def _public_key(point: bytes) -> ec.EllipticCurvePublicKey:
    try:
        return ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), point)
    except ValueError as exc:
        raise InvalidKeyError("not an uncompressed P-256 point") from exc


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def ca_name() -> x509.Name:
    """The issuer name of every certificate the CA signs."""
    return _name("MeterSeal CA (suite 2)")


def _seconds(unix: int) -> datetime.datetime:
    return datetime.datetime.fromtimestamp(unix, tz=datetime.UTC)


def _sign_with_machine(machine: CryptoMachine, builder: x509.CertificateBuilder) -> bytes:
    throwaway = ec.generate_private_key(ec.SECP256R1())
    tbs = builder.sign(throwaway, hashes.SHA256()).tbs_certificate_bytes
    raw = machine.signing_key(root_label(SUITE_2)).sign(tbs)
    if len(raw) != 2 * _SCALAR:
        raise InvalidKeyError("the CA root did not return an ES256 signature")
    r, s = int.from_bytes(raw[:_SCALAR], "big"), int.from_bytes(raw[_SCALAR:], "big")
    signature = _tlv(0x03, b"\x00" + encode_dss_signature(r, s))
    return _tlv(0x30, tbs + _ECDSA_WITH_SHA256 + signature)


def _builder(
    subject: x509.Name,
    point: bytes,
    machine: CryptoMachine,
    *,
    serial: int,
    not_before: int,
    not_after: int,
) -> x509.CertificateBuilder:
    ca_key = _public_key(machine.signing_key(root_label(SUITE_2)).public_key)
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(ca_name())
        .public_key(_public_key(point))
        .serial_number(serial)
        .not_valid_before(_seconds(not_before))
        .not_valid_after(_seconds(not_after))
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key), False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(_public_key(point)), False)
    )


def issue_x509(
    machine: CryptoMachine,
    public_point: bytes,
    subject: str,
    *,
    serial: int,
    not_before: int,
    not_after: int,
) -> bytes:
    """The DER certificate of a meter's P-256 key (``04 || x || y``), CN ``subject``."""
    builder = _builder(
        _name(subject),
        public_point,
        machine,
        serial=serial,
        not_before=not_before,
        not_after=not_after,
    ).add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
    return _sign_with_machine(machine, builder)


def root_x509(machine: CryptoMachine, *, serial: int, not_before: int, not_after: int) -> bytes:
    """The self-signed DER certificate of the suite-2 CA root (a trust anchor)."""
    point = machine.signing_key(root_label(SUITE_2)).public_key
    builder = _builder(
        ca_name(), point, machine, serial=serial, not_before=not_before, not_after=not_after
    ).add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
    return _sign_with_machine(machine, builder)
