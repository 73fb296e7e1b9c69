"""Credentials (CCS, X.509), ID_CRED_x forms and local identities (RFC 9528 3.5)."""

from __future__ import annotations

import datetime
import os

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from meterseal import cbor
from meterseal.crypto.international import ED25519, ES256, P256, X25519
from meterseal.edhoc import (
    CoseKey,
    Credential,
    CredentialFormat,
    IdCred,
    IdCredKind,
    KeyUse,
    LocalIdentity,
    make_ccs,
)
from meterseal.edhoc.encoding import split_sequence
from meterseal.errors import EncodingError, InvalidKeyError, UnsupportedAlgorithmError


def p256_ccs(kid: bytes = b"\x0a") -> tuple[bytes, bytes]:
    """A CCS for a fresh P-256 key, and the key's private scalar."""
    private = os.urandom(32)
    point = ES256.from_private_bytes(private).public_key
    return make_ccs(point, crv=1, subject="meter-1", kid=kid), private


def self_signed_p256_certificate() -> tuple[bytes, ec.EllipticCurvePrivateKey]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "head-end")])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(now)
        .not_valid_after(now + datetime.timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    return certificate.public_bytes(serialization.Encoding.DER), key


def test_ccs_parses_into_its_cose_key_subject_and_kid() -> None:
    ccs, private = p256_ccs(kid=b"\x32")
    credential = Credential.from_ccs(ccs)
    assert credential.value == ccs
    assert credential.format is CredentialFormat.CCS
    assert (credential.subject, credential.kid) == ("meter-1", b"\x32")
    assert credential.key.signature_public_key() == ES256.from_private_bytes(private).public_key
    assert credential.key.dh_public_key(P256) == P256.from_private_bytes(private).public_key


@pytest.mark.parametrize(
    ("key", "uses"),
    [
        (CoseKey(2, 1, b"x" * 32, b"y" * 32), KeyUse.DH | KeyUse.SIGNATURE),
        (CoseKey(2, 1, b"x" * 32, b"y" * 32, alg=-7), KeyUse.SIGNATURE),
        (CoseKey(2, 1, b"x" * 32, b"y" * 32, alg=-25), KeyUse.DH),
        (CoseKey(1, 4, b"x" * 32), KeyUse.DH),
        (CoseKey(1, 6, b"x" * 32), KeyUse.SIGNATURE),
    ],
)
def test_key_use_follows_curve_and_alg(key: CoseKey, uses: KeyUse) -> None:
    assert key.uses == uses


def test_dh_key_on_another_curve_is_refused() -> None:
    credential = Credential.from_ccs(p256_ccs()[0])
    with pytest.raises(InvalidKeyError, match="X25519"):
        credential.key.dh_public_key(X25519)


def test_signature_key_needs_y_for_ec2() -> None:
    with pytest.raises(InvalidKeyError, match="y-coordinate"):
        CoseKey(2, 1, b"x" * 32).signature_public_key()


def test_x25519_key_cannot_verify_signatures() -> None:
    with pytest.raises(InvalidKeyError):
        CoseKey(1, 4, b"x" * 32).signature_public_key()


@pytest.mark.parametrize(
    "ccs",
    [
        cbor.encode([1, 2]),
        cbor.encode({2: "no cnf"}),
        cbor.encode({8: {1: {1: 2, -1: 1, -2: b"x"}, 2: 0}}),
        cbor.encode({8: {1: {1: 2, -1: 1, -2: b"x"}}}),  # EC2 without y
        cbor.encode({2: 7, 8: {1: {1: 1, -1: 4, -2: b"x"}}}),
        cbor.encode({8: {1: {1: 1, -1: "four", -2: b"x"}}}),
        b"\xa1\x08\xa1\x01\xa3\x01\x01\x20\x04\x21\x41\x78\x00",
    ],
    ids=["array", "no-cnf", "cnf-extra", "ec2-no-y", "subject-int", "crv-text", "trailing"],
)
def test_malformed_ccs_is_encoding_error(ccs: bytes) -> None:
    with pytest.raises(EncodingError):
        Credential.from_ccs(ccs)


def test_symmetric_cose_key_is_unsupported() -> None:
    with pytest.raises(UnsupportedAlgorithmError):
        Credential.from_ccs(cbor.encode({8: {1: {1: 4, -1: b"k"}}}))


def test_okp_ccs_round_trips() -> None:
    key = ED25519.from_private_bytes(os.urandom(32))
    credential = Credential.from_ccs(make_ccs(key.public_key, crv=6, subject="s", kid=b"\x01"))
    assert credential.key == CoseKey(1, 6, key.public_key, kid=b"\x01")


def test_ec2_ccs_needs_the_whole_point() -> None:
    with pytest.raises(InvalidKeyError, match="04"):
        make_ccs(b"\x01" * 32, crv=1, subject="s", kid=b"\x01")


def test_x509_certificate_gives_its_p256_key() -> None:
    der, key = self_signed_p256_certificate()
    credential = Credential.from_x509(der)
    numbers = key.public_key().public_numbers()
    assert credential.value == cbor.encode(der)
    assert credential.der == der
    assert credential.key == CoseKey(
        2, 1, numbers.x.to_bytes(32, "big"), numbers.y.to_bytes(32, "big")
    )
    assert credential.subject == "CN=head-end"


def test_garbage_certificate_is_encoding_error() -> None:
    with pytest.raises(EncodingError):
        Credential.from_x509(b"\x30\x03\x02\x01\x01")


@pytest.mark.parametrize(
    ("kid", "plaintext"), [(b"\x32", b"\x32"), (b"\x18", b"\x41\x18"), (b"ab", b"\x42ab")]
)
def test_kid_is_compact_in_plaintext_and_whole_in_the_map(kid: bytes, plaintext: bytes) -> None:
    id_cred = IdCred.by_kid(kid)
    assert id_cred.plaintext_item() == plaintext
    assert id_cred.encoded == cbor.encode({4: kid})
    (item,) = split_sequence(plaintext)
    assert IdCred.decode(item) == id_cred


def test_kid_map_form_is_accepted_in_plaintext() -> None:
    (item,) = split_sequence(cbor.encode({4: b"\x32"}))
    assert IdCred.decode(item) == IdCred.by_kid(b"\x32")


def test_x5t_names_its_certificate_only() -> None:
    der, _ = self_signed_p256_certificate()
    other, _ = self_signed_p256_certificate()
    id_cred = IdCred.by_x5t(Credential.from_x509(der))
    (item,) = split_sequence(id_cred.plaintext_item())
    decoded = IdCred.decode(item)
    assert decoded.kind is IdCredKind.X5T
    assert decoded.matches(Credential.from_x509(der))
    assert not decoded.matches(Credential.from_x509(other))


@pytest.mark.parametrize("format_", ["ccs", "x509"])
def test_by_value_carries_the_credential(format_: str) -> None:
    if format_ == "ccs":
        credential = Credential.from_ccs(p256_ccs()[0])
    else:
        credential = Credential.from_x509(self_signed_p256_certificate()[0])
    id_cred = IdCred.by_value(credential)
    (item,) = split_sequence(id_cred.plaintext_item())
    decoded = IdCred.decode(item)
    assert decoded.embedded == credential
    assert decoded.encoded == id_cred.encoded
    assert decoded.matches(credential)


@pytest.mark.parametrize(
    "encoded",
    [
        cbor.encode({4: b"\x01", 34: [-15, b"12345678"]}),
        cbor.encode({33: "not a certificate"}),
        cbor.encode({99: b"\x01"}),
        cbor.encode({34: [-15]}),
        cbor.encode({34: [-99, b"12345678"]}),
        cbor.encode({4: 7}),
        cbor.encode({"kid": b"\x01"}),
        cbor.encode({14: {1: 2}}),
    ],
    ids=["two-labels", "x5chain-text", "unknown", "x5t-short", "x5t-alg", "kid-int", "text", "ccs"],
)
def test_malformed_id_cred_is_encoding_error(encoded: bytes) -> None:
    (item,) = split_sequence(encoded)
    with pytest.raises((EncodingError, UnsupportedAlgorithmError)):
        IdCred.decode(item)


def test_local_identity_refuses_a_key_of_another_credential() -> None:
    ccs, _ = p256_ccs()
    credential = Credential.from_ccs(ccs)
    with pytest.raises(InvalidKeyError, match="does not belong"):
        LocalIdentity.static_dh(credential, IdCred.by_kid(b"\x0a"), P256.generate(os.urandom))


def test_local_identity_accepts_its_own_keys() -> None:
    ccs, private = p256_ccs()
    credential = Credential.from_ccs(ccs)
    id_cred = IdCred.by_kid(b"\x0a")
    assert not LocalIdentity.static_dh(credential, id_cred, P256.from_private_bytes(private)).signs
    assert LocalIdentity.signature(credential, id_cred, ES256.from_private_bytes(private)).signs
