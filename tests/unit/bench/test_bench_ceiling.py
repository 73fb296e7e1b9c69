"""The handshake C ceiling: operation counts per method, and the arithmetic over them."""

from __future__ import annotations

import dataclasses
from collections import Counter

import pytest

from meterseal.bench.handshake import HandshakeBench, ceiling_rate, handshake_ops
from meterseal.crypto.interfaces import DhCurve, DhKey, Rng, SignatureAlg, SigningKey
from meterseal.crypto.suites import SUITE_0, SUITE_2, SUITE_GMT, CipherSuite
from meterseal.edhoc.messages import Method


def test_ceiling_is_the_inverse_of_the_summed_operation_times() -> None:
    counts = {"keygen": 2, "ecdh": 6}
    rates = {"keygen": 100_000.0, "ecdh": 20_000.0}
    # 2 / 100,000 + 6 / 20,000 = 0.00002 + 0.0003 = 0.00032 s per handshake
    assert ceiling_rate(counts, rates) == pytest.approx(3125.0)


def test_operations_counted_zero_times_need_no_rate() -> None:
    counts = {"keygen": 2, "ecdh": 6, "sign": 0, "verify": 0}
    assert ceiling_rate(counts, {"keygen": 1000.0, "ecdh": 1000.0}) == pytest.approx(125.0)


def test_a_ceiling_without_operations_is_refused() -> None:
    with pytest.raises(ValueError, match="at least one operation"):
        ceiling_rate({"keygen": 0}, {})


@pytest.mark.parametrize(
    ("method", "expected"),
    [
        (Method.SIGN_SIGN, {"keygen": 2, "ecdh": 2, "sign": 2, "verify": 2}),
        (Method.SIGN_STATIC, {"keygen": 2, "ecdh": 4, "sign": 1, "verify": 1}),
        (Method.STATIC_SIGN, {"keygen": 2, "ecdh": 4, "sign": 1, "verify": 1}),
        (Method.STATIC_STATIC, {"keygen": 2, "ecdh": 6, "sign": 0, "verify": 0}),
    ],
)
def test_operation_counts_per_method(method: Method, expected: dict[str, int]) -> None:
    assert handshake_ops(method) == expected


# --- the counts are what a real handshake does ------------------------------------------


class _CountingDhKey:
    def __init__(self, inner: DhKey, counts: Counter[str]) -> None:
        self._inner, self._counts = inner, counts

    @property
    def public_key(self) -> bytes:
        return self._inner.public_key

    @property
    def public_point(self) -> bytes:
        return self._inner.public_point

    def exchange(self, peer_public_key: bytes) -> bytes:
        self._counts["ecdh"] += 1
        return self._inner.exchange(peer_public_key)


@dataclasses.dataclass(frozen=True)
class _CountingCurve:
    inner: DhCurve
    counts: Counter[str]

    @property
    def name(self) -> str:
        return self.inner.name

    @property
    def cose_crv(self) -> int:
        return self.inner.cose_crv

    @property
    def public_key_length(self) -> int:
        return self.inner.public_key_length

    def generate(self, rng: Rng) -> DhKey:
        self.counts["keygen"] += 1
        return _CountingDhKey(self.inner.generate(rng), self.counts)

    def from_private_bytes(self, private: bytes) -> DhKey:
        return _CountingDhKey(self.inner.from_private_bytes(private), self.counts)

    def validate_public_key(self, public_key: bytes) -> None:
        self.counts["validate"] += 1
        self.inner.validate_public_key(public_key)


class _CountingSigner:
    def __init__(self, inner: SigningKey, counts: Counter[str]) -> None:
        self._inner, self._counts = inner, counts

    @property
    def public_key(self) -> bytes:
        return self._inner.public_key

    def sign(self, message: bytes) -> bytes:
        self._counts["sign"] += 1
        return self._inner.sign(message)


@dataclasses.dataclass(frozen=True)
class _CountingSignature:
    inner: SignatureAlg
    counts: Counter[str]

    @property
    def name(self) -> str:
        return self.inner.name

    @property
    def cose_alg(self) -> int:
        return self.inner.cose_alg

    @property
    def signature_length(self) -> int:
        return self.inner.signature_length

    def generate(self, rng: Rng) -> SigningKey:
        return _CountingSigner(self.inner.generate(rng), self.counts)

    def from_private_bytes(self, private: bytes) -> SigningKey:
        return _CountingSigner(self.inner.from_private_bytes(private), self.counts)

    def verify(self, public_key: bytes, message: bytes, signature: bytes) -> None:
        self.counts["verify"] += 1
        self.inner.verify(public_key, message, signature)


def _counting(suite: CipherSuite, counts: Counter[str]) -> CipherSuite:
    return dataclasses.replace(
        suite,
        dh=_CountingCurve(suite.dh, counts),
        signature=_CountingSignature(suite.signature, counts),
    )


@pytest.mark.parametrize("suite", [SUITE_2, SUITE_0, SUITE_GMT], ids=lambda s: str(s.value))
@pytest.mark.parametrize("method", list(Method), ids=lambda m: m.name)
def test_a_full_handshake_does_exactly_the_counted_operations(
    suite: CipherSuite, method: Method
) -> None:
    counts: Counter[str] = Counter()
    bench = HandshakeBench(_counting(suite, counts), method)
    counts.clear()  # the long-term identities are made before the handshake
    bench.once()
    validations = counts.pop("validate", 0)
    assert {op: counts[op] for op in handshake_ops(method)} == handshake_ops(method)
    assert validations == 2  # each side checks the peer's ephemeral key: no multiplication
