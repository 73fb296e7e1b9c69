"""The ``ledger verify`` benchmark row: a real store, verified clean, scaled to 10^6."""

from __future__ import annotations

from meterseal.ledger.verify_bench import measure, run


def test_the_bench_row_names_its_scale_and_finds_nothing() -> None:
    [row] = run(0.01)  # the smallest run: 200 batches
    assert row.name == "ledger verify s per 10^6 batches (from 200)"
    assert row.unit == "s"
    assert row.value > 0
    assert row.baseline is None
    assert "extrapolated linearly from 200 stored batches" in row.note
    assert "findings 0 (must be 0)" in row.note


def test_measure_verifies_with_one_process_too() -> None:
    wall, cpu, findings = measure(200, workers=1)
    assert findings == 0
    assert wall > 0
    assert cpu > 0
