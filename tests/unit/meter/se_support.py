"""Shared helpers for the secure element tests: a logging rng and a cheap scrypt cost."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Any

import pytest

from meterseal.crypto.suites import SUITE_0, SUITE_2, CipherSuite, get_suite
from meterseal.errors import UnsupportedAlgorithmError
from meterseal.meter import ScryptParams, SecureElement

DEVICE_SECRET = b"hardware unique key of meter 0001"
FAST_SCRYPT = ScryptParams(log2_n=4, r=8, p=1)
"""N = 16: the format and checks of the default cost, without its 32 MiB and 80 ms."""


class LoggingRng:
    """A deterministic rng (SHAKE-256 of a seed and a counter) that keeps every output."""

    def __init__(self, seed: bytes = b"secure element test") -> None:
        self._seed = seed
        self.chunks: list[bytes] = []

    def __call__(self, n: int) -> bytes:
        counter = len(self.chunks).to_bytes(8, "big")
        out = hashlib.shake_256(self._seed + counter).digest(n)
        self.chunks.append(out)
        return out


def session_exporter(label: int, context: bytes, length: int) -> bytes:
    """A stand-in EDHOC exporter (RFC 9528 section 4.2.1 shape) for session tests."""
    return hashlib.sha256(label.to_bytes(4, "big") + context).digest()[:length]


def make_element(
    suites: Sequence[CipherSuite] = (SUITE_2,), rng: LoggingRng | None = None, **kwargs: Any
) -> SecureElement:
    """A fresh element (with the cheap scrypt cost unless ``scrypt`` is given)."""
    kwargs.setdefault("scrypt", FAST_SCRYPT)
    return SecureElement.create(
        suites=suites,
        device_secret=DEVICE_SECRET,
        rng=rng or LoggingRng(),
        device_id=b"meter-0001",
        **kwargs,
    )


def available_suites() -> tuple[CipherSuite, ...]:
    """SUITE_0, SUITE_2 and, where this build offers it, suite -24."""
    try:
        return (SUITE_0, SUITE_2, get_suite(-24))
    except UnsupportedAlgorithmError:
        return (SUITE_0, SUITE_2)


def suite_params() -> list[Any]:
    """SUITE_0, SUITE_2 and, where available, suite -24, as pytest parameters."""
    try:
        gm = pytest.param(get_suite(-24), id="suite-24")
    except UnsupportedAlgorithmError:
        gm = pytest.param(SUITE_2, id="suite-24", marks=pytest.mark.skip(reason="no suite -24"))
    return [pytest.param(SUITE_0, id="suite0"), pytest.param(SUITE_2, id="suite2"), gm]
