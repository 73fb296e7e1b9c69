"""Helpers of the reliability tests: real head-ends on real stores and loopback ports,
fleets of real meters (:mod:`meterseal.meter`), ``meterseal serve`` subprocesses, and the
store read back to check that every batch is there exactly once."""

from __future__ import annotations

import asyncio
import contextlib
import os
import resource
import signal
import sys
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Final

from meterseal.crypto.suites import get_suite
from meterseal.headend import HeadendConfig, HeadendKeys, LocalHeadend, start_headend
from meterseal.meter.client import Backoff
from meterseal.meter.fleet import FleetConfig, FleetResult, provision_fleet, register_fleet
from meterseal.meter.provisioning import (
    HeadendIdentities,
    ProvisionedMeter,
    make_headend_identities,
)
from meterseal.meter.trust import HeadendTrust
from meterseal.store import open_store

QUICK: Final = Backoff(base=0.05, cap=0.4)
"""Meters reconnect within 0.4 s (the contract's 1 s doubling to 60 s is for the field)."""
REGISTERED_AT: Final = 1_735_689_600


# --- head-ends in this process ----------------------------------------------------------


def headend_identities(suites: Sequence[int] = (2, -24, 0)) -> HeadendIdentities:
    """Fresh software head-end keys for ``suites``."""
    return make_headend_identities(os.urandom, [get_suite(value) for value in suites])


def keys_of(identities: HeadendIdentities) -> HeadendKeys:
    """The keys the head-end needs, from the identities the meters were provisioned with."""
    return HeadendKeys(identities.by_method(), dict(identities.command_keys))


async def start(
    store_url: str, identities: HeadendIdentities, port: int = 0, **settings: Any
) -> LocalHeadend:
    """An in-process head-end on 127.0.0.1 (``port`` 0: any free port)."""
    suites = tuple(sorted({value for value, _ in identities.identities}))
    config = HeadendConfig(store_url=store_url, port=port, suites=suites, **settings)
    handle = await start_headend(config, keys_of(identities))
    assert isinstance(handle, LocalHeadend)
    return handle


async def crash(handle: LocalHeadend) -> None:
    """Stop an in-process head-end the hard way: the listening socket closes and every
    connection is reset (RST, no CLOSE record, acks still owed are never sent); then the
    store connections close."""
    handle._server.close()
    for connection in list(handle.core.connections):
        transport = connection._transport
        if transport is not None:
            transport.abort()
    await handle.core.close()


# --- fleets -----------------------------------------------------------------------------


def fleet_config(meters: int, days: int, **settings: Any) -> FleetConfig:
    """A fleet that reconnects quickly and never gives up (the test's timeout bounds it)."""
    base = FleetConfig(meters=meters, days=days, backoff=QUICK, max_attempts=None)
    return replace(base, **settings)


def provision(
    store_url: str,
    config: FleetConfig,
    *,
    identities: HeadendIdentities | None = None,
    trust: dict[int, HeadendTrust] | None = None,
) -> list[ProvisionedMeter]:
    """Make the fleet's meters and register them in the head-end's store."""
    meters = provision_fleet(config, identities, trust=trust)
    store = open_store(store_url)
    try:
        register_fleet(store, meters, registered_at=REGISTERED_AT)
    finally:
        store.close()
    return meters


def stored_seqs(store_url: str) -> dict[str, list[int]]:
    """Every stored batch sequence number per meter, in order, read back from the store."""
    store = open_store(store_url)
    try:
        seqs: dict[str, list[int]] = defaultdict(list)
        for row in store.iter_batches():
            seqs[row.meter_id].append(row.batch_seq)
        return dict(seqs)
    finally:
        store.close()


def count_batches(store_url: str) -> int:
    """``store.count_batches()`` on a connection of its own."""
    store = open_store(store_url)
    try:
        return store.count_batches()
    finally:
        store.close()


def exactly_once_problems(result: FleetResult, store_url: str) -> list[str]:
    """How the store breaks "every batch each meter of the fleet produced is stored
    exactly once, with no gaps" (empty if it does not)."""
    seqs = stored_seqs(store_url)
    problems = []
    for meter in result.meters:
        stored = seqs.get(meter.meter_id, [])
        expected = list(range(1, meter.produced + 1))
        if stored != expected:
            problems.append(f"{meter.meter_id}: stored {stored}, produced {expected}")
    return problems


async def wait_for(condition: Callable[[], bool], timeout: float, poll: float = 0.02) -> None:
    """Poll ``condition`` until it holds; AssertionError after ``timeout`` seconds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not condition():
        if loop.time() > deadline:
            raise AssertionError(f"condition not met within {timeout} s")
        await asyncio.sleep(poll)


async def wait_for_stored(store_url: str, at_least: int, timeout: float) -> int:
    """Poll the store (one connection) until it holds ``at_least`` batches; return the
    count seen then."""
    store = open_store(store_url)
    seen = 0

    def enough() -> bool:
        nonlocal seen
        seen = store.count_batches()
        return seen >= at_least

    try:
        await wait_for(enough, timeout, poll=0.01)
    finally:
        store.close()
    return seen


def raise_open_files(needed: int) -> None:
    """Raise the soft RLIMIT_NOFILE to ``needed`` (at most the hard limit) if lower."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = needed if hard == resource.RLIM_INFINITY else min(needed, hard)
    if soft != resource.RLIM_INFINITY and soft < wanted:
        resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))


# --- ``meterseal serve`` as a subprocess ------------------------------------------------


@dataclass
class ServeProcess:
    """A ``meterseal serve`` subprocess and what it printed."""

    process: asyncio.subprocess.Process
    port: int
    banner: list[str]

    @classmethod
    async def start(cls, data_dir: Path, port: int = 0, *flags: str) -> ServeProcess:
        """Start serve on ``data_dir`` and wait until it says it is ready."""
        log = (data_dir / "serve.log").open("ab")
        try:
            process = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "meterseal.cli.main", "serve",
                "--data-dir", str(data_dir), "--port", str(port), *flags,
                stdout=asyncio.subprocess.PIPE, stderr=log,
            )  # fmt: skip
        finally:
            log.close()
        try:
            banner = await _banner(process)
        except BaseException:
            with contextlib.suppress(ProcessLookupError):
                process.kill()
            await process.wait()
            raise
        listening = next(line for line in banner if line.startswith("listening on "))
        return cls(process, int(listening.rsplit(":", 1)[1]), banner)

    def kill(self) -> None:
        """SIGKILL: no drain, no CLOSE records, no final counters."""
        self.process.send_signal(signal.SIGKILL)

    async def stop(self, timeout: float = 30.0) -> list[str]:
        """SIGTERM, then everything it printed after the banner, until it exited."""
        self.process.send_signal(signal.SIGTERM)
        assert self.process.stdout is not None
        output = await asyncio.wait_for(self.process.stdout.read(), timeout)
        await asyncio.wait_for(self.process.wait(), timeout)
        return output.decode().splitlines()

    async def reap(self) -> None:
        """Kill (if still running) and wait, so that no process outlives the test."""
        with contextlib.suppress(ProcessLookupError):
            self.process.kill()
        await self.process.wait()


async def _banner(process: asyncio.subprocess.Process, timeout: float = 60.0) -> list[str]:
    assert process.stdout is not None
    lines: list[str] = []
    while not lines or not lines[-1].startswith("ready"):
        raw = await asyncio.wait_for(process.stdout.readline(), timeout)
        if not raw:
            raise AssertionError(f"serve exited before it was ready: {lines}")
        lines.append(raw.decode().rstrip("\n"))
    return lines
