"""No API of the software keystore exports a private key, master key or wrapping key.

The keystore draws every private key from its ``rng``; the test's rng records each
32-byte draw (the secrets: salts are 16 bytes, nonces 12), so the test knows every
secret and looks for it, raw or in hex, in everything the keystore and its handles show.
"""

from __future__ import annotations

import copy
import hashlib
import os
import pickle
from pathlib import Path

import pytest

from meterseal.crypto.international import ED25519, ES256, P256, X25519
from meterseal.crypto.sm2 import SM2_CURVE, SM2_SIGNATURE
from meterseal.hsm import HsmError, SoftwareKeystore
from meterseal.hsm.kek import KekSource
from meterseal.hsm.testing import exposed_bytes, leaks

pytest_plugins = ["hsm_keystore_fixtures"]

MESSAGE = b"relay disconnect, meter M00000042"


class RecordingRng:
    """Deterministic bytes (SHA-256 in counter mode); remembers each 32-byte draw."""

    def __init__(self) -> None:
        self.counter = 0
        self.secrets: list[bytes] = []

    def __call__(self, size: int) -> bytes:
        out = b""
        while len(out) < size:
            self.counter += 1
            out += hashlib.sha256(self.counter.to_bytes(8, "big")).digest()
        if size == 32:
            self.secrets.append(out[:size])
        return out[:size]


@pytest.fixture
def rng() -> RecordingRng:
    return RecordingRng()


def _populate(store: SoftwareKeystore) -> list[object]:
    """One key of every kind; returns the handles."""
    handles: list[object] = [
        store.generate_dh_key(curve.name, curve) for curve in (P256, X25519, SM2_CURVE)
    ]
    handles += [
        store.generate_signing_key(alg.name, alg) for alg in (ES256, ED25519, SM2_SIGNATURE)
    ]
    store.generate_master_key("master")
    store.generate_wrapping_key("wrap")
    return handles


def _operation_outputs(store: SoftwareKeystore) -> list[bytes]:
    """What the operations that take arguments return, for every key."""
    outputs = [store.derive_meter_key("master", "M00000042", "prepaid", 64)]
    outputs.append(store.wrap_key("wrap", os.urandom(32)))
    outputs += [
        store.dh_key(curve.name).exchange(curve.generate(os.urandom).public_key)
        for curve in (P256, X25519, SM2_CURVE)
    ]
    outputs += [store.signing_key(a.name).sign(MESSAGE) for a in (ES256, ED25519, SM2_SIGNATURE)]
    return outputs


def test_the_rng_saw_every_secret(
    keystore_path: Path, keystore_kek: KekSource, rng: RecordingRng
) -> None:
    with SoftwareKeystore(keystore_path, keystore_kek, create=True, rng=rng) as store:
        _populate(store)
        secret = store.derive_meter_key("master", "M1", "prepaid")
    assert len(rng.secrets) >= 8  # six key pairs, the master and the wrapping key
    assert secret != rng.secrets[-2]


def test_no_public_surface_shows_a_secret(
    keystore_path: Path, keystore_kek: KekSource, rng: RecordingRng
) -> None:
    with SoftwareKeystore(keystore_path, keystore_kek, create=True, rng=rng) as store:
        handles = _populate(store)
        surfaces = exposed_bytes(store) + _operation_outputs(store)
        for handle in handles:
            surfaces += exposed_bytes(handle)
        assert leaks(rng.secrets, surfaces) == []


def test_errors_and_the_file_show_no_secret(
    keystore_path: Path, keystore_kek: KekSource, rng: RecordingRng
) -> None:
    with SoftwareKeystore(keystore_path, keystore_kek, create=True, rng=rng) as store:
        _populate(store)
        messages = []
        for call in (
            lambda: store.dh_key("master"),
            lambda: store.wrap_key("master", bytes(16)),
            lambda: store.unwrap_key("wrap", bytes(24)),
            lambda: store.generate_master_key("master"),
        ):
            with pytest.raises(Exception) as raised:  # noqa: PT011 - any error, checked below
                call()
            messages.append(str(raised.value).encode())
    assert leaks(rng.secrets, [*messages, keystore_path.read_bytes()]) == []


def test_keystore_and_handles_cannot_be_pickled_or_copied(
    keystore_path: Path, keystore_kek: KekSource, rng: RecordingRng
) -> None:
    with SoftwareKeystore(keystore_path, keystore_kek, create=True, rng=rng) as store:
        for target in [store, *_populate(store)]:
            with pytest.raises(TypeError):
                pickle.dumps(target)
            with pytest.raises(TypeError):
                copy.deepcopy(target)
            assert not hasattr(target, "__dict__")


def test_the_master_key_cannot_be_wrapped_out(
    keystore_path: Path, keystore_kek: KekSource, rng: RecordingRng
) -> None:

    with SoftwareKeystore(keystore_path, keystore_kek, create=True, rng=rng) as store:
        _populate(store)
        with pytest.raises(HsmError):
            store.wrap_key("master", bytes(32))
        assert all(info.public_key is None for info in store.labels() if info.label == "master")
