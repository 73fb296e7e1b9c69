"""The PKCS#11 machine on a real SoftHSM2 token: signatures, ECDH, inventory, errors."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from softhsm_support import USER_PIN, new_token, open_machine

from meterseal.crypto.international import ED25519, ES256, P256, X25519
from meterseal.crypto.sm2 import SM2_CURVE, SM2_SIGNATURE
from meterseal.crypto.suites import SUITE_0, SUITE_2, CipherSuite
from meterseal.edhoc import Method
from meterseal.errors import UnsupportedAlgorithmError
from meterseal.hsm import (
    DuplicateLabelError,
    HsmUnavailableError,
    KeyInfo,
    KeyKind,
    KeyNotFoundError,
    Pkcs11Config,
    WrongKeyKindError,
    WrongPassphraseError,
)
from meterseal.hsm.testing import dh_identity, handshake, signature_identity

pytest_plugins = ["softhsm_support"]

if TYPE_CHECKING:
    from meterseal.hsm.pkcs11 import Pkcs11Machine

MESSAGE = b"96 interval readings, meter M00000007"


def test_es256_signatures_verify_with_cryptography_and_meterseal(
    pkcs11_machine: Pkcs11Machine,
) -> None:
    key = pkcs11_machine.generate_signing_key("ca", ES256)
    signature = key.sign(MESSAGE)
    ES256.verify(key.public_key, MESSAGE, signature)
    public = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), key.public_key)
    r, s = int.from_bytes(signature[:32], "big"), int.from_bytes(signature[32:], "big")
    public.verify(encode_dss_signature(r, s), MESSAGE, ec.ECDSA(hashes.SHA256()))


def test_eddsa_signatures_verify_with_cryptography_and_meterseal(
    pkcs11_machine: Pkcs11Machine,
) -> None:
    key = pkcs11_machine.generate_signing_key("ed", ED25519)
    signature = key.sign(MESSAGE)
    ED25519.verify(key.public_key, MESSAGE, signature)
    ed25519.Ed25519PublicKey.from_public_bytes(key.public_key).verify(signature, MESSAGE)


def test_ecdh_with_a_cryptography_key_agrees_both_ways(pkcs11_machine: Pkcs11Machine) -> None:
    token_key = pkcs11_machine.generate_dh_key("static", P256)
    peer = ec.generate_private_key(ec.SECP256R1())
    peer_point = peer.public_key().public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
    )
    token_public = ec.EllipticCurvePublicKey.from_encoded_point(
        ec.SECP256R1(), token_key.public_point
    )
    from_token = token_key.exchange(peer_point[1:33])
    assert from_token == peer.exchange(ec.ECDH(), token_public)
    assert token_key.public_key == token_key.public_point[1:33]


def test_keys_persist_on_the_token_across_sessions(softhsm_token: Pkcs11Config) -> None:
    with open_machine(softhsm_token) as machine:
        dh = machine.generate_dh_key("static", P256)
        signer = machine.generate_signing_key("ca", ES256)
        machine.generate_master_key("master")
        machine.generate_wrapping_key("wrap")
        before = machine.labels()
    with open_machine(softhsm_token) as machine:
        assert machine.labels() == before
        assert machine.dh_key("static").public_point == dh.public_point
        ES256.verify(signer.public_key, MESSAGE, machine.signing_key("ca").sign(MESSAGE))
    assert [(i.label, i.kind) for i in before] == [
        ("ca", KeyKind.SIGNING),
        ("master", KeyKind.MASTER),
        ("static", KeyKind.DH),
        ("wrap", KeyKind.WRAPPING),
    ]


def test_labels_show_public_keys_only(pkcs11_machine: Pkcs11Machine) -> None:
    dh = pkcs11_machine.generate_dh_key("dh", P256)
    pkcs11_machine.import_master_key("master", bytes(range(32)))
    assert pkcs11_machine.labels() == [
        KeyInfo("dh", KeyKind.DH, "P-256", dh.public_point),
        KeyInfo("master", KeyKind.MASTER, "HMAC-SHA256"),
    ]


@pytest.mark.parametrize(
    ("make", "name"),
    [
        (lambda m: m.generate_dh_key("k", X25519), "X25519"),
        (lambda m: m.generate_dh_key("k", SM2_CURVE), "SM2"),
        (lambda m: m.generate_signing_key("k", SM2_SIGNATURE), "SM2-SM3"),
    ],
)
def test_curves_softhsm2_lacks_are_unsupported_with_a_reason(
    pkcs11_machine: Pkcs11Machine, make: object, name: str
) -> None:
    with pytest.raises(UnsupportedAlgorithmError, match=f"{name}: .*software keystore"):
        make(pkcs11_machine)  # type: ignore[operator]
    assert pkcs11_machine.labels() == []


def test_duplicate_labels_and_wrong_kinds_are_refused(pkcs11_machine: Pkcs11Machine) -> None:
    pkcs11_machine.generate_signing_key("ca", ES256)
    with pytest.raises(DuplicateLabelError):
        pkcs11_machine.generate_dh_key("ca", P256)
    with pytest.raises(WrongKeyKindError):
        pkcs11_machine.dh_key("ca")
    with pytest.raises(KeyNotFoundError):
        pkcs11_machine.signing_key("nobody")


def test_destroy_removes_both_halves_and_stops_handles(pkcs11_machine: Pkcs11Machine) -> None:
    key = pkcs11_machine.generate_signing_key("ca", ES256)
    pkcs11_machine.destroy_key("ca")
    with pytest.raises(KeyNotFoundError):
        key.sign(MESSAGE)
    assert pkcs11_machine.labels() == []
    pkcs11_machine.generate_signing_key("ca", ES256)  # the label is free again


def test_closed_machine_and_its_handles_are_unavailable(softhsm_token: Pkcs11Config) -> None:
    machine = open_machine(softhsm_token)
    key = machine.generate_dh_key("static", P256)
    machine.close()
    with pytest.raises(HsmUnavailableError):
        key.exchange(P256.generate(os.urandom).public_key)
    with pytest.raises(HsmUnavailableError):
        machine.labels()


def test_wrong_pin_is_a_typed_error(softhsm_token: Pkcs11Config) -> None:
    wrong = Pkcs11Config(
        softhsm_token.token_label, softhsm_token.module_path, user_pin=USER_PIN + "x"
    )
    with pytest.raises(WrongPassphraseError):
        open_machine(wrong)


def test_a_second_machine_on_an_open_token_is_refused(
    pkcs11_machine: Pkcs11Machine, softhsm_token: Pkcs11Config
) -> None:
    key = pkcs11_machine.generate_signing_key("ca", ES256)
    with pytest.raises(HsmUnavailableError, match="already open in this process"):
        open_machine(softhsm_token)
    ES256.verify(key.public_key, MESSAGE, key.sign(MESSAGE))  # still logged in


@pytest.mark.usefixtures("softhsm_data_dir")
def test_missing_token_is_unavailable() -> None:
    with pytest.raises(HsmUnavailableError, match="no token"):
        open_machine(Pkcs11Config("no-such-token", user_pin=USER_PIN))


def test_token_made_while_a_machine_is_open_appears_after_close(
    softhsm_data_dir: Path, softhsm_token: Pkcs11Config
) -> None:
    first = open_machine(softhsm_token)
    later = new_token(softhsm_data_dir)
    with pytest.raises(HsmUnavailableError, match="closed"):
        open_machine(later)
    first.close()
    with open_machine(later) as machine:
        assert machine.labels() == []


@pytest.mark.parametrize("suite", [SUITE_2], ids=["suite2"])
def test_edhoc_method_3_with_the_head_end_static_key_on_the_token(
    pkcs11_machine: Pkcs11Machine, suite: CipherSuite
) -> None:
    key = pkcs11_machine.generate_dh_key("head-end-dh", suite.dh)
    run = handshake(suite, Method.STATIC_STATIC, dh_identity(suite, key))
    assert run.initiator.exporter(0, b"", 16) == run.responder.exporter(0, b"", 16)


@pytest.mark.parametrize("suite", [SUITE_2, SUITE_0], ids=["suite2", "suite0"])
def test_edhoc_method_0_with_the_head_end_signing_key_on_the_token(
    pkcs11_machine: Pkcs11Machine, suite: CipherSuite
) -> None:
    key = pkcs11_machine.generate_signing_key("head-end-sig", suite.signature)
    run = handshake(suite, Method.SIGN_SIGN, signature_identity(suite, key))
    assert run.initiator.exporter(0, b"", 16) == run.responder.exporter(0, b"", 16)
