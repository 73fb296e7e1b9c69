"""``meterseal demo``: a head-end on SQLite and a simulated fleet, end to end, on one machine.

Everything runs in one process and needs no service: the head-end's keys live in an
encrypted software crypto machine in the data directory, the store is a SQLite file
there, and a mixed fleet (electricity, water and gas; suites 2, 0 and the GM/T suite;
EDHOC methods 3 and 0) uploads D days of signed readings over TCP on 127.0.0.1. A
time-sync command is queued for a few meters before they connect, to show the command
path. At the end the store is read back: the demo succeeds only if every batch every
honest meter produced is stored exactly once.
"""

from __future__ import annotations

import os
import secrets
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from meterseal.crypto.interfaces import DhKey, SigningKey
from meterseal.crypto.suites import CipherSuite, get_suite, supported_suites
from meterseal.headend.config import HeadendConfig, HeadendKeys
from meterseal.headend.server import start_headend
from meterseal.headend.stats import HeadendStats
from meterseal.hsm import CryptoMachine, SoftwareKeystore, kek_from_file
from meterseal.hsm.errors import KeyNotFoundError
from meterseal.messages import TimeSync
from meterseal.meter.fleet import (
    FleetConfig,
    FleetProgress,
    provision_fleet,
    register_fleet,
    run_fleet,
)
from meterseal.meter.provisioning import HeadendIdentities, ProvisionedMeter, headend_identities
from meterseal.store import open_store, sqlite_url

KEYSTORE_NAME = "headend-keys.mskeys"
KEK_NAME = "headend-keys.kek"
COMMANDED_METERS = 3
SUITES = tuple(suite.value for suite in supported_suites())


@dataclass(frozen=True, slots=True)
class DemoOptions:
    meters: int = 100
    days: int = 1
    data_dir: Path | None = None
    seed: int = 1


@dataclass
class DemoSummary:
    """What the demo did, and whether every honest batch is stored exactly once."""

    meters: int
    days: int
    data_dir: str
    store_url: str
    elapsed_s: float
    batches_produced: int
    readings_produced: int
    batches_stored: int
    register_values_stored: int
    missing_batches: int
    handshakes_ok: int
    handshakes_failed: int
    headend: HeadendStats
    commands_acked: int
    by_suite: dict[str, int] = field(default_factory=dict)
    by_type: dict[str, int] = field(default_factory=dict)

    @property
    def exactly_once(self) -> bool:
        return self.missing_batches == 0 and self.batches_stored == self.batches_produced

    def as_json(self) -> dict[str, object]:
        return {
            "meters": self.meters,
            "days": self.days,
            "handshakes_ok": self.handshakes_ok,
            "handshakes_failed": self.handshakes_failed,
            "batches_produced": self.batches_produced,
            "batches_accepted": self.headend.batches_accepted,
            "batches_duplicate": self.headend.batches_duplicate,
            "batches_rejected": self.headend.batches_rejected,
            "batches_stored": self.batches_stored,
            "readings_stored": self.headend.intervals_stored,
            "readings_produced": self.readings_produced,
            "register_values_stored": self.register_values_stored,
            "commands_acked": self.commands_acked,
            "exactly_once": self.exactly_once,
            "elapsed_s": round(self.elapsed_s, 3),
            "meters_by_suite": self.by_suite,
            "meters_by_type": self.by_type,
            "data_dir": self.data_dir,
            "store_url": self.store_url,
        }


def open_keystore(data_dir: Path) -> SoftwareKeystore:
    """The head-end's crypto machine: an encrypted keystore whose key file sits beside it
    (a demo convenience; docs/crypto-machine.md shows how to keep the KEK elsewhere)."""
    kek_path, store_path = data_dir / KEK_NAME, data_dir / KEYSTORE_NAME
    if not kek_path.exists():
        descriptor = os.open(kek_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w") as kek_file:
            kek_file.write(secrets.token_hex(32))
    return SoftwareKeystore(store_path, kek_from_file(kek_path), create=not store_path.exists())


@dataclass(frozen=True, slots=True)
class _MachineKeys:
    """Head-end keys as handles into a crypto machine: made on first use, found by label
    afterwards, never read out."""

    machine: CryptoMachine

    def dh_key(self, suite: CipherSuite) -> DhKey:
        label = f"headend-{suite.value}-dh"
        try:
            return self.machine.dh_key(label)
        except KeyNotFoundError:
            return self.machine.generate_dh_key(label, suite.dh)

    def signing_key(self, suite: CipherSuite, role: str) -> SigningKey:
        label = f"headend-{suite.value}-{role}"
        try:
            return self.machine.signing_key(label)
        except KeyNotFoundError:
            return self.machine.generate_signing_key(label, suite.signature)


def machine_identities(machine: CryptoMachine, suites: tuple[int, ...]) -> HeadendIdentities:
    """The head-end's EDHOC identities and command keys, as handles into ``machine``."""
    return headend_identities(_MachineKeys(machine), [get_suite(value) for value in suites])


def _id_prefix(registered: int) -> str:
    """Meter ids for this run: a data directory used again gets a new fleet beside the
    old one (meter ids are unique in the registry)."""
    return "DEMO" if registered == 0 else f"DEMO{registered}"


def _stored_per_meter(store_url: str) -> tuple[Counter[str], int]:
    """Batches stored per meter, and the register values in them, read back from the store."""
    store = open_store(store_url)
    try:
        per_meter: Counter[str] = Counter()
        values = 0
        for row in store.iter_batches():
            per_meter[row.meter_id] += 1
            values += row.reading_count
        return per_meter, values
    finally:
        store.close()


def _provision(
    store_url: str, options: DemoOptions, identities: HeadendIdentities
) -> tuple[FleetConfig, list[ProvisionedMeter]]:
    """Make the fleet's meters and register them in the head-end's store."""
    store = open_store(store_url)
    try:
        config = FleetConfig(
            meters=options.meters,
            days=options.days,
            seed=options.seed,
            suites=SUITES,
            id_prefix=_id_prefix(len(store.list_meters())),
        )
        meters = provision_fleet(config, identities)
        register_fleet(store, meters, registered_at=int(time.time()))
    finally:
        store.close()
    return config, meters


async def run_demo(
    options: DemoOptions, progress: Callable[[FleetProgress], None] | None = None
) -> DemoSummary:
    """Run the whole demo and return its summary (see the module docstring)."""
    data_dir = options.data_dir or Path(tempfile.mkdtemp(prefix="meterseal-demo-"))
    data_dir.mkdir(parents=True, exist_ok=True)
    store_url = sqlite_url(data_dir)
    with open_keystore(data_dir) as machine:
        identities = machine_identities(machine, SUITES)
        fleet_config, meters = _provision(store_url, options, identities)
        keys = HeadendKeys(identities.by_method(), dict(identities.command_keys))
        config = HeadendConfig(store_url=store_url, port=0, suites=SUITES)
        started = time.perf_counter()
        headend = await start_headend(config, keys)
        try:
            for meter in meters[:COMMANDED_METERS]:
                await headend.queue_command(meter.meter_id, TimeSync(int(time.time())))
            result = await run_fleet(
                meters, "127.0.0.1", headend.port, fleet_config, progress=progress
            )
        finally:
            stats = await headend.close()
        elapsed = time.perf_counter() - started
    per_meter, values_stored = _stored_per_meter(store_url)
    produced = {m.meter_id: m.produced for m in result.meters}
    missing = sum(max(0, count - per_meter[meter_id]) for meter_id, count in produced.items())
    return DemoSummary(
        meters=options.meters,
        days=options.days,
        data_dir=str(data_dir),
        store_url=store_url,
        elapsed_s=elapsed,
        batches_produced=result.batches_produced,
        readings_produced=result.readings_produced,
        batches_stored=sum(per_meter[meter_id] for meter_id in produced),
        register_values_stored=values_stored,
        missing_batches=missing,
        handshakes_ok=result.handshakes_ok,
        handshakes_failed=result.handshakes_failed,
        headend=stats,
        commands_acked=stats.command_acks,
        by_suite=dict(Counter(str(m.suite) for m in result.meters)),
        by_type=dict(Counter(m.meter_type.name.lower() for m in result.meters)),
    )
