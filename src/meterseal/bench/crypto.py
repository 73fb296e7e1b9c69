"""``meterseal bench crypto``: public-key operations, handshakes and records.

Every figure is one core unless its name says otherwise, beside ``openssl speed`` for the
same operation measured in the same run (DESIGN.md, performance targets).
"""

from __future__ import annotations

import os
from functools import partial

from meterseal.bench import openssl_speed
from meterseal.bench.report import BenchResult
from meterseal.bench.timing import rate
from meterseal.crypto.international import ES256, P256, X25519

_MSG = b"\x00" * 96


def _ecdh_results(seconds: float) -> list[BenchResult]:
    results = []
    for curve, speed_name in ((P256, "ecdhp256"), (X25519, "ecdhx25519")):
        key = curve.generate(os.urandom)
        peer = curve.generate(os.urandom).public_key
        value = rate(partial(key.exchange, peer), seconds)
        baseline = openssl_speed.ecdh_rate(speed_name, seconds=max(1, round(seconds)))
        results.append(BenchResult(f"ECDH {curve.name}", value, "ops/s", baseline))
    return results


def _es256_results(seconds: float) -> list[BenchResult]:
    key = ES256.generate(os.urandom)
    signature = key.sign(_MSG)
    public = key.public_key
    speed = openssl_speed.sign_rates("ecdsap256", seconds=max(1, round(seconds)))
    return [
        BenchResult("ES256 sign", rate(lambda: key.sign(_MSG), seconds), "ops/s", speed.sign_per_s),
        BenchResult(
            "ES256 verify",
            rate(lambda: ES256.verify(public, _MSG, signature), seconds),
            "ops/s",
            speed.verify_per_s,
        ),
    ]


def run(seconds: float) -> list[BenchResult]:
    """All crypto benchmarks, in the order the README's table lists them."""
    return _ecdh_results(seconds) + _es256_results(seconds)
