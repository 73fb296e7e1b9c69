"""1,000 concurrent connections: a thousand authenticated sessions and a crowd of idle,
unauthenticated connections held open at once, while a normal meter is served.

Client and head-end share this process and its event loop (the worst case for the
head-end: every handshake's client half competes with it for the same core), so the
process needs two file descriptors per connection; the soft RLIMIT_NOFILE is raised."""

from __future__ import annotations

import asyncio
import time
from typing import Final

import pytest
from reliability_support import raise_open_files, wait_for

from meterseal.headend import HeadendConfig, LocalHeadend, start_headend
from meterseal.headend.testing import MeterLink, SimMeter, async_test, make_meter, sample_keys
from meterseal.messages import AckStatus
from meterseal.store import open_store

pytest_plugins = ["reliability_fixtures"]  # sqlite_store_url
pytestmark = pytest.mark.timeout(60)

SESSIONS: Final = 1000
IDLE: Final = 100
AT_ONCE: Final = 200  # handshakes in progress at a time (the listen backlog is 4096)
SERVED_WITHIN: Final = 10.0


def _register(store_url: str, meters: list[SimMeter]) -> None:
    store = open_store(store_url)
    try:
        for meter in meters:
            store.add_meter(meter.record())
    finally:
        store.close()


async def _connect_all(port: int, meters: list[SimMeter]) -> list[MeterLink]:
    gate = asyncio.Semaphore(AT_ONCE)

    async def connect(meter: SimMeter) -> MeterLink:
        async with gate:
            return await MeterLink.connect(port, meter)

    return list(await asyncio.gather(*(connect(meter) for meter in meters)))


async def _normal_meter(headend: LocalHeadend, meter: SimMeter) -> tuple[AckStatus, float, int]:
    """Connect, authenticate and upload one batch: the ack, the seconds it all took, and
    the connections the head-end held once the ack arrived."""
    began = time.monotonic()
    link = await MeterLink.connect(headend.port, meter)
    try:
        ack = await link.upload(meter.signed_batch(1))
        took, held = time.monotonic() - began, headend.stats().connections
    finally:
        await link.close()
    return ack.status, took, held


@pytest.mark.slow
@async_test
async def test_reliability_thousand_sessions_at_once_while_a_normal_meter_is_served(
    sqlite_store_url: str,
) -> None:
    raise_open_files(2 * (SESSIONS + IDLE) + 256)
    meters = [make_meter(f"CONC-{i:05d}") for i in range(SESSIONS + 2)]
    _register(sqlite_store_url, meters)
    config = HeadendConfig(store_url=sqlite_store_url, port=0, suites=(2,), handshake_timeout=60)
    headend = await start_headend(config, sample_keys())
    assert isinstance(headend, LocalHeadend)
    idle: list[asyncio.StreamWriter] = []
    links: list[MeterLink] = []
    try:
        idle = [(await asyncio.open_connection("127.0.0.1", headend.port))[1] for _ in range(IDLE)]
        storm = asyncio.ensure_future(_connect_all(headend.port, meters[:SESSIONS]))
        await wait_for(lambda: headend.stats().handshakes_ok >= SESSIONS // 10, 30.0)
        during, took_during, _ = await _normal_meter(headend, meters[SESSIONS])
        links = await storm
        held = headend.stats()
        status, took, still = await _normal_meter(headend, meters[SESSIONS + 1])
    finally:
        await asyncio.gather(*(link.close() for link in links))
        for writer in idle:
            writer.close()
        await wait_for(lambda: headend.stats().connections == 0, 10.0)
        final = await headend.close()
    assert held.connections == SESSIONS + IDLE
    assert held.handshakes_ok == SESSIONS + 1  # and the meter served during the storm
    assert (status, still) == (AckStatus.ACCEPTED, SESSIONS + IDLE + 1)
    assert took < SERVED_WITHIN
    assert (during, took_during < SERVED_WITHIN) == (AckStatus.ACCEPTED, True)  # in the storm
    assert (final.handshakes_ok, final.batches_accepted, final.handshakes_failed) == (
        SESSIONS + 2,
        2,
        IDLE,
    )
