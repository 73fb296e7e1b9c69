"""The keystore file: KEK sources, wrong passphrase, tampering, locking, atomic writes."""

from __future__ import annotations

import base64
import os
import pickle
import stat
from pathlib import Path

import pytest

from meterseal.crypto.international import ES256, P256
from meterseal.hsm import (
    HsmError,
    HsmUnavailableError,
    KeystoreTamperedError,
    SoftwareKeystore,
    WrongPassphraseError,
    kek_from_env,
    kek_from_file,
    kek_from_passphrase,
)
from meterseal.hsm.kek import TEST_SCRYPT, KekSource, ScryptParams
from meterseal.hsm.keystore_file import HEADER_LENGTH, MAGIC, open_keys, seal_keys

pytest_plugins = ["hsm_keystore_fixtures"]

RAW_KEK = bytes(range(32))


def _filled(path: Path, kek: KekSource) -> bytes:
    """A keystore with a DH key, a signing key and a master key; its file's bytes."""
    with SoftwareKeystore(path, kek, create=True) as store:
        store.generate_dh_key("dh", P256)
        store.generate_signing_key("sig", ES256)
        store.generate_master_key("master")
    return path.read_bytes()


def _key_file(tmp_path: Path, content: bytes, mode: int = 0o600) -> Path:
    path = tmp_path / "kek"
    path.write_bytes(content)
    path.chmod(mode)
    return path


def test_wrong_passphrase_is_a_typed_error(keystore_path: Path, keystore_kek: KekSource) -> None:
    _filled(keystore_path, keystore_kek)
    with pytest.raises(WrongPassphraseError):
        SoftwareKeystore(keystore_path, kek_from_passphrase("not the passphrase", TEST_SCRYPT))


def test_every_flipped_byte_is_refused_and_loads_nothing(
    keystore_path: Path, keystore_kek: KekSource
) -> None:
    original = _filled(keystore_path, keystore_kek)
    for offset in range(len(original)):
        forged = bytearray(original)
        forged[offset] ^= 0x01
        keystore_path.write_bytes(bytes(forged))
        expected = KeystoreTamperedError if offset >= HEADER_LENGTH else HsmError
        with pytest.raises(expected):
            SoftwareKeystore(keystore_path, keystore_kek).close()
    keystore_path.write_bytes(original)
    with SoftwareKeystore(keystore_path, keystore_kek) as store:
        assert len(store.labels()) == 3


def test_header_flips_are_tampering_or_a_kek_mismatch(
    keystore_path: Path, keystore_kek: KekSource
) -> None:
    original = _filled(keystore_path, keystore_kek)
    outcomes = set()
    for offset in range(HEADER_LENGTH):
        forged = bytearray(original)
        forged[offset] ^= 0x80
        keystore_path.write_bytes(bytes(forged))
        with pytest.raises((KeystoreTamperedError, WrongPassphraseError)) as refused:
            SoftwareKeystore(keystore_path, keystore_kek)
        outcomes.add(type(refused.value))
    assert outcomes == {KeystoreTamperedError, WrongPassphraseError}


@pytest.mark.parametrize(
    "mangle",
    [lambda b: b[:-1], lambda b: b + b"\x00", lambda b: b[:HEADER_LENGTH], lambda _: b""],
    ids=["truncated", "extended", "header-only", "empty"],
)
def test_malformed_files_are_tampered(
    keystore_path: Path, keystore_kek: KekSource, mangle: object
) -> None:
    original = _filled(keystore_path, keystore_kek)
    keystore_path.write_bytes(mangle(original))  # type: ignore[operator]
    with pytest.raises(KeystoreTamperedError):
        SoftwareKeystore(keystore_path, keystore_kek)


def test_forged_scrypt_costs_are_refused_before_deriving(
    keystore_path: Path, keystore_kek: KekSource
) -> None:
    forged = bytearray(_filled(keystore_path, keystore_kek))
    forged[len(MAGIC) + 2] = 40  # log2(N) = 40: terabytes, if it were believed
    keystore_path.write_bytes(bytes(forged))
    with pytest.raises(KeystoreTamperedError, match="scrypt"):
        SoftwareKeystore(keystore_path, keystore_kek)


def test_scrypt_costs_come_from_the_header(keystore_path: Path, keystore_kek: KekSource) -> None:
    blob = _filled(keystore_path, keystore_kek)
    assert blob[len(MAGIC) + 2 : len(MAGIC) + 5] == bytes((10, 8, 1))
    other_costs = kek_from_passphrase("correct horse battery staple", ScryptParams(12, 8, 1))
    with SoftwareKeystore(keystore_path, other_costs) as store:
        assert len(store.labels()) == 3


def test_raw_kek_from_a_file(keystore_path: Path, tmp_path: Path) -> None:
    for content in (RAW_KEK, RAW_KEK.hex().encode() + b"\n", base64.b64encode(RAW_KEK)):
        path = _key_file(tmp_path, content)
        assert kek_from_file(path).derive(b"", TEST_SCRYPT) == RAW_KEK
    _filled(keystore_path, kek_from_file(path))
    with SoftwareKeystore(keystore_path, kek_from_file(path)) as store:
        assert len(store.labels()) == 3


def test_kek_file_open_to_others_is_refused(tmp_path: Path) -> None:
    path = _key_file(tmp_path, RAW_KEK.hex().encode(), mode=0o644)
    assert path.stat().st_mode & stat.S_IROTH
    with pytest.raises(HsmError, match="chmod 600"):
        kek_from_file(path)


@pytest.mark.parametrize("content", [b"short", b"ab" * 40, b"z" * 64])
def test_kek_file_without_a_32_byte_key_is_refused(tmp_path: Path, content: bytes) -> None:
    with pytest.raises(HsmError, match="32-byte key"):
        kek_from_file(_key_file(tmp_path, content))


def test_missing_kek_file_is_unavailable(tmp_path: Path) -> None:
    with pytest.raises(HsmUnavailableError):
        kek_from_file(tmp_path / "absent")


def test_raw_kek_from_the_environment(keystore_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("METERSEAL_TEST_KEK", base64.b64encode(RAW_KEK).decode())
    _filled(keystore_path, kek_from_env("METERSEAL_TEST_KEK"))
    monkeypatch.setenv("METERSEAL_TEST_KEK", RAW_KEK.hex())
    with SoftwareKeystore(keystore_path, kek_from_env("METERSEAL_TEST_KEK")) as store:
        assert len(store.labels()) == 3
    monkeypatch.delenv("METERSEAL_TEST_KEK")
    with pytest.raises(HsmUnavailableError, match="METERSEAL_TEST_KEK"):
        kek_from_env("METERSEAL_TEST_KEK")


def test_raw_kek_does_not_open_a_passphrase_keystore(
    keystore_path: Path, keystore_kek: KekSource, tmp_path: Path
) -> None:
    _filled(keystore_path, keystore_kek)
    with pytest.raises(WrongPassphraseError, match="passphrase"):
        SoftwareKeystore(keystore_path, kek_from_file(_key_file(tmp_path, RAW_KEK)))


def test_empty_passphrase_is_refused() -> None:
    with pytest.raises(HsmError, match="empty"):
        kek_from_passphrase("")


def test_second_open_is_refused_while_the_first_holds_the_lock(
    keystore_path: Path, keystore_kek: KekSource
) -> None:
    first = SoftwareKeystore(keystore_path, keystore_kek, create=True)
    with pytest.raises(HsmUnavailableError, match="open elsewhere"):
        SoftwareKeystore(keystore_path, keystore_kek)
    first.close()
    SoftwareKeystore(keystore_path, keystore_kek).close()


def test_create_refuses_to_overwrite_and_open_needs_a_file(
    keystore_path: Path, keystore_kek: KekSource
) -> None:
    with pytest.raises(HsmUnavailableError):
        SoftwareKeystore(keystore_path, keystore_kek)
    assert list(keystore_path.parent.iterdir()) == []
    _filled(keystore_path, keystore_kek)
    with pytest.raises(HsmError, match="already exists"):
        SoftwareKeystore(keystore_path, keystore_kek, create=True)
    with SoftwareKeystore(keystore_path, keystore_kek) as store:
        assert len(store.labels()) == 3


def test_writes_are_atomic_private_and_freshly_nonced(
    keystore_path: Path, keystore_kek: KekSource
) -> None:
    seen = set()
    with SoftwareKeystore(keystore_path, keystore_kek, create=True) as store:
        for index in range(4):
            store.generate_master_key(f"m{index}")
            blob = keystore_path.read_bytes()
            seen.add(blob[HEADER_LENGTH - 12 : HEADER_LENGTH])
    assert len(seen) == 4
    assert stat.S_IMODE(keystore_path.stat().st_mode) == 0o600
    names = sorted(os.listdir(keystore_path.parent))
    assert names == [keystore_path.name, keystore_path.name + ".lock"]


def test_kek_sources_never_print_their_material(tmp_path: Path) -> None:
    path = _key_file(tmp_path, RAW_KEK)
    for source in (kek_from_file(path), kek_from_passphrase("s3cret-phrase", TEST_SCRYPT)):
        assert "s3cret" not in repr(source)
        assert RAW_KEK.hex() not in repr(source)
        with pytest.raises(TypeError):
            pickle.dumps(source)


def test_authenticated_file_with_a_mismatched_public_key_is_refused(
    keystore_path: Path, keystore_kek: KekSource
) -> None:

    keys, file_kek = open_keys(_filled(keystore_path, keystore_kek), keystore_kek)
    other = P256.generate(os.urandom).public_point
    keys["dh"].public_key = other
    keystore_path.write_bytes(seal_keys(keys, file_kek, os.urandom))
    with pytest.raises(KeystoreTamperedError, match="does not match"):
        SoftwareKeystore(keystore_path, keystore_kek)
