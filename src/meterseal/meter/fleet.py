"""The fleet simulator: N meters in one process (asyncio) uploading to one head-end.

A fleet is planned from a :class:`FleetConfig` (deterministic from ``seed``): meter ids,
and a mix of meter types (electricity, water, gas), cipher suites (2, -24, 0) and EDHOC
methods (3, 0). Each meter simulates ``days`` days of 15-minute intervals from ``start``,
in batches of ``intervals_per_batch`` readings (96 = one day), signs each batch in its
secure element, keeps it in the store-and-forward buffer, and uploads with
:class:`~meterseal.meter.client.MeterClient` every ``upload_every`` batches (default: once,
after the last). At most ``concurrency`` connections are open at once, and ``rate`` (if
set) paces how many start per second, fleet-wide.

How the demo drives it::

    identities = make_headend_identities(os.urandom)      # software head-end keys
    meters = provision_fleet(config, identities)            # secure elements, credentials
    register_fleet(store, meters, registered_at=int(time.time()))   # security-server stand-in
    keys = HeadendKeys(identities=identities.by_method(),
                       command_keys=dict(identities.command_keys))  # for meterseal.headend
    result = await run_fleet(meters, host, port, config, progress=callback)

:func:`provision_fleet` takes the head-end identities only to build each meter's trust
store (:meth:`HeadendIdentities.trust_for`); a head-end whose keys live elsewhere passes
a ``trust`` mapping (suite value -> :class:`~meterseal.meter.trust.HeadendTrust`)
instead. Attackers (:mod:`meterseal.meter.attacks`) run alongside with ``attack_kit``
and ``config.attacks``.
"""

from __future__ import annotations

import asyncio
import os
import random
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Final

from meterseal.crypto.interfaces import Rng
from meterseal.crypto.suites import CipherSuite, get_suite
from meterseal.edhoc.messages import Method
from meterseal.messages.readings import MeterType
from meterseal.meter.attacks import AttackKit, AttackReport, Target, run_attacks
from meterseal.meter.buffer import BatchBuffer, MemoryBuffer
from meterseal.meter.client import Backoff, ClientConfig, MeterClient, UploadStats
from meterseal.meter.metering import INTERVALS_PER_DAY, MeterSettings, build_batch
from meterseal.meter.provisioning import (
    SIMULATOR_SCRYPT,
    HeadendIdentities,
    MeterRegistry,
    ProvisionedMeter,
    make_meter,
    register,
)
from meterseal.meter.se_state import ScryptParams
from meterseal.meter.trust import HeadendTrust

DEFAULT_START: Final = 1_735_689_600
"""2025-01-01T00:00:00Z."""

TYPE_PREFIX: Final = {MeterType.ELECTRICITY: "ELEC", MeterType.WATER: "WATR", MeterType.GAS: "GAS"}


@dataclass(frozen=True, slots=True)
class FleetConfig:
    """What to simulate, and how hard to push the head-end."""

    meters: int = 20
    days: int = 1
    start: int = DEFAULT_START
    intervals_per_batch: int = 96
    suites: tuple[int, ...] = (2, -24, 0)
    methods: tuple[Method, ...] = (Method.STATIC_STATIC, Method.SIGN_SIGN)
    meter_types: tuple[MeterType, ...] = (MeterType.ELECTRICITY, MeterType.WATER, MeterType.GAS)
    upload_every: int | None = None
    concurrency: int = 64
    rate: float | None = None
    window: int = 8
    backoff: Backoff = field(default_factory=Backoff)
    max_attempts: int | None = 10
    seed: int = 1
    id_prefix: str = "SIM"
    event_rate: float = 0.001
    scrypt: ScryptParams = SIMULATOR_SCRYPT
    attacks: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.meters < 0 or self.days < 0 or self.intervals_per_batch < 1:
            raise ValueError("meters and days must be >= 0, intervals_per_batch >= 1")
        if not (self.suites and self.methods and self.meter_types) or self.concurrency < 1:
            raise ValueError("a fleet needs suites, methods, meter types and concurrency >= 1")

    @property
    def batches_per_meter(self) -> int:
        """Batches each meter produces over the simulated days (the last may be short)."""
        return -(-self.days * INTERVALS_PER_DAY // self.intervals_per_batch)


@dataclass(frozen=True, slots=True)
class MeterPlan:
    """One planned meter."""

    meter_id: str
    meter_type: MeterType
    suite: CipherSuite
    method: Method
    model_seed: int


def plan_fleet(config: FleetConfig) -> list[MeterPlan]:
    """Meter ids and their mix of types, suites and methods (deterministic)."""
    plans = []
    for i in range(config.meters):
        meter_type = config.meter_types[i % len(config.meter_types)]
        suite = get_suite(config.suites[(i // len(config.meter_types)) % len(config.suites)])
        method = config.methods[i % len(config.methods)]
        meter_id = f"{config.id_prefix}-{TYPE_PREFIX[meter_type]}-{i + 1:06d}"
        plans.append(MeterPlan(meter_id, meter_type, suite, method, config.seed * 1_000_003 + i))
    return plans


def provision_fleet(
    config: FleetConfig,
    identities: HeadendIdentities | None = None,
    *,
    rng: Rng = os.urandom,
    trust: Mapping[int, HeadendTrust] | None = None,
) -> list[ProvisionedMeter]:
    """Personalise every planned meter; trust comes from ``identities`` or ``trust``."""
    settings = MeterSettings(event_rate=config.event_rate)
    return [
        make_meter(
            plan.meter_id,
            plan.meter_type,
            plan.suite,
            plan.method,
            _trust(plan.suite, identities, trust),
            rng=rng,
            model_seed=plan.model_seed,
            settings=settings,
            scrypt=config.scrypt,
        )
        for plan in plan_fleet(config)
    ]


def _trust(
    suite: CipherSuite,
    identities: HeadendIdentities | None,
    trust: Mapping[int, HeadendTrust] | None,
) -> HeadendTrust:
    if trust is not None:
        return trust[suite.value]
    if identities is None:
        raise ValueError("provision_fleet needs the head-end identities or a trust mapping")
    return identities.trust_for(suite)


def register_fleet(
    store: MeterRegistry, meters: Sequence[ProvisionedMeter], *, registered_at: int
) -> None:
    """Register every meter (the simulator's stand-in for the security server)."""
    for meter in meters:
        register(store, meter, registered_at=registered_at)


# --- running --------------------------------------------------------------------------


@dataclass
class MeterResult:
    """One meter's outcome."""

    meter_id: str
    meter_type: MeterType
    suite: int
    method: Method
    produced: int = 0
    readings: int = 0
    stats: UploadStats = field(default_factory=UploadStats)

    @property
    def acknowledged(self) -> int:
        """Batches the head-end holds (ACCEPTED or DUPLICATE)."""
        return self.stats.acknowledged


@dataclass(frozen=True, slots=True)
class FleetProgress:
    """Passed to the progress callback after every upload round of a meter."""

    meters_done: int
    meters: int
    batches_produced: int
    batches_acked: int
    batches_total: int


@dataclass
class FleetResult:
    """Every meter's outcome and the wall time."""

    meters: list[MeterResult]
    elapsed: float
    intervals_per_batch: int
    attacks: list[AttackReport] = field(default_factory=list)

    @property
    def batches_produced(self) -> int:
        """Batches signed by the fleet."""
        return sum(m.produced for m in self.meters)

    @property
    def readings_produced(self) -> int:
        """Interval readings in the produced batches."""
        return sum(m.readings for m in self.meters)

    @property
    def batches_acked(self) -> int:
        """Batches acknowledged (ACCEPTED or DUPLICATE)."""
        return sum(m.acknowledged for m in self.meters)

    @property
    def handshakes_ok(self) -> int:
        """Successful EDHOC handshakes."""
        return sum(m.stats.handshakes_ok for m in self.meters)

    @property
    def handshakes_failed(self) -> int:
        """Connections whose handshake did not complete."""
        return sum(m.stats.handshakes_failed for m in self.meters)

    @property
    def complete(self) -> bool:
        """True if every produced batch was acknowledged."""
        return all(m.acknowledged >= m.produced for m in self.meters)


Progress = Callable[[FleetProgress], None]


class _Pacer:
    """Spaces connection starts ``1 / rate`` seconds apart, fleet-wide."""

    def __init__(self, rate: float | None) -> None:
        self._interval = 1.0 / rate if rate else 0.0
        self._next = 0.0

    async def wait(self) -> None:
        """Sleep until this caller's slot."""
        if not self._interval:
            return
        loop = asyncio.get_running_loop()
        slot = max(loop.time(), self._next)
        self._next = slot + self._interval
        await asyncio.sleep(slot - loop.time())


class _Fleet:
    """Shared state of one run: limits, counters, the progress callback."""

    def __init__(self, config: FleetConfig, meters: int, progress: Progress | None) -> None:
        self.config = config
        self.gate = asyncio.Semaphore(config.concurrency)
        self.pacer = _Pacer(config.rate)
        self.progress = progress
        self.results: list[MeterResult] = []
        self.total = meters * config.batches_per_meter
        self.meters = meters
        self.done = 0

    def report(self) -> None:
        """Tell the progress callback where the run stands."""
        if self.progress is None:
            return
        produced = sum(r.produced for r in self.results)
        acked = sum(r.acknowledged for r in self.results)
        self.progress(FleetProgress(self.done, self.meters, produced, acked, self.total))


async def run_fleet(
    meters: Sequence[ProvisionedMeter],
    host: str,
    port: int,
    config: FleetConfig,
    *,
    buffer: BatchBuffer | None = None,
    progress: Progress | None = None,
    rng: Rng = os.urandom,
    attack_kit: AttackKit | None = None,
    attack_target: Target | None = None,
) -> FleetResult:
    """Simulate and upload every meter's readings; return per-meter results.

    With an ``attack_kit``, the modes named in ``config.attacks`` run alongside the fleet
    (:mod:`meterseal.meter.attacks`) against ``attack_target`` (default: ``host:port``
    with the contract's time limits) and their reports join the result.
    """
    fleet = _Fleet(config, len(meters), progress)
    store = buffer if buffer is not None else MemoryBuffer()
    client_config = ClientConfig(
        host, port, window=config.window, backoff=config.backoff, max_attempts=config.max_attempts
    )
    started = time.perf_counter()
    jitter = random.Random(config.seed)  # noqa: S311 - reconnect jitter, not a secret
    clients = [
        MeterClient(m.session_config(), store, client_config, rng=rng, jitter=jitter)
        for m in meters
    ]
    runs = [_run_meter(fleet, m, c) for m, c in zip(meters, clients, strict=True)]
    attacks = asyncio.ensure_future(
        _attacks(attack_kit, attack_target or Target(host, port), config.attacks)
    )
    try:
        await asyncio.gather(*runs)
    finally:
        reports = await attacks
    elapsed = time.perf_counter() - started
    return FleetResult(fleet.results, elapsed, config.intervals_per_batch, reports)


async def _attacks(
    kit: AttackKit | None, target: Target, modes: Sequence[str]
) -> list[AttackReport]:
    if kit is None or not modes:
        return []
    return await run_attacks(kit, target, modes)


async def _run_meter(fleet: _Fleet, meter: ProvisionedMeter, client: MeterClient) -> None:
    result = MeterResult(meter.meter_id, meter.meter_type, meter.suite.value, meter.method)
    result.stats = client.stats
    fleet.results.append(result)
    config = fleet.config
    every = config.upload_every or config.batches_per_meter or 1
    for first in range(0, config.batches_per_meter, every):
        count = min(every, config.batches_per_meter - first)
        result.readings += _produce(meter, client, config, first, count)
        result.produced += count
        async with fleet.gate:
            await fleet.pacer.wait()
            await client.upload()
        fleet.report()
    fleet.done += 1
    fleet.report()


def _produce(
    meter: ProvisionedMeter, client: MeterClient, config: FleetConfig, first: int, count: int
) -> int:
    """Sign batches ``first .. first + count - 1`` into the buffer; return their readings."""
    step, per_batch = meter.model.settings.interval_seconds, config.intervals_per_batch
    total, readings = config.days * INTERVALS_PER_DAY, 0
    for index in range(first, first + count):
        intervals = min(per_batch, total - index * per_batch)
        batch = build_batch(meter.model, config.start + index * per_batch * step, intervals)
        client.buffer.put(meter.meter_id, batch.batch_seq, meter.seal(batch))
        readings += intervals
    return readings
