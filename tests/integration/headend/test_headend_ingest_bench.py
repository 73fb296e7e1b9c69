"""``meterseal bench ingest``: its pieces measure what they say, on small loads."""

from __future__ import annotations

import pytest

from meterseal.bench import ingest
from meterseal.cli.bench_command import AREAS
from meterseal.headend.testing import async_test
from meterseal.store import open_store

pytestmark = pytest.mark.slow


def test_the_ingest_area_is_registered() -> None:
    assert AREAS["ingest"] is ingest.run


@async_test
async def test_every_reading_acked_is_counted_and_stored() -> None:
    plan = ingest.LoadPlan("T", 2, meters=3, batches_per_meter=40, intervals=96, window=4)
    async with ingest.sqlite_backend() as backend:
        measured = await ingest.measure_ingest(backend, plan, 0.2)
        store = open_store(backend.url)
        try:
            stored = store.count_intervals()
        finally:
            store.close()
    assert measured.refused == 0
    assert measured.readings_per_s > 0
    assert 0 < stored == measured.acked <= 3 * 40 * 96


@async_test
async def test_a_plan_that_runs_out_says_so() -> None:
    plan = ingest.LoadPlan("T", 2, meters=2, batches_per_meter=3, intervals=1, window=2)
    async with ingest.sqlite_backend() as backend:
        measured = await ingest.measure_ingest(backend, plan, 5.0)
    assert measured.exhausted
    assert measured.window_s < 5.0
    assert "ran out" in ingest.ingest_result(backend, plan, measured, 1.0).note


def test_the_baseline_inserts_the_rows_of_the_planned_batches() -> None:
    plan = ingest.LoadPlan("T", 2, meters=2, batches_per_meter=3, intervals=96)
    assert ingest.same_rows_baseline(plan) > 0


def test_results_judge_the_ratio_and_the_absolute_goal() -> None:
    plan = ingest.LoadPlan("T", -24, meters=1, batches_per_meter=1, intervals=96)
    measured = ingest.Measured(160_000.0, 1.0, 0, False, 100.0, 160_000)
    backend = ingest.Backend("SQLite", "sqlite:///x", lambda: open_store("sqlite:///x"))
    result = ingest.ingest_result(backend, plan, measured, 400_000.0)
    assert (result.ratio, result.goal, result.meets_goal) == (0.4, 0.5, False)
    assert "absolute goal >= 150,000 readings/s met" in result.note


@async_test
async def test_idle_sessions_are_held_and_their_memory_measured() -> None:
    measured = await ingest.measure_idle(20, warmup=2)
    [held, memory] = ingest.idle_results(measured)
    assert measured.held == held.value == 20
    assert memory.unit == "KiB/session"
    assert memory.value == measured.growth_kib / 20
    assert "goal <= 20 KiB" in memory.note
