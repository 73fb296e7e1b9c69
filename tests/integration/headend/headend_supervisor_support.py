"""Helpers of the supervisor tests: head-end keys that worker processes and the fleet agree
on, a worker that refuses to start once a flag file exists, and a supervised two-worker
head-end on a real store and a loopback port."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from functools import partial
from pathlib import Path
from typing import Any, Final

from headend_support import Backend, wait_until

from meterseal.crypto.suites import get_suite
from meterseal.headend import HeadendConfig, HeadendKeys
from meterseal.headend.config import KeySource, identity_lookup
from meterseal.headend.testing import MeterLink, SimMeter, make_meter, seeded
from meterseal.headend.workers import RestartPolicy, WorkerPool, start_workers
from meterseal.meter.client import Backoff
from meterseal.meter.fleet import FleetConfig, provision_fleet, register_fleet
from meterseal.meter.provisioning import HeadendIdentities, ProvisionedMeter
from meterseal.meter.provisioning import make_headend_identities as software_identities

LABEL: Final = "headend-supervisor"
SUITES: Final = (2,)
QUICK: Final = Backoff(base=0.05, cap=0.4)
"""Meters reconnect within 0.4 s (the field's 1 s doubling to 60 s would slow the test)."""
FAST: Final = RestartPolicy(base=0.05, cap=0.2, max_restarts=5, window=60.0)
"""The default policy's shape with shorter waits."""


def seeded_identities(label: str = LABEL) -> HeadendIdentities:
    """Head-end identities derived from ``label`` (the same in every process; tests only)."""
    return software_identities(seeded(label), [get_suite(value) for value in SUITES])


def seeded_keys(label: str = LABEL) -> HeadendKeys:
    """The head-end keys of :func:`seeded_identities` (picklable through a partial)."""
    identities = seeded_identities(label)
    return HeadendKeys(identities.by_method(), dict(identities.command_keys))


def keys_unless(flag: str, label: str = LABEL) -> HeadendKeys:
    """:func:`seeded_keys`, or a failure at start while the file ``flag`` exists."""
    if Path(flag).exists():
        raise RuntimeError(f"{flag} exists: this worker refuses to start")
    return seeded_keys(label)


def key_source(flag: Path | None = None) -> KeySource:
    """The workers' key source (failing at start while ``flag`` exists, if given)."""
    return partial(seeded_keys) if flag is None else partial(keys_unless, str(flag))


@asynccontextmanager
async def supervised(
    backend: Backend, keys: KeySource, policy: RestartPolicy, **settings: Any
) -> AsyncIterator[WorkerPool]:
    """Two supervised workers on ``backend``, on a free loopback port; closed at the end."""
    config = HeadendConfig(store_url=backend.url, port=0, workers=2, suites=SUITES, **settings)
    pool = await start_workers(config, keys, backend.factory, policy=policy)
    try:
        yield pool
    finally:
        await pool.close()


def fleet_config(meters: int, days: int, **settings: Any) -> FleetConfig:
    """A suite-2 fleet that reconnects quickly and never gives up (the timeout bounds it)."""
    return FleetConfig(
        meters=meters, days=days, suites=SUITES, backoff=QUICK, max_attempts=None, **settings
    )


def provision(backend: Backend, config: FleetConfig) -> list[ProvisionedMeter]:
    """The fleet's meters, trusting the seeded head-end keys, registered in the store."""
    meters = provision_fleet(config, seeded_identities())
    store = backend.factory()
    try:
        register_fleet(store, meters, registered_at=1_735_689_600)
    finally:
        store.close()
    return meters


def stored_seqs(backend: Backend) -> dict[str, list[int]]:
    """Every stored batch sequence number per meter, in order, read back from the store."""
    store = backend.factory()
    try:
        seqs: dict[str, list[int]] = defaultdict(list)
        for row in store.iter_batches():
            seqs[row.meter_id].append(row.batch_seq)
        return dict(seqs)
    finally:
        store.close()


def count_batches(backend: Backend) -> int:
    """The number of stored batches, on a connection of its own."""
    store = backend.factory()
    try:
        return store.count_batches()
    finally:
        store.close()


def extra_meters(backend: Backend, count: int, prefix: str) -> list[SimMeter]:
    """``count`` registered test meters (suite 2, static DH keys)."""
    meters = [make_meter(f"{prefix}-{i:03d}") for i in range(count)]
    store = backend.factory()
    try:
        for meter in meters:
            store.add_meter(meter.record())
    finally:
        store.close()
    return meters


async def connect_all(port: int, meters: Sequence[SimMeter]) -> list[MeterLink]:
    """Connect and authenticate each meter in turn (each a new TCP connection)."""
    lookup = identity_lookup(seeded_keys().identities)
    return [await MeterLink.connect(port, meter, lookup) for meter in meters]


async def wait_for_stored(backend: Backend, at_least: int, timeout: float) -> int:
    """Poll the store until it holds ``at_least`` batches; return the count seen then."""
    store = backend.factory()
    seen = 0

    def enough() -> bool:
        nonlocal seen
        seen = store.count_batches()
        return seen >= at_least

    try:
        await wait_until(enough, timeout)
    finally:
        store.close()
    return seen
