"""Both backends give the same results: per-meter keys, wrapped keys and ECDH secrets."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from meterseal.crypto.international import P256
from meterseal.errors import DecryptionError
from meterseal.hsm import SoftwareKeystore
from meterseal.hsm.kek import TEST_SCRYPT, kek_from_passphrase

pytest_plugins = ["softhsm_support"]

if TYPE_CHECKING:
    from meterseal.hsm.pkcs11 import Pkcs11Machine

MASTER = bytes.fromhex("0f1e2d3c4b5a69788796a5b4c3d2e1f00112233445566778899aabbccddeeff0")
WRAPPING = bytes.fromhex("000102030405060708090A0B0C0D0E0F101112131415161718191A1B1C1D1E1F")
RFC3394_DATA = bytes.fromhex("00112233445566778899AABBCCDDEEFF000102030405060708090A0B0C0D0E0F")
RFC3394_WRAPPED = bytes.fromhex(
    "28C9F404C4B810F4CBCCB35CFB87F8263F5786E2D80ED326CBC7F0E71A99F43BFB988B9B7A02DD21"
)

METERS = ("M00000001", "M00000002", "WTR-0042", "燃气-7")
PURPOSES = ("prepaid", "key-transport")


@pytest.fixture
def software(tmp_path: Path) -> Iterator[SoftwareKeystore]:
    kek = kek_from_passphrase("cross-backend", TEST_SCRYPT)
    with SoftwareKeystore(tmp_path / "k.msks", kek, create=True) as store:
        store.import_master_key("master", MASTER)
        store.import_wrapping_key("wrap", WRAPPING)
        yield store


@pytest.fixture
def token_machine(pkcs11_machine: Pkcs11Machine) -> Pkcs11Machine:
    pkcs11_machine.import_master_key("master", MASTER)
    pkcs11_machine.import_wrapping_key("wrap", WRAPPING)
    return pkcs11_machine


@pytest.mark.parametrize("length", [16, 32, 64])
def test_per_meter_keys_are_equal_on_both_backends(
    software: SoftwareKeystore, token_machine: Pkcs11Machine, length: int
) -> None:
    for meter in METERS:
        for purpose in PURPOSES:
            on_token = token_machine.derive_meter_key("master", meter, purpose, length)
            assert on_token == software.derive_meter_key("master", meter, purpose, length)


def test_token_derivation_is_deterministic_and_separated(pkcs11_machine: Pkcs11Machine) -> None:
    pkcs11_machine.generate_master_key("master")
    keys = {
        (meter, purpose): pkcs11_machine.derive_meter_key("master", meter, purpose)
        for meter in METERS
        for purpose in PURPOSES
    }
    assert len(set(keys.values())) == len(keys)
    assert (
        pkcs11_machine.derive_meter_key("master", METERS[0], PURPOSES[0])
        == keys[METERS[0], PURPOSES[0]]
    )


def test_token_wraps_the_rfc_3394_vector(token_machine: Pkcs11Machine) -> None:
    assert token_machine.wrap_key("wrap", RFC3394_DATA) == RFC3394_WRAPPED
    assert token_machine.unwrap_key("wrap", RFC3394_WRAPPED) == RFC3394_DATA


def test_wrapped_on_one_backend_unwraps_on_the_other(
    software: SoftwareKeystore, token_machine: Pkcs11Machine
) -> None:
    for length in (16, 24, 32, 40, 64):
        material = os.urandom(length)
        from_token = token_machine.wrap_key("wrap", material)
        from_software = software.wrap_key("wrap", material)
        assert from_token == from_software
        assert software.unwrap_key("wrap", from_token) == material
        assert token_machine.unwrap_key("wrap", from_software) == material


def test_forged_wrapped_key_fails_on_the_token(token_machine: Pkcs11Machine) -> None:
    forged = bytearray(RFC3394_WRAPPED)
    forged[0] ^= 0x80
    with pytest.raises(DecryptionError):
        token_machine.unwrap_key("wrap", bytes(forged))


def test_ecdh_between_the_two_backends_agrees(
    software: SoftwareKeystore, pkcs11_machine: Pkcs11Machine
) -> None:
    on_token = pkcs11_machine.generate_dh_key("dh", P256)
    in_software = software.generate_dh_key("dh", P256)
    assert on_token.exchange(in_software.public_key) == in_software.exchange(on_token.public_key)
