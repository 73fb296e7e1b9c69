"""The multi-process head-end: two workers on one port (SO_REUSEPORT), one store."""

from __future__ import annotations

import asyncio
import time

import pytest
from headend_support import Backend, running

from meterseal.headend.testing import async_test, make_meter
from meterseal.headend.workers import WorkerPool
from meterseal.messages import AckStatus, SignedCommand, TimeSync

pytest_plugins = ["headend_fixtures"]  # the backend and sqlite fixtures
pytestmark = pytest.mark.timeout(60)


@async_test
async def test_both_workers_serve_and_every_batch_is_stored_once(sqlite: Backend) -> None:
    meters = [make_meter(f"M-{i:02d}") for i in range(40)]
    async with running(sqlite, workers=2) as harness:
        pool = harness.handle
        assert isinstance(pool, WorkerPool)
        harness.register(*meters)
        links = await asyncio.gather(*(harness.connect(meter) for meter in meters))
        signed = [link.meter.signed_batch(1, count=24) for link in links]
        acks = await asyncio.gather(
            *(link.upload(s) for link, s in zip(links, signed, strict=True))
        )
        resent = await asyncio.gather(
            *(link.upload(s) for link, s in zip(links, signed, strict=True))
        )
        per_worker = pool.worker_stats()
        total = pool.stats()
        stored = harness.store.count_batches()
    assert {a.status for a in acks} == {AckStatus.ACCEPTED}
    assert {a.status for a in resent} == {AckStatus.DUPLICATE}
    assert stored == 40
    assert [w.connections_total > 0 for w in per_worker] == [True, True]
    assert (total.handshakes_ok, total.batches_accepted, total.batches_duplicate) == (40, 40, 40)


@async_test
async def test_a_command_reaches_a_meter_connected_to_any_worker(sqlite: Backend) -> None:
    meter = make_meter("ELEC-1")
    async with running(sqlite, workers=2) as harness:
        harness.register(meter)
        link = await harness.connect(meter)
        row = await harness.handle.queue_command("ELEC-1", TimeSync(int(time.time())))
        assert await link.receive() == SignedCommand(row.signed_command)
        final = await harness.handle.close()
    assert final.commands_sent == 1
