"""`meterseal bench ledger` produces its figures (speed itself is never asserted)."""

from __future__ import annotations

from meterseal.ledger.bench import run


def test_ledger_bench_reports_appends_beside_hashlib_and_a_proof_time() -> None:
    appended, proof = run(0.01)
    assert appended.unit == "leaves/s"
    assert appended.value > 0
    assert appended.baseline is not None
    assert appended.goal == 0.1
    assert proof.unit == "ms"
    assert proof.value > 0
    assert "1,000,000" in proof.name
