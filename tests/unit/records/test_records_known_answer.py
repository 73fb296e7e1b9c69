"""The record layer against an independent implementation of docs/protocol.md.

The expected records are built here from the spec text with ``cryptography``'s HKDF,
HMAC and AES-GCM and ``cbor2`` directly, not with MeterSeal's key schedule, so a
disagreement between the code and the document fails this test.
"""

from __future__ import annotations

import cbor2
import pytest
from cryptography.hazmat.primitives import hashes, hmac
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDFExpand
from records_support import C_I, C_R, fake_exporter

from meterseal.crypto.suites import SUITE_0, SUITE_2, CipherSuite
from meterseal.records import RecordConfig, RecordLayer, RecordType

PAYLOAD = b"meter 42: 1234.5 kWh"


def _expand(prk: bytes, info: list[object], length: int) -> bytes:
    return HKDFExpand(hashes.SHA256(), length, cbor2.dumps(info)).derive(prk)


def _epoch_secret(suite: CipherSuite, sid: bytes, epoch: int) -> bytes:
    exporter = fake_exporter()
    mac = hmac.HMAC(exporter(32769, b"", 8), hashes.SHA256())
    mac.update(exporter(32768, b"", 32))
    secret = _expand(mac.finalize(), [sid, suite.value, 1, "secret", 32, 0], 32)
    for e in range(1, epoch + 1):
        secret = _expand(secret, [sid, suite.value, 1, "secret", 32, e], 32)
    return secret


def _expected_record(suite: CipherSuite, sid: bytes, epoch: int, seq: int, rtype: int) -> bytes:
    secret = _epoch_secret(suite, sid, epoch)
    key = _expand(secret, [sid, suite.value, 1, "key", 16, epoch], 16)
    iv = _expand(secret, [sid, suite.value, 1, "iv", 12, epoch], 12)
    plain_nonce = bytes([len(sid)]) + sid.rjust(6, b"\0") + seq.to_bytes(5, "big")
    nonce = bytes(a ^ b for a, b in zip(plain_nonce, iv, strict=True))
    header = bytes([0x40 | rtype << 4 | (epoch & 1) << 3, seq])
    aad = header + epoch.to_bytes(4, "big") + suite.value.to_bytes(4, "big", signed=True)
    aad += (1).to_bytes(4, "big", signed=True) + bytes([len(sid)]) + sid
    return header + AESGCM(key).encrypt(nonce, PAYLOAD, aad)


@pytest.mark.parametrize("suite", [SUITE_0, SUITE_2], ids=["suite0", "suite2"])
def test_initiator_first_record_matches_the_spec(suite: CipherSuite) -> None:
    layer = RecordLayer.for_initiator(suite, fake_exporter(), C_I, C_R)
    assert layer.seal(PAYLOAD) == _expected_record(suite, C_R, 0, 0, 0)


@pytest.mark.parametrize("suite", [SUITE_0, SUITE_2], ids=["suite0", "suite2"])
def test_responder_record_uses_sender_id_c_i(suite: CipherSuite) -> None:
    layer = RecordLayer.for_responder(suite, fake_exporter(), C_I, C_R)
    layer.seal(b"")
    assert layer.seal(PAYLOAD, RecordType.CLOSE) == _expected_record(suite, C_I, 0, 1, 2)


def test_ratcheted_epoch_matches_the_spec() -> None:
    config = RecordConfig(update_after=2)
    layer = RecordLayer.for_initiator(SUITE_2, fake_exporter(), C_I, C_R, config)
    for _ in range(4):
        layer.seal(b"")
    assert layer.seal(PAYLOAD) == _expected_record(SUITE_2, C_R, 2, 0, 0)
