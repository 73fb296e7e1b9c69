"""The fleet simulator against the loopback head-end over TCP, with a real SQLite store."""

from __future__ import annotations

import asyncio
from collections import Counter
from pathlib import Path

from meter_tcp_support import IDENTITIES, START, DetRng, loopback

from meterseal.crypto.suites import SUITE_2
from meterseal.meter.attacks import Target, prepare_attack_kit
from meterseal.meter.buffer import SqliteBuffer
from meterseal.meter.fleet import (
    FleetConfig,
    FleetProgress,
    FleetResult,
    provision_fleet,
    register_fleet,
    run_fleet,
)
from meterseal.meter.testing import DictRegistry
from meterseal.meter.testing_server import LoopbackServer
from meterseal.store import open_store, sqlite_url


def test_twenty_mixed_meters_upload_everything_into_a_registry_in_sqlite(tmp_path: Path) -> None:
    store = open_store(sqlite_url(tmp_path))
    config = FleetConfig(meters=20, days=3, upload_every=2)
    meters = provision_fleet(config, IDENTITIES, rng=DetRng(b"fleet"))
    register_fleet(store, meters, registered_at=START)
    headend, _ = loopback(store)
    seen: list[FleetProgress] = []

    async def scenario() -> FleetResult:
        async with LoopbackServer(headend) as server:
            return await run_fleet(
                meters, "127.0.0.1", server.port, config, progress=seen.append, rng=DetRng(b"r")
            )

    result = asyncio.run(scenario())
    store.close()
    assert result.complete
    assert (result.batches_produced, result.batches_acked, len(headend.log.stored)) == (60, 60, 60)
    assert (result.handshakes_ok, result.handshakes_failed) == (40, 0)
    assert result.readings_produced == 20 * 3 * 96
    assert Counter(m.suite for m in result.meters) == Counter({2: 8, -24: 6, 0: 6})
    assert seen[-1] == FleetProgress(20, 20, 60, 60, 60)
    assert [p.batches_acked for p in seen] == sorted(p.batches_acked for p in seen)


def test_concurrency_limit_and_durable_buffer_hold(tmp_path: Path) -> None:
    config = FleetConfig(meters=12, days=2, concurrency=3, rate=500.0, intervals_per_batch=48)
    meters = provision_fleet(config, IDENTITIES, rng=DetRng(b"limited"))
    headend, registry = loopback()
    register_fleet(registry, meters, registered_at=START)
    buffer = SqliteBuffer(tmp_path / "fleet-buffer.db", synchronous="NORMAL")

    async def scenario() -> tuple[FleetResult, int]:
        async with LoopbackServer(headend) as server:
            result = await run_fleet(meters, "127.0.0.1", server.port, config, buffer=buffer)
            return result, server.peak_connections

    result, peak = asyncio.run(scenario())
    assert result.complete
    assert result.batches_acked == 12 * 4
    assert result.readings_produced == 12 * 2 * 96
    assert peak <= 3
    assert all(buffer.pending(m.meter_id) == [] for m in meters)
    buffer.close()


def test_attackers_run_alongside_the_fleet_and_are_all_refused() -> None:
    config = FleetConfig(meters=6, attacks=("unregistered", "wrong-key", "garbage-frames"))
    meters = provision_fleet(config, IDENTITIES, rng=DetRng(b"with attackers"))
    registry = DictRegistry()
    register_fleet(registry, meters, registered_at=START)
    kit = prepare_attack_kit(IDENTITIES.trust_for(SUITE_2), registry, rng=DetRng(b"atk"))
    headend, _ = loopback(registry)

    async def scenario() -> FleetResult:
        async with LoopbackServer(headend) as server:
            target = Target("127.0.0.1", server.port, timeout=2.0)
            return await run_fleet(
                meters, "127.0.0.1", server.port, config, attack_kit=kit, attack_target=target
            )

    result = asyncio.run(scenario())
    assert result.complete
    assert {r.mode.value for r in result.attacks} == set(config.attacks)
    assert all(r.defended for r in result.attacks), result.attacks
