"""The parent restarts dead workers (real processes, real TCP, SQLite): a SIGKILLed worker
comes back and rejoins the port, a worker that cannot start is given up while the other
serves on, and a graceful stop restarts nothing."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
from pathlib import Path

import pytest
from headend_supervisor_support import (
    FAST,
    connect_all,
    count_batches,
    extra_meters,
    fleet_config,
    key_source,
    provision,
    stored_seqs,
    supervised,
    wait_for_stored,
)
from headend_support import Backend, wait_until

from meterseal.headend.testing import async_test
from meterseal.headend.workers import RestartPolicy
from meterseal.messages import AckStatus
from meterseal.meter.fleet import run_fleet

pytest_plugins = ["headend_fixtures"]  # the sqlite fixture
pytestmark = pytest.mark.timeout(120)

METERS, DAYS = 24, 2
SETTINGS = {"intervals_per_batch": 24, "window": 1}
"""Six-hourly batches (8 per meter), one in flight at a time, every meter connected at
once: when a worker dies, the meters it serves are in mid-session."""


@async_test
async def test_headend_supervisor_restarts_a_sigkilled_worker_and_stores_every_batch_once(
    sqlite: Backend,
) -> None:
    config = fleet_config(METERS, DAYS, **SETTINGS)
    total = METERS * config.batches_per_meter
    meters = provision(sqlite, config)
    newcomers = extra_meters(sqlite, 20, "LATE")
    async with supervised(sqlite, key_source(), FAST) as pool:
        fleet = asyncio.ensure_future(run_fleet(meters, "127.0.0.1", pool.port, config))
        stored_at_kill = await wait_for_stored(sqlite, total // 4, timeout=60)
        victim = pool.pids()[1]
        assert victim is not None
        os.kill(victim, signal.SIGKILL)
        await wait_until(lambda: pool.stats().worker_restarts == 1, timeout=30)
        await wait_until(lambda: pool.stats().workers_alive == 2, timeout=30)
        result = await asyncio.wait_for(fleet, 60)
        before = pool.worker_stats()
        links = await connect_all(pool.port, newcomers)
        after = pool.worker_stats()
        pids = pool.pids()
        for link in links:
            await link.close()
        final = await pool.close()
    assert stored_at_kill < total, "the kill came after the uploads: nothing was tested"
    assert pids[1] != victim
    assert result.complete
    expected = {m.meter_id: list(range(1, m.produced + 1)) for m in result.meters}
    assert stored_seqs(sqlite) == expected  # every batch once, no gaps
    assert count_batches(sqlite) == total
    assert result.handshakes_ok > METERS  # meters cut off by the kill came back
    grew = [a.connections_total > b.connections_total for b, a in zip(before, after, strict=True)]
    assert grew == [True, True]  # the restarted worker takes its share of connections
    assert (final.worker_restarts, final.workers_alive, final.workers_abandoned) == (1, 2, 0)


@async_test
async def test_headend_supervisor_gives_up_a_crash_looping_worker_and_serves_on(
    sqlite: Backend, tmp_path: Path
) -> None:
    refuse = tmp_path / "refuse-to-start"
    policy = RestartPolicy(base=0.05, cap=0.1, max_restarts=2, window=60.0)
    meters = extra_meters(sqlite, 12, "SOLO")
    async with supervised(sqlite, key_source(refuse), policy) as pool:
        refuse.touch()  # from now on a worker dies as it starts
        victim = pool.pids()[1]
        assert victim is not None
        os.kill(victim, signal.SIGKILL)
        await wait_until(lambda: pool.stats().workers_abandoned == 1, timeout=60)
        given_up = pool.stats()
        links = await connect_all(pool.port, meters)
        acks = [await link.upload(link.meter.signed_batch(1, count=4)) for link in links]
        per_worker = pool.worker_stats()
        for link in links:
            await link.close()
        final = await pool.close()
    assert (given_up.worker_restarts, given_up.workers_alive) == (2, 1)
    assert {ack.status for ack in acks} == {AckStatus.ACCEPTED}  # every connection served
    assert len(per_worker) == 1
    assert per_worker[0].connections_total >= len(meters)
    assert count_batches(sqlite) == len(meters)
    assert (final.worker_restarts, final.workers_abandoned, final.workers_alive) == (2, 1, 1)


@async_test
async def test_headend_supervisor_graceful_close_restarts_nothing(sqlite: Backend) -> None:
    async with supervised(sqlite, key_source(), FAST) as pool:
        pids = pool.pids()
        final = await pool.close()
        pids_after = pool.pids()
    assert pids_after == pids
    assert (final.worker_restarts, final.workers_alive, final.workers_abandoned) == (0, 2, 0)


@async_test
async def test_headend_supervisor_leaves_a_worker_stopped_by_sigterm_stopped(
    sqlite: Backend, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="meterseal.headend.supervisor")
    async with supervised(sqlite, key_source(), FAST) as pool:
        stopped = pool.pids()[1]
        assert stopped is not None
        os.kill(stopped, signal.SIGTERM)  # the worker's own graceful stop: exit code 0
        await wait_until(lambda: "stopped by itself" in caplog.text, timeout=30)
        live = pool.stats()
        final = await pool.close()
        per_worker = pool.worker_stats()
    assert (live.worker_restarts, live.workers_alive) == (0, 1)
    assert pool.pids()[1] == stopped
    assert final.worker_restarts == 0
    assert len(per_worker) == 2  # its final counters, left in the pipe, are kept
