"""Per-meter key derivation and key wrapping in the software keystore, against RFCs."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDFExpand
from cryptography.hazmat.primitives.keywrap import aes_key_wrap

from meterseal.errors import CryptoError, DecryptionError, InvalidKeyError
from meterseal.hsm import SoftwareKeystore, WrongKeyKindError
from meterseal.hsm.symmetric import meter_key_info
from meterseal.hsm.testing import exposed_bytes, leaks

pytest_plugins = ["hsm_keystore_fixtures"]

MASTER = bytes.fromhex("a5" * 32)

# RFC 3394 section 4.6: wrap 256 bits of key data with a 256-bit KEK.
RFC3394_KEK = bytes.fromhex("000102030405060708090A0B0C0D0E0F101112131415161718191A1B1C1D1E1F")
RFC3394_DATA = bytes.fromhex("00112233445566778899AABBCCDDEEFF000102030405060708090A0B0C0D0E0F")
RFC3394_WRAPPED = bytes.fromhex(
    "28C9F404C4B810F4CBCCB35CFB87F8263F5786E2D80ED326CBC7F0E71A99F43BFB988B9B7A02DD21"
)


@pytest.fixture
def store(keystore: SoftwareKeystore) -> SoftwareKeystore:
    keystore.import_master_key("master", MASTER)
    keystore.import_wrapping_key("wrap", RFC3394_KEK)
    return keystore


def test_meter_key_info_is_the_documented_cbor_array() -> None:
    context = b"MeterSeal per-meter key v1"
    expected = b"\x84\x78\x1a" + context + b"\x69M00000001" + b"\x67prepaid" + b"\x10"
    assert meter_key_info("M00000001", "prepaid", 16) == expected


@pytest.mark.parametrize("length", [16, 32, 48, 64])
def test_derived_key_is_hkdf_expand_under_the_master(store: SoftwareKeystore, length: int) -> None:
    info = meter_key_info("M00000001", "prepaid", length)
    expected = HKDFExpand(hashes.SHA256(), length, info).derive(MASTER)
    assert store.derive_meter_key("master", "M00000001", "prepaid", length) == expected


def test_derivation_is_deterministic_and_separates_meters_purposes_lengths(
    store: SoftwareKeystore,
) -> None:
    derive = store.derive_meter_key
    key = derive("master", "M00000001", "prepaid")
    assert derive("master", "M00000001", "prepaid") == key
    others = {
        derive("master", "M00000002", "prepaid"),
        derive("master", "M00000001", "key-transport"),
        derive("master", "M00000001", "prepaid", 32)[:16],
    }
    assert key not in others
    assert len(others) == 3


@pytest.mark.parametrize(
    ("meter_id", "purpose", "length"),
    [("", "prepaid", 16), ("M1", "", 16), ("M1", "prepaid", 8), ("M1", "prepaid", 65)],
)
def test_bad_derivation_inputs_are_refused(
    store: SoftwareKeystore, meter_id: str, purpose: str, length: int
) -> None:

    with pytest.raises(CryptoError):
        store.derive_meter_key("master", meter_id, purpose, length)


def test_wrap_matches_the_rfc_3394_vector(store: SoftwareKeystore) -> None:
    assert store.wrap_key("wrap", RFC3394_DATA) == RFC3394_WRAPPED
    assert store.unwrap_key("wrap", RFC3394_WRAPPED) == RFC3394_DATA


def test_wrap_matches_cryptography_for_every_block_count(store: SoftwareKeystore) -> None:
    for length in range(16, 72, 8):
        material = bytes(range(length))
        wrapped = store.wrap_key("wrap", material)
        assert wrapped == aes_key_wrap(RFC3394_KEK, material)
        assert store.unwrap_key("wrap", wrapped) == material


def test_forged_wrapped_key_fails_to_unwrap(store: SoftwareKeystore) -> None:
    forged = bytearray(RFC3394_WRAPPED)
    forged[-1] ^= 0x01
    with pytest.raises(DecryptionError):
        store.unwrap_key("wrap", bytes(forged))
    with pytest.raises(DecryptionError):
        store.unwrap_key("wrap", RFC3394_WRAPPED[:-4])


@pytest.mark.parametrize("length", [0, 8, 15, 17, 4104])
def test_material_outside_rfc_3394_is_refused(store: SoftwareKeystore, length: int) -> None:
    with pytest.raises(InvalidKeyError, match="RFC 3394"):
        store.wrap_key("wrap", bytes(length))


def test_each_secret_serves_one_purpose(store: SoftwareKeystore) -> None:
    with pytest.raises(WrongKeyKindError):
        store.derive_meter_key("wrap", "M1", "prepaid")
    with pytest.raises(WrongKeyKindError):
        store.unwrap_key("master", RFC3394_WRAPPED)


@pytest.mark.parametrize("secret", [b"", bytes(16), bytes(33)])
def test_imported_secrets_must_be_32_bytes(keystore: SoftwareKeystore, secret: bytes) -> None:
    with pytest.raises(InvalidKeyError):
        keystore.import_master_key("m", secret)
    assert keystore.labels() == []


@dataclass(frozen=True)
class _Leaky:
    label: str
    nested: tuple[bytes, ...]


def test_the_leak_walker_finds_a_planted_secret() -> None:
    leaky = _Leaky("x", (b"prefix" + MASTER + b"suffix",))
    assert leaks([MASTER], exposed_bytes(leaky)) == [MASTER]
    assert leaks([MASTER], exposed_bytes(_Leaky(MASTER.hex(), ()))) == [MASTER]
    assert leaks([MASTER], exposed_bytes(_Leaky("x", ()))) == []
