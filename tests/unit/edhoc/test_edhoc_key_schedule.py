"""The key schedule's functions one by one, against RFC 9529 values (RFC 9528 section 4)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from meterseal import cbor
from meterseal.crypto.hashes import SHA_256
from meterseal.crypto.suites import SUITE_0, SUITE_2, CipherSuite
from meterseal.edhoc import key_schedule as ks

VECTORS = Path(__file__).parents[2] / "vectors" / "edhoc" / "rfc9529.json"


@pytest.fixture(scope="module")
def t1() -> dict[str, bytes]:
    raw = json.loads(VECTORS.read_text())["trace1"]
    return {key: bytes.fromhex(value) for key, value in raw.items() if isinstance(value, str)}


@pytest.fixture(scope="module")
def t2() -> dict[str, bytes]:
    raw = json.loads(VECTORS.read_text())["trace2"]
    return {key: bytes.fromhex(value) for key, value in raw.items() if isinstance(value, str)}


def test_kdf_info_is_the_cbor_sequence_label_context_length(t1: dict[str, bytes]) -> None:
    info = cbor.encode_sequence(ks.KdfLabel.K_3, t1["TH_3"], 16)
    assert info == t1["info_for_K_3"]
    assert ks.edhoc_kdf(SHA_256, t1["PRK_3e2m"], 3, t1["TH_3"], 16) == t1["K_3"]


def test_th_2_hashes_g_y_and_h_message_1(t2: dict[str, bytes]) -> None:
    h_message_1 = SHA_256.digest(t2["message_1"])
    assert h_message_1 == t2["H_message_1"]
    assert ks.th_2(SHA_256, t2["G_Y"], h_message_1) == t2["TH_2"]


def test_transcript_hash_gives_th_3_and_th_4(t2: dict[str, bytes]) -> None:
    th_3 = ks.transcript_hash(SHA_256, t2["TH_2"], t2["PLAINTEXT_2"], t2["CRED_R"])
    assert th_3 == t2["TH_3"]
    th_4 = ks.transcript_hash(SHA_256, t2["TH_3"], t2["PLAINTEXT_3"], t2["CRED_I"])
    assert th_4 == t2["TH_4"]


def test_prks_of_the_static_dh_method(t2: dict[str, bytes]) -> None:
    assert ks.prk_2e(SHA_256, t2["TH_2"], t2["G_XY"]) == t2["PRK_2e"]
    assert ks.salt(SHA_256, t2["PRK_2e"], ks.KdfLabel.SALT_3E2M, t2["TH_2"]) == t2["SALT_3e2m"]
    assert ks.extract(SHA_256, t2["SALT_3e2m"], t2["G_RX"]) == t2["PRK_3e2m"]
    assert ks.salt(SHA_256, t2["PRK_3e2m"], ks.KdfLabel.SALT_4E3M, t2["TH_3"]) == t2["SALT_4e3m"]
    assert ks.extract(SHA_256, t2["SALT_4e3m"], t2["G_IY"]) == t2["PRK_4e3m"]


def test_keystream_2_encrypts_plaintext_2(t1: dict[str, bytes]) -> None:
    keystream = ks.keystream_2(SHA_256, t1["PRK_2e"], t1["TH_2"], len(t1["PLAINTEXT_2"]))
    assert keystream == t1["KEYSTREAM_2"]
    assert ks.xor(t1["PLAINTEXT_2"], keystream) == t1["CIPHERTEXT_2"]


@pytest.mark.parametrize(("suite", "signs", "length"), [(SUITE_0, True, 32), (SUITE_2, False, 8)])
def test_mac_length_is_hash_length_for_signatures(
    suite: CipherSuite, signs: bool, length: int
) -> None:
    assert ks.mac_length(suite, signs) == length


def test_mac_2_and_mac_3(t2: dict[str, bytes]) -> None:
    assert ks.mac(SHA_256, t2["PRK_3e2m"], 2, t2["context_2"], 8) == t2["MAC_2"]
    assert ks.mac(SHA_256, t2["PRK_4e3m"], 6, t2["context_3"], 8) == t2["MAC_3"]


def test_aead_keys_and_encrypt0_aad(t1: dict[str, bytes]) -> None:
    labels = (ks.KdfLabel.K_4, ks.KdfLabel.IV_4)
    assert ks.aead_key_iv(SUITE_0, t1["PRK_4e3m"], t1["TH_4"], labels) == (t1["K_4"], t1["IV_4"])
    assert ks.encrypt0_aad(t1["TH_4"]) == t1["A_4"]


def test_prk_out_exporter_and_key_update(t1: dict[str, bytes]) -> None:
    assert ks.prk_out(SHA_256, t1["PRK_4e3m"], t1["TH_4"]) == t1["PRK_out"]
    assert ks.prk_exporter(SHA_256, t1["PRK_out"]) == t1["PRK_exporter"]
    assert ks.exporter(SHA_256, t1["PRK_exporter"], 0, b"", 16) == t1["OSCORE_Master_Secret"]
    updated = ks.key_update(SHA_256, t1["PRK_out"], t1["context_for_KeyUpdate"])
    assert updated == t1["PRK_out_after_KeyUpdate"]


def test_exporter_refuses_negative_labels() -> None:
    with pytest.raises(ValueError, match="unsigned"):
        ks.exporter(SHA_256, b"k" * 32, -1, b"", 16)
