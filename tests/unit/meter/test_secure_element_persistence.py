"""The secure element's state at rest: scrypt KEK, AES-GCM blob, monotonic counters."""

from __future__ import annotations

from pathlib import Path

import pytest
from se_support import DEVICE_SECRET, FAST_SCRYPT, LoggingRng, make_element, suite_params

from meterseal.crypto.suites import SUITE_0, SUITE_2, CipherSuite
from meterseal.errors import DecryptionError, SecureElementError
from meterseal.meter import ScryptParams, SecureElement
from meterseal.meter.se_file import BlobFile
from meterseal.meter.se_state import MAGIC, SeState, decode_state, encode_state


def _reload(blob: bytes, min_generation: int = 0) -> SecureElement:
    return SecureElement.load(
        blob, DEVICE_SECRET, rng=LoggingRng(b"reload"), min_generation=min_generation
    )


def test_keys_counters_and_log_survive_a_reload() -> None:
    element = make_element([SUITE_0, SUITE_2])
    element.next_counter("frame")
    element.next_counter("frame")
    loaded = _reload(element.save())
    for suite in (SUITE_0, SUITE_2):
        assert loaded.identity_dh_key(suite).public_key == element.identity_dh_key(suite).public_key
        assert (
            loaded.identity_signing_key(suite).public_key
            == element.identity_signing_key(suite).public_key
        )
    assert loaded.data_key.public_key == element.data_key.public_key
    assert dict(loaded.counters) == {"frame": 2}
    assert (loaded.device_id, loaded.suites, loaded.generation) == (
        b"meter-0001",
        (0, 2),
        element.generation,
    )


@pytest.mark.parametrize("suite", suite_params())
def test_reloaded_keys_still_work(suite: CipherSuite) -> None:
    element = make_element([suite])
    loaded = _reload(element.save())
    peer = suite.dh.generate(LoggingRng(b"peer"))
    shared = loaded.identity_dh_key(suite).exchange(peer.public_key)
    assert shared == peer.exchange(element.identity_dh_key(suite).public_key)
    signer = loaded.identity_signing_key(suite)
    assert signer.public_key == element.identity_signing_key(suite).public_key
    suite.signature.verify(element.data_key.public_key, b"m", loaded.sign_data(b"m"))


def test_blob_starts_with_magic_and_the_scrypt_parameters() -> None:
    blob = make_element().save()
    assert blob[:8] == MAGIC + bytes([1, FAST_SCRYPT.log2_n, FAST_SCRYPT.r, FAST_SCRYPT.p])


def test_wrong_device_secret_loads_nothing() -> None:
    blob = make_element().save()
    with pytest.raises(SecureElementError, match="did not authenticate") as caught:
        SecureElement.load(blob, b"another meter", rng=LoggingRng())
    assert isinstance(caught.value.__cause__, DecryptionError)


def test_every_modified_byte_is_detected() -> None:
    blob = make_element().save()
    for index in range(len(blob)):
        tampered = bytearray(blob)
        tampered[index] ^= 0x01
        with pytest.raises(SecureElementError):
            _reload(bytes(tampered))


def test_truncated_blob_is_refused() -> None:
    blob = make_element().save()
    for end in (0, 10, 36, 52, len(blob) - 1):
        with pytest.raises(SecureElementError):
            _reload(blob[:end])


def test_scrypt_costs_out_of_bounds_are_refused_before_deriving() -> None:
    blob = bytearray(make_element().save())
    blob[5] = 40  # N = 2^40 would need terabytes
    with pytest.raises(SecureElementError, match="out of bounds"):
        _reload(bytes(blob))
    with pytest.raises(SecureElementError, match="out of bounds"):
        make_element(scrypt=ScryptParams(log2_n=20, r=32, p=1))


def test_counters_start_at_one_and_increase() -> None:
    element = make_element()
    assert [element.next_counter("a"), element.next_counter("a"), element.next_counter("b")] == [
        1,
        2,
        1,
    ]


def test_counters_never_go_backwards_across_write_through_reloads() -> None:
    blobs: list[bytes] = []
    element = make_element(on_change=blobs.append)
    values = []
    for _ in range(5):
        values.append(element.next_counter("invocation"))
        element = SecureElement.load(
            blobs[-1], DEVICE_SECRET, rng=LoggingRng(), on_change=blobs.append
        )
    assert values == [1, 2, 3, 4, 5]


def test_write_through_happens_before_the_value_is_returned() -> None:
    seen: list[int] = []

    def sink(blob: bytes) -> None:
        seen.append(_reload(blob).counters.get("c", 0))

    element = make_element(on_change=sink)
    assert element.next_counter("c") == seen[-1] == 1


def test_rolled_back_blob_is_refused() -> None:
    element = make_element()
    old = element.save()
    element.next_counter("credit")
    with pytest.raises(SecureElementError, match="older"):
        _reload(old, min_generation=element.generation)
    assert _reload(element.save(), min_generation=element.generation).counters["credit"] == 1


def test_counter_count_and_name_length_are_bounded() -> None:
    element = make_element()
    for n in range(32):
        element.next_counter(f"c{n}")
    with pytest.raises(SecureElementError, match="at most 32"):
        element.next_counter("one more")
    with pytest.raises(SecureElementError, match="1 to 64"):
        element.next_counter("")


def test_blob_file_round_trip(tmp_path: Path) -> None:
    store = BlobFile(tmp_path / "se.blob")
    element = make_element(on_change=store.write)
    element.next_counter("frame")
    assert _reload(store.read()).counters["frame"] == 1
    assert not (tmp_path / "se.blob.tmp").exists()


def test_missing_blob_file_raises_secure_element_error(tmp_path: Path) -> None:
    with pytest.raises(SecureElementError, match="cannot read"):
        BlobFile(tmp_path / "absent").read()


def test_state_codec_rejects_wrong_types() -> None:
    state = SeState(b"id", 2, (2,))
    assert decode_state(encode_state(state)) == state
    bad = encode_state(state).replace(b"generation\x00", b"generation\xf5")
    with pytest.raises(SecureElementError, match="malformed"):
        decode_state(bad)
