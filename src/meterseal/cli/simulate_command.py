"""``meterseal simulate --meters N --headend HOST:PORT [--days D] [--data-dir DIR] ...``.

A fleet of simulated meters (:mod:`meterseal.meter.fleet`) uploading to a running head-end
(``meterseal serve``). The meters are provisioned to trust the head-end from its trust
bundle (``DATA_DIR/headend-trust.cbor``, written by ``serve``), and registered in the
head-end's store (the store named by ``--config``, else SQLite in ``--data-dir``).
Registering straight into the store is the simulator's **stand-in for the security
server**, until that exists (:mod:`meterseal.meter.provisioning`). Meter ids are new for
every run (``SIM``, ``SIM2``, ... as prefix), so a store can take many runs.

``--attacks mode,mode`` runs attacker modes (:mod:`meterseal.meter.attacks`) alongside.
The exit code is 1 if any honest batch was not acknowledged or any attack was not
refused, 0 otherwise; with ``--json`` the last line of output is one JSON object.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import itertools
import json
import time
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final

from meterseal.cli.demo_command import ProgressBar
from meterseal.cli.serve_command import TRUST_BUNDLE_NAME, read_trust_bundle
from meterseal.config import ConfigError, Settings, load_settings, redact
from meterseal.crypto.suites import get_suite
from meterseal.meter.attacks import AttackKit, AttackMode, Target, prepare_attack_kit
from meterseal.meter.fleet import (
    FleetConfig,
    FleetResult,
    plan_fleet,
    provision_fleet,
    register_fleet,
)
from meterseal.meter.fleet import run_fleet as run_meters
from meterseal.meter.provisioning import ProvisionedMeter
from meterseal.meter.trust import HeadendTrust
from meterseal.store import Store, open_store

ATTACK_SUITE: Final = 2
"""The attackers' suite when the head-end offers it (else its first suite)."""


@dataclass(frozen=True, slots=True)
class SimulateOptions:
    """What to simulate, against which head-end."""

    meters: int
    days: int
    host: str
    port: int
    seed: int = 1
    attacks: tuple[AttackMode, ...] = ()
    concurrency: int = 64
    max_attempts: int = 10
    handshake_limit: float = 10.0


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The flags of ``simulate``."""
    parser.add_argument("--meters", type=count, required=True, help="fleet size")
    parser.add_argument("--headend", required=True, help="HOST:PORT the head-end listens on")
    parser.add_argument("--days", type=count, default=1, help="days of readings (default 1)")
    parser.add_argument(
        "--data-dir",
        help="the head-end's data directory (default ./meterseal-data): its trust bundle, "
        "and its SQLite store, in which the meters are registered (the stand-in for the "
        "security server)",
    )
    parser.add_argument("--config", help="the head-end's TOML settings (data_dir, store.url)")
    parser.add_argument(
        "--attacks",
        type=attack_modes,
        default=(),
        help=f"attacker modes to run alongside, comma-separated: {', '.join(AttackMode)}",
    )
    parser.add_argument("--seed", type=int, default=1, help="simulation seed (default 1)")
    parser.add_argument("--concurrency", type=positive, default=64, help="connections at once")
    parser.add_argument("--max-attempts", type=positive, default=10, help="connections per upload")
    parser.add_argument(
        "--handshake-limit",
        type=float,
        default=10.0,
        help="the head-end's handshake timeout, for the slow-sender attack (default 10)",
    )
    parser.add_argument("--json", action="store_true", help="end with one JSON line")


def count(text: str) -> int:
    """A whole number >= 0 (argparse type)."""
    if not text.isdigit():
        raise argparse.ArgumentTypeError(f"expected a whole number >= 0, not {text!r}")
    return int(text)


def positive(text: str) -> int:
    """A whole number >= 1 (argparse type)."""
    value = count(text)
    if value < 1:
        raise argparse.ArgumentTypeError("expected a whole number >= 1")
    return value


def attack_modes(text: str) -> tuple[AttackMode, ...]:
    """``replay,wrong-key`` as attack modes (argparse type)."""
    names = [name.strip() for name in text.split(",") if name.strip()]
    try:
        return tuple(AttackMode(name) for name in names)
    except ValueError:
        known = ", ".join(AttackMode)
        raise argparse.ArgumentTypeError(f"unknown attack mode in {text!r} ({known})") from None


def parse_headend(text: str) -> tuple[str, int]:
    """``HOST:PORT`` (``[v6]:PORT`` for IPv6) as (host, port)."""
    host, sep, port = text.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ConfigError(f"--headend must be HOST:PORT, not {text!r}")
    return host.strip("[]"), int(port)


def options_from(args: argparse.Namespace) -> SimulateOptions:
    """The run's options from the parsed flags."""
    host, port = parse_headend(args.headend)
    return SimulateOptions(
        meters=args.meters,
        days=args.days,
        host=host,
        port=port,
        seed=args.seed,
        attacks=args.attacks,
        concurrency=args.concurrency,
        max_attempts=args.max_attempts,
        handshake_limit=args.handshake_limit,
    )


def run_simulate_command(args: argparse.Namespace) -> int:
    """Provision, register, upload, report; 1 if an honest batch was not acknowledged."""
    settings = load_settings(args.config).override(data_dir=args.data_dir)
    options = options_from(args)
    print(
        f"meterseal simulate: {options.meters} meters, {options.days} day(s) of readings, "
        f"head-end {options.host}:{options.port}",
        flush=True,
    )
    summary = asyncio.run(simulate(settings, options, progress=ProgressBar()))
    print_summary(summary)
    if args.json:
        print(json.dumps(summary.as_json()))
    return 0 if summary.ok else 1


# --- the run ----------------------------------------------------------------------------


@dataclass
class SimulateSummary:
    """What the fleet did, as the meters saw it."""

    options: SimulateOptions
    id_prefix: str
    store_url: str
    result: FleetResult

    @property
    def incomplete(self) -> list[str]:
        """Meters with a produced batch the head-end never acknowledged."""
        return [m.meter_id for m in self.result.meters if m.acknowledged < m.produced]

    @property
    def attacks_defended(self) -> bool:
        """True if the head-end refused every attack attempt."""
        return all(report.defended for report in self.result.attacks)

    @property
    def ok(self) -> bool:
        """Every honest batch acknowledged and every attack refused."""
        return not self.incomplete and self.attacks_defended

    def as_json(self) -> dict[str, object]:
        """The summary as one JSON object."""
        result, meters = self.result, self.result.meters
        return {
            "meters": self.options.meters,
            "days": self.options.days,
            "headend": f"{self.options.host}:{self.options.port}",
            "id_prefix": self.id_prefix,
            "store_url": redact(self.store_url),
            "batches_produced": result.batches_produced,
            "batches_acked": result.batches_acked,
            "batches_accepted": sum(m.stats.accepted for m in meters),
            "batches_duplicate": sum(m.stats.duplicates for m in meters),
            "batches_rejected": sum(m.stats.rejected for m in meters),
            "readings_produced": result.readings_produced,
            "handshakes_ok": result.handshakes_ok,
            "handshakes_failed": result.handshakes_failed,
            "meters_incomplete": len(self.incomplete),
            "complete": not self.incomplete,
            "attacks": [
                {
                    "mode": r.mode.value,
                    "tried": r.tried,
                    "outcome": r.outcome,
                    "defended": r.defended,
                }
                for r in result.attacks
            ],
            "attacks_defended": self.attacks_defended,
            "elapsed_s": round(result.elapsed, 3),
            "meters_by_suite": dict(Counter(str(m.suite) for m in meters)),
            "meters_by_type": dict(Counter(m.meter_type.name.lower() for m in meters)),
        }


async def simulate(
    settings: Settings, options: SimulateOptions, progress: ProgressBar | None = None
) -> SimulateSummary:
    """Provision and register the fleet (and the attackers), then run it."""
    trust = read_trust_bundle(settings.data_dir / TRUST_BUNDLE_NAME)
    store = open_store(settings.store)
    try:
        config = fleet_config(store, options, tuple(trust))
        meters = provision_fleet(config, trust=trust)
        register_fleet(store, meters, registered_at=int(time.time()))
        kit = attack_kit(store, trust, config.id_prefix) if options.attacks else None
    finally:
        store.close()
    result = await _run(meters, config, options, kit, progress)
    return SimulateSummary(options, config.id_prefix, settings.store, result)


async def _run(
    meters: list[ProvisionedMeter],
    config: FleetConfig,
    options: SimulateOptions,
    kit: AttackKit | None,
    progress: ProgressBar | None,
) -> FleetResult:
    target = Target(options.host, options.port, handshake_limit=options.handshake_limit)
    return await run_meters(
        meters,
        options.host,
        options.port,
        config,
        progress=progress,
        attack_kit=kit,
        attack_target=target,
    )


def fleet_config(store: Store, options: SimulateOptions, suites: tuple[int, ...]) -> FleetConfig:
    """The fleet to run: the head-end's suites, and a meter id prefix not yet registered."""
    for run in itertools.count(1):
        config = FleetConfig(
            meters=options.meters,
            days=options.days,
            seed=options.seed,
            suites=suites,
            concurrency=options.concurrency,
            max_attempts=options.max_attempts,
            attacks=tuple(mode.value for mode in options.attacks),
            id_prefix="SIM" if run == 1 else f"SIM{run}",
        )
        if not _registered(store, config):
            return config
    raise AssertionError("unreachable")  # pragma: no cover - itertools.count never ends


def _registered(store: Store, config: FleetConfig) -> bool:
    """True if this run's first meter id (or its attack victim) is already registered."""
    [first] = plan_fleet(dataclasses.replace(config, meters=1))
    victim = f"ATK{config.id_prefix}-VICTIM"
    return any(store.get_meter(meter_id) is not None for meter_id in (first.meter_id, victim))


def attack_kit(store: Store, trust: Mapping[int, HeadendTrust], prefix: str) -> AttackKit:
    """The attackers' meters (the victim registered), in suite 2 if the head-end offers it."""
    value = ATTACK_SUITE if ATTACK_SUITE in trust else next(iter(trust))
    suite = get_suite(value)
    return prepare_attack_kit(
        trust[value], store, suite=suite, registered_at=int(time.time()), prefix=f"ATK{prefix}"
    )


# --- printing ---------------------------------------------------------------------------


def print_summary(summary: SimulateSummary) -> None:
    """A readable summary on stdout."""
    data, result = summary.as_json(), summary.result
    print(
        f"meters:     {data['meters']} ({summary.id_prefix}-...) by suite "
        f"{data['meters_by_suite']}, by type {data['meters_by_type']}"
    )
    print(f"handshakes: {data['handshakes_ok']} ok, {data['handshakes_failed']} failed")
    print(
        f"batches:    {data['batches_produced']} produced, {data['batches_acked']} acknowledged "
        f"({data['batches_accepted']} accepted, {data['batches_duplicate']} duplicate), "
        f"{data['batches_rejected']} rejected"
    )
    done = sum(m.readings for m in result.meters if m.acknowledged >= m.produced)
    rate = done / result.elapsed if result.elapsed else 0.0
    print(f"time:       {result.elapsed:.1f} s ({rate:,.0f} readings/s acknowledged)")
    for report in result.attacks:
        verdict = "refused" if report.defended else "NOT REFUSED"
        print(f"attack:     {report.mode.value}: {report.tried}: {report.outcome} ({verdict})")
    if summary.incomplete:
        print(f"result:     FAILED: {len(summary.incomplete)} meters have unacknowledged batches")
    elif not summary.attacks_defended:
        print("result:     FAILED: an attack was not refused")
    else:
        print("result:     every honest batch acknowledged")
