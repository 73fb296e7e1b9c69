"""`meterseal bench ledger` produces its figures (speed itself is never asserted)."""

from __future__ import annotations

from meterseal.ledger.bench import run


def test_ledger_bench_reports_appends_beside_hashlib_and_a_proof_time() -> None:
    rows = run(0.01)
    appended, stored, proof = rows[:3]
    verify = [row for row in rows if row.name.startswith("ledger verify")]
    for row in (appended, stored):
        assert row.unit == "leaves/s"
        assert row.value > 0
        assert row.baseline is not None
        assert row.goal == 0.1
    assert "SQLite store" in stored.name
    assert stored.baseline == appended.baseline  # the same-run hashlib figure
    assert proof.unit == "ms"
    assert proof.value > 0
    assert "1,000,000" in proof.name
    assert len(verify) == 1
    assert verify[0].value > 0
