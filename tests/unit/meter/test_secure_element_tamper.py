"""Tamper response: sign the event with the data key, then zeroize every key."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from se_support import DEVICE_SECRET, LoggingRng, make_element, session_exporter

from meterseal.crypto.suites import SUITE_0, SUITE_2
from meterseal.errors import SignatureError, TamperedError
from meterseal.meter import SecureElement, TamperEvent

NOW = 1_767_225_600  # 2026-01-01T00:00:00Z


def test_tamper_event_is_signed_by_the_data_key() -> None:
    element = make_element([SUITE_2])
    data_public = element.data_key.public_key
    event = element.record_tamper("cover-open", NOW)
    assert (event.device_id, event.seq, event.kind, event.time) == (
        b"meter-0001",
        1,
        "cover-open",
        NOW,
    )
    event.verify(SUITE_2.signature, data_public)
    assert element.tamper_log == (event,)


def test_tamper_event_signature_covers_every_field() -> None:
    element = make_element([SUITE_0], data_suite=SUITE_0)
    data_public = element.data_key.public_key
    event = element.record_tamper("magnet", NOW)
    forged = TamperEvent(event.device_id, event.seq, event.kind, NOW + 1, event.signature)
    with pytest.raises(SignatureError):
        forged.verify(SUITE_0.signature, data_public)


def test_every_key_operation_raises_after_zeroization() -> None:
    element = make_element([SUITE_2])
    dh = element.identity_dh_key(SUITE_2)
    signer = element.identity_signing_key(SUITE_2)
    data = element.data_key
    args = (SUITE_2, session_exporter, b"\x37", b"\x27")
    session = element.install_session(*args, initiator=True)
    peer = SUITE_2.dh.generate(LoggingRng(b"peer")).public_key
    element.record_tamper("cover-open", NOW)
    operations: list[Callable[[], object]] = [
        lambda: dh.public_key,
        lambda: dh.exchange(peer),
        lambda: signer.public_key,
        lambda: signer.sign(b"m"),
        lambda: data.sign(b"m"),
        lambda: element.sign_data(b"m"),
        lambda: element.data_key.public_key,
        lambda: element.identity_dh_key(SUITE_2).exchange(peer),
        lambda: session.seal(b"m"),
        lambda: session.open(b"\x40\x00" + bytes(16)),
        lambda: session.status,
        session.release,
        lambda: element.install_session(
            SUITE_2, session_exporter, b"\x37", b"\x27", initiator=True
        ),
    ]
    for operation in operations:
        with pytest.raises(TamperedError):
            operation()
    assert element.zeroized


def test_zeroized_state_persists_without_keys() -> None:
    element = make_element([SUITE_2])
    element.next_counter("frame")
    event = element.record_tamper("cover-open", NOW)
    loaded = SecureElement.load(element.save(), DEVICE_SECRET, rng=LoggingRng())
    assert loaded.zeroized
    assert loaded.tamper_log == (event,)
    assert loaded.counters["frame"] == 1
    with pytest.raises(TamperedError):
        loaded.sign_data(b"m")


def test_event_after_zeroization_is_logged_unsigned() -> None:
    element = make_element([SUITE_2])
    data_public = element.data_key.public_key
    element.record_tamper("cover-open", NOW)
    second = element.record_tamper("cover-open", NOW + 60)
    assert (second.seq, second.signature) == (2, b"")
    with pytest.raises(SignatureError, match="unsigned"):
        second.verify(SUITE_2.signature, data_public)
    assert len(element.tamper_log) == 2


def test_tamper_is_persisted_through_write_through() -> None:
    blobs: list[bytes] = []
    element = make_element([SUITE_2], on_change=blobs.append)
    element.record_tamper("cover-open", NOW)
    assert SecureElement.load(blobs[-1], DEVICE_SECRET, rng=LoggingRng()).zeroized
