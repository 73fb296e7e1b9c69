"""``meterseal bench crypto``: public-key operations, handshakes and records.

Each figure is beside its C baseline measured in the same run (DESIGN.md, performance
targets), in this order:

1. signatures through MeterSeal's key handles (one core) beside ``openssl speed``:
   SM2 (goal 0.8), ES256 and Ed25519 (informative);
2. ECDH through MeterSeal (peer key x-only, as EDHOC sends it, so each exchange also
   decompresses the point) beside ``openssl speed ecdhp256`` / ``ecdhx25519`` and, for
   the SM2 curve, which ``openssl speed`` lacks, ``ec_ceiling.c``;
3. EDHOC handshakes/s on 2 cores beside the C ceiling (:mod:`meterseal.bench.handshake`);
4. records/s beside ``openssl speed -evp`` (:mod:`meterseal.bench.records`).

Every ``openssl speed`` figure is measured once per run and shared
(:class:`~meterseal.bench.baselines.Baselines`).
"""

from __future__ import annotations

import os

from meterseal.bench import handshake, records
from meterseal.bench.baselines import Baselines
from meterseal.bench.report import BenchResult
from meterseal.bench.timing import rate
from meterseal.crypto.interfaces import DhCurve, SignatureAlg
from meterseal.crypto.international import ED25519, ES256, P256, X25519
from meterseal.crypto.sm2 import SM2_CURVE, SM2_SIGNATURE

SM2_GOAL = 0.8
"""DESIGN.md: SM2 sign and verify through MeterSeal at least 0.8 of ``openssl speed sm2``."""

_MSG = bytes(96)
"""What is signed: about a COSE Sig_structure's size (``openssl speed`` signs 20 bytes)."""

SIGNATURES: tuple[tuple[SignatureAlg, str, float | None], ...] = (
    (SM2_SIGNATURE, "sm2", SM2_GOAL),
    (ES256, "ecdsap256", None),
    (ED25519, "ed25519", None),
)
"""Each signature algorithm, its ``openssl speed`` name and its goal."""

_SM2_ECDH_NOTE = "C ceiling: EC_POINT_mul in ec_ceiling.c; openssl speed has no SM2 ECDH"


def _signature_results(
    algorithm: SignatureAlg, speed_name: str, goal: float | None, b: Baselines, seconds: float
) -> list[BenchResult]:
    key = algorithm.generate(os.urandom)
    signature, public = key.sign(_MSG), key.public_key
    speed = b.sign_rates(speed_name)
    note = f"baseline: openssl speed {speed_name}"
    signs = rate(lambda: key.sign(_MSG), seconds)
    verifies = rate(lambda: algorithm.verify(public, _MSG, signature), seconds)
    return [
        BenchResult(f"{algorithm.name} sign, 1 core", signs, "ops/s", speed.sign_per_s, goal, note),
        BenchResult(
            f"{algorithm.name} verify, 1 core", verifies, "ops/s", speed.verify_per_s, goal, note
        ),
    ]


def _ecdh_rate(curve: DhCurve, seconds: float) -> float:
    key = curve.generate(os.urandom)
    peer = curve.generate(os.urandom).public_key
    return rate(lambda: key.exchange(peer), seconds)


def _ecdh_results(b: Baselines, seconds: float) -> list[BenchResult]:
    results = [
        BenchResult(
            f"ECDH {curve.name}, 1 core",
            _ecdh_rate(curve, seconds),
            "ops/s",
            b.ecdh_rate(speed_name),
            note=f"baseline: openssl speed {speed_name}",
        )
        for curve, speed_name in ((P256, "ecdhp256"), (X25519, "ecdhx25519"))
    ]
    sm2 = _ecdh_rate(SM2_CURVE, seconds)
    ceiling = b.ceiling_rate("sm2_ecdh")
    results.append(
        BenchResult("ECDH SM2 curve, 1 core", sm2, "ops/s", ceiling, note=_SM2_ECDH_NOTE)
    )
    return results


def run(seconds: float) -> list[BenchResult]:
    """All crypto benchmarks, in the order of the module docstring."""
    baselines = Baselines(seconds)
    results = [
        result
        for algorithm, speed_name, goal in SIGNATURES
        for result in _signature_results(algorithm, speed_name, goal, baselines, seconds)
    ]
    results += _ecdh_results(baselines, seconds)
    results += handshake.results(baselines, seconds)
    results += records.results(baselines, seconds)
    return results
