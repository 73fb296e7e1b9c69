"""``meterseal bench hsm`` measures every backend's operations beside their baselines."""

from __future__ import annotations

import os

import pytest

from meterseal.bench.report import BenchResult
from meterseal.hsm import HsmError, bench

pytest_plugins = ["softhsm_support"]


BASELINES = {"ES256": 1000.0, "SM2-SM3": 500.0, "P-256": 800.0, "SM2": 400.0}


@pytest.mark.usefixtures("softhsm_data_dir")
def test_bench_reports_both_backends_beside_their_baselines() -> None:
    before = os.environ.get("SOFTHSM2_CONF")
    results = bench.run(0.05, baselines=lambda _: BASELINES)
    assert [(r.name, r.baseline) for r in results] == [
        ("HSM software ES256 sign", 1000.0),
        ("HSM software ECDH P-256", 800.0),
        ("HSM software SM2-SM3 sign", 500.0),
        ("HSM software ECDH SM2", 400.0),
        ("HSM PKCS#11 (SoftHSM2) ES256 sign", 1000.0),
        ("HSM PKCS#11 (SoftHSM2) ECDH P-256", 800.0),
    ]
    assert all(r.value > 0 and r.unit == "ops/s" for r in results)
    assert os.environ.get("SOFTHSM2_CONF") == before


def test_bench_without_softhsm_notes_why(monkeypatch: pytest.MonkeyPatch) -> None:
    def unavailable(*_: object) -> list[BenchResult]:
        raise HsmError("no SoftHSM2 here")

    monkeypatch.setattr(bench, "pkcs11_results", unavailable)
    results = bench.run(0.02, baselines=lambda _: BASELINES)
    assert len(results) == 4
    assert results[-1].note == "PKCS#11 rows left out: no SoftHSM2 here"
