"""The software keystore's asymmetric keys: every curve and algorithm of the three suites."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from meterseal.crypto.interfaces import DhCurve, SignatureAlg
from meterseal.crypto.international import ED25519, ES256, P256, X25519
from meterseal.crypto.sm2 import SM2_CURVE, SM2_SIGNATURE, Sm2Signature
from meterseal.crypto.suites import SUITE_0, SUITE_2, SUITE_GMT, CipherSuite
from meterseal.edhoc import Method
from meterseal.errors import SignatureError, UnsupportedAlgorithmError
from meterseal.hsm import (
    DuplicateLabelError,
    HsmError,
    HsmUnavailableError,
    KeyInfo,
    KeyKind,
    KeyNotFoundError,
    SoftwareKeystore,
    WrongKeyKindError,
)
from meterseal.hsm.kek import KekSource
from meterseal.hsm.testing import dh_identity, handshake, signature_identity

pytest_plugins = ["hsm_keystore_fixtures"]

MESSAGE = b"interval readings 2024-05-01T00:15Z"
CURVES: list[DhCurve] = [P256, X25519, SM2_CURVE]
SIGNATURES: list[SignatureAlg] = [ES256, ED25519, SM2_SIGNATURE]


@pytest.mark.parametrize("curve", CURVES, ids=lambda c: c.name)
def test_dh_key_agrees_with_a_peer_software_key(keystore: SoftwareKeystore, curve: DhCurve) -> None:
    handle = keystore.generate_dh_key("static", curve)
    peer = curve.generate(os.urandom)
    assert handle.exchange(peer.public_key) == peer.exchange(handle.public_key)
    curve.validate_public_key(handle.public_key)


@pytest.mark.parametrize("alg", SIGNATURES, ids=lambda a: a.name)
def test_signing_key_signatures_verify(keystore: SoftwareKeystore, alg: SignatureAlg) -> None:
    handle = keystore.generate_signing_key("signer", alg)
    signature = handle.sign(MESSAGE)
    alg.verify(handle.public_key, MESSAGE, signature)
    with pytest.raises(SignatureError):
        alg.verify(handle.public_key, MESSAGE + b"!", signature)


@pytest.mark.parametrize("curve", CURVES, ids=lambda c: c.name)
def test_dh_key_loads_by_label_after_reopen(
    keystore_path: Path, keystore_kek: KekSource, curve: DhCurve
) -> None:
    peer = curve.generate(os.urandom)
    with SoftwareKeystore(keystore_path, keystore_kek, create=True) as store:
        made = store.generate_dh_key("static", curve)
        secret = made.exchange(peer.public_key)
    with SoftwareKeystore(keystore_path, keystore_kek) as store:
        loaded = store.dh_key("static")
        assert (loaded.public_key, loaded.public_point) == (made.public_key, made.public_point)
        assert loaded.exchange(peer.public_key) == secret


@pytest.mark.parametrize("alg", SIGNATURES, ids=lambda a: a.name)
def test_signing_key_loads_by_label_after_reopen(
    keystore_path: Path, keystore_kek: KekSource, alg: SignatureAlg
) -> None:
    with SoftwareKeystore(keystore_path, keystore_kek, create=True) as store:
        public = store.generate_signing_key("signer", alg).public_key
    with SoftwareKeystore(keystore_path, keystore_kek) as store:
        loaded = store.signing_key("signer")
        assert loaded.public_key == public
        alg.verify(public, MESSAGE, loaded.sign(MESSAGE))


def test_sm2_distinguishing_id_is_kept(keystore_path: Path, keystore_kek: KekSource) -> None:
    alg = Sm2Signature(distid=b"meter-ALICE@grid")
    with SoftwareKeystore(keystore_path, keystore_kek, create=True) as store:
        store.generate_signing_key("sm2", alg)
    with SoftwareKeystore(keystore_path, keystore_kek) as store:
        handle = store.signing_key("sm2")
        signature = handle.sign(MESSAGE)
    alg.verify(handle.public_key, MESSAGE, signature)
    with pytest.raises(SignatureError):
        SM2_SIGNATURE.verify(handle.public_key, MESSAGE, signature)


def test_labels_describe_every_key_by_public_data(keystore: SoftwareKeystore) -> None:
    dh = keystore.generate_dh_key("b-dh", P256)
    signer = keystore.generate_signing_key("a-sig", ED25519)
    keystore.generate_master_key("c-master")
    keystore.generate_wrapping_key("d-wrap")
    assert keystore.labels() == [
        KeyInfo("a-sig", KeyKind.SIGNING, "EdDSA", signer.public_key),
        KeyInfo("b-dh", KeyKind.DH, "P-256", dh.public_point),
        KeyInfo("c-master", KeyKind.MASTER, "HMAC-SHA256"),
        KeyInfo("d-wrap", KeyKind.WRAPPING, "AES-256-KW"),
    ]


def test_duplicate_label_is_refused_and_keeps_the_first_key(keystore: SoftwareKeystore) -> None:
    first = keystore.generate_dh_key("static", P256)
    with pytest.raises(DuplicateLabelError):
        keystore.generate_signing_key("static", ES256)
    with pytest.raises(DuplicateLabelError):
        keystore.generate_master_key("static")
    assert keystore.dh_key("static").public_point == first.public_point
    assert len(keystore.labels()) == 1


def test_unknown_label_and_wrong_kind_are_typed_errors(keystore: SoftwareKeystore) -> None:
    keystore.generate_signing_key("signer", ES256)
    with pytest.raises(KeyNotFoundError):
        keystore.dh_key("nobody")
    with pytest.raises(WrongKeyKindError):
        keystore.dh_key("signer")
    with pytest.raises(WrongKeyKindError):
        keystore.derive_meter_key("signer", "M1", "prepaid")


@pytest.mark.parametrize("label", ["", "tab\there", "x" * 129])
def test_bad_labels_are_refused(keystore: SoftwareKeystore, label: str) -> None:
    with pytest.raises(HsmError, match="label"):
        keystore.generate_master_key(label)


def test_destroy_stops_existing_handles_and_survives_reopen(
    keystore_path: Path, keystore_kek: KekSource
) -> None:
    with SoftwareKeystore(keystore_path, keystore_kek, create=True) as store:
        handle = store.generate_signing_key("signer", ES256)
        store.generate_master_key("keep")
        store.destroy_key("signer")
        with pytest.raises(KeyNotFoundError):
            handle.sign(MESSAGE)
        with pytest.raises(KeyNotFoundError):
            store.destroy_key("signer")
    with SoftwareKeystore(keystore_path, keystore_kek) as store:
        assert [info.label for info in store.labels()] == ["keep"]


def test_close_stops_handles_and_the_keystore(keystore: SoftwareKeystore) -> None:
    handle = keystore.generate_dh_key("static", X25519)
    keystore.close()
    with pytest.raises(HsmUnavailableError):
        handle.exchange(X25519.generate(os.urandom).public_key)
    with pytest.raises(HsmUnavailableError):
        keystore.labels()
    keystore.close()  # idempotent


def test_unknown_curve_is_unsupported(keystore: SoftwareKeystore) -> None:
    class Curve448:
        name = "X448"

    with pytest.raises(UnsupportedAlgorithmError, match="X448"):
        keystore.generate_dh_key("x448", Curve448())  # type: ignore[arg-type]


@pytest.mark.parametrize("suite", [SUITE_2, SUITE_0, SUITE_GMT], ids=lambda s: str(s.value))
def test_edhoc_method_3_with_the_responder_static_key_in_the_keystore(
    keystore: SoftwareKeystore, suite: CipherSuite
) -> None:
    key = keystore.generate_dh_key(f"head-end-{suite.value}", suite.dh)
    run = handshake(suite, Method.STATIC_STATIC, dh_identity(suite, key))
    assert run.initiator.exporter(0, b"", 16) == run.responder.exporter(0, b"", 16)


@pytest.mark.parametrize("suite", [SUITE_2, SUITE_0, SUITE_GMT], ids=lambda s: str(s.value))
def test_edhoc_method_0_with_the_responder_signing_key_in_the_keystore(
    keystore: SoftwareKeystore, suite: CipherSuite
) -> None:

    key = keystore.generate_signing_key(f"head-end-{suite.value}", suite.signature)
    run = handshake(suite, Method.SIGN_SIGN, signature_identity(suite, key))
    assert run.initiator.exporter(0, b"", 16) == run.responder.exporter(0, b"", 16)


def test_sm2_curve_objects_are_accepted_by_name(keystore: SoftwareKeystore) -> None:
    handle = keystore.generate_dh_key("sm2", SM2_CURVE)
    assert keystore.labels()[0].algorithm == "SM2"
    assert handle.public_point[0] == 0x04
