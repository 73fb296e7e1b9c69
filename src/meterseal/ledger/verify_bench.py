"""``meterseal bench ledger``: ``ledger verify`` time per 10^6 stored batches.

DESIGN.md goal: ``ledger verify`` over 10^6 stored batches in 60 s or less on the 2-core
machine; there is no baseline. Building 10^6 signed batches for every bench run would take
minutes, so the run builds a real SQLite store of ``N`` distinct, validly signed 96-interval
electricity batches (Ed25519 meters, 100 batches each, stored the way ingest stores them),
logs them all in an in-memory ledger, verifies with two worker processes, and reports the
time scaled to 10^6 batches (the work is linear in the batches: every stage is per batch or
per meter), saying so in the name. The CPU time of all processes is in the note: on a
shared machine it is the steadier figure.
"""

from __future__ import annotations

import functools
import os
import resource
import tempfile
import time
from pathlib import Path

from meterseal.bench.report import BenchResult
from meterseal.ledger.verify import verify_ledger
from meterseal.ledger.verify_testing import MemoryLedger, fill_store
from meterseal.store.sqlite import SqliteStore

GOAL_S = 60.0
BATCHES_PER_METER = 100
WORKERS = 2


def _cpu_seconds() -> float:
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def _build(path: Path, batches: int) -> MemoryLedger:
    store = SqliteStore(path, synchronous="NORMAL")
    try:
        store.migrate()
        leaves = fill_store(store, batches // BATCHES_PER_METER, BATCHES_PER_METER)
    finally:
        store.close()
    ledger = MemoryLedger.with_test_key()
    ledger.submit(leaves)
    return ledger


def measure(batches: int, workers: int = WORKERS) -> tuple[float, float, int]:
    """(wall seconds, CPU seconds, findings) of verifying a fresh store of ``batches``."""
    with tempfile.TemporaryDirectory(prefix="meterseal-verify-bench-") as directory:
        path = Path(directory) / "store.db"
        ledger = _build(path, batches)
        cpu, start = _cpu_seconds(), time.perf_counter()
        report = verify_ledger(
            ledger,
            functools.partial(SqliteStore, path),
            ledger.verifiers,
            rng=os.urandom,
            now=int(time.time()),
            workers=workers,
        )
        return time.perf_counter() - start, _cpu_seconds() - cpu, report.tally.total


def run(seconds: float = 1.0) -> list[BenchResult]:
    """One row: verify time scaled to 10^6 batches (20,000 batches per --seconds)."""
    batches = max(2 * BATCHES_PER_METER, int(20_000 * seconds)) // BATCHES_PER_METER
    batches *= BATCHES_PER_METER
    wall, cpu, findings = measure(batches)
    scale = 1e6 / batches
    per_million = wall * scale
    verdict = "met" if per_million <= GOAL_S else "MISSED"
    return [
        BenchResult(
            f"ledger verify s per 10^6 batches (from {batches:,})",
            per_million,
            "s",
            note=(
                f"extrapolated linearly from {batches:,} stored batches of 96 intervals "
                f"(SQLite, {WORKERS} processes); CPU {cpu * scale:.1f} s per 10^6; "
                f"goal <= {GOAL_S:.0f} s {verdict}; findings {findings} (must be 0)"
            ),
        )
    ]
