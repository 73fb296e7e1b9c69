"""Kill the head-end during uploads and restart it: after the fleet reconnects, every
batch is stored exactly once (docs/protocol.md section 5: the meter keeps each batch until
it is acknowledged, the head-end acknowledges only once it is durable and answers a
batch it already holds DUPLICATE)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from reliability_support import (
    ServeProcess,
    count_batches,
    crash,
    exactly_once_problems,
    fleet_config,
    headend_identities,
    provision,
    start,
    wait_for_stored,
)

from meterseal.cli.serve_command import TRUST_BUNDLE_NAME, read_trust_bundle
from meterseal.headend.testing import async_test
from meterseal.meter.fleet import run_fleet
from meterseal.store import sqlite_url

pytest_plugins = ["reliability_fixtures"]  # store_url: SQLite and PostgreSQL
pytestmark = pytest.mark.timeout(150)

METERS, DAYS = 40, 3
SETTINGS = {"intervals_per_batch": 24, "window": 1}
"""Six-hourly batches (12 per meter), one in flight at a time, every meter
connected at once: when the head-end dies, nearly every meter is in mid-session."""


@async_test
async def test_reliability_headend_crash_midupload_then_restart_stores_every_batch_once(
    store_url: str,
) -> None:
    identities = headend_identities()
    config = fleet_config(METERS, DAYS, **SETTINGS)
    total = METERS * config.batches_per_meter
    meters = provision(store_url, config, identities=identities)
    first = await start(store_url, identities)
    fleet = asyncio.ensure_future(run_fleet(meters, "127.0.0.1", first.port, config))
    stored_at_crash = await wait_for_stored(store_url, total // 4, timeout=30)
    await crash(first)
    await asyncio.sleep(0.3)  # meters find nothing listening and back off
    stored_before_restart = count_batches(store_url)
    second = await start(store_url, identities, port=first.port)
    try:
        result = await asyncio.wait_for(fleet, 60)
    finally:
        after = await second.close()
    assert stored_at_crash < total, "the crash came after the uploads: nothing was tested"
    assert result.complete
    assert exactly_once_problems(result, store_url) == []
    assert count_batches(store_url) == total
    assert result.handshakes_ok > METERS  # meters cut off mid-session came back
    assert after.batches_accepted == total - stored_before_restart  # the rest, each once


@pytest.mark.slow
@async_test
async def test_reliability_serve_sigkilled_midupload_then_restarted_stores_every_batch_once(
    tmp_path: Path,
) -> None:
    url = sqlite_url(tmp_path)
    first = await ServeProcess.start(tmp_path)
    try:
        config = fleet_config(METERS, DAYS, **SETTINGS)
        total = METERS * config.batches_per_meter
        trust = read_trust_bundle(tmp_path / TRUST_BUNDLE_NAME)
        meters = provision(url, config, trust=trust)
        fleet = asyncio.ensure_future(run_fleet(meters, "127.0.0.1", first.port, config))
        stored_at_kill = await wait_for_stored(url, total // 4, timeout=30)
        first.kill()
        await first.process.wait()
    finally:
        await first.reap()
    stored_before_restart = count_batches(url)
    second = await ServeProcess.start(tmp_path, first.port)
    try:
        result = await asyncio.wait_for(fleet, 60)
        final = await second.stop()
    finally:
        await second.reap()
    assert stored_at_kill < total, "the kill came after the uploads: nothing was tested"
    assert result.complete
    assert exactly_once_problems(result, url) == []
    assert count_batches(url) == total
    accepted = next(int(line.split(":")[1]) for line in final if "batches_accepted:" in line)
    assert accepted == total - stored_before_restart  # the new process stored the rest, once
    assert result.handshakes_ok > METERS  # meters cut off mid-session came back
