"""Revocation reaches every worker: with workers=2 over real TCP, a meter revoked by the
security server (another process, through the store) is refused by both workers, and its
open sessions on both are closed, within the poll bound."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from security_support import NOW, SecurityBackend, ca_on, enrol, headend, provisioned, sim

from meterseal.errors import MeterSealError
from meterseal.headend.stats import HeadendStats
from meterseal.headend.testing import LinkClosedError, MeterLink, async_test
from meterseal.headend.workers import WorkerPool
from meterseal.hsm.kek import TEST_SCRYPT, kek_from_passphrase
from meterseal.hsm.software import SoftwareKeystore
from meterseal.ledger.leaves import RevocationReason
from meterseal.meter.provisioning import ProvisionedMeter
from meterseal.pki.ca import CertificateAuthority
from meterseal.pki.revocation import revoke_meter

pytest_plugins = ["security_fixtures"]
pytestmark = [pytest.mark.timeout(120), pytest.mark.slow]

BOUND = 5.0
"""Seconds within which every worker must act on a revocation: the 1 s poll, with slack
for a loaded machine."""


async def link_on_every_worker(pool: WorkerPool, meter: ProvisionedMeter) -> list[MeterLink]:
    """Connect ``meter`` until each worker holds one of its sessions (SO_REUSEPORT spreads
    connections by their source port); return every link made."""
    links: list[MeterLink] = []
    for _ in range(40):
        links.append(await MeterLink.connect(pool.port, sim(meter)))
        if all(stats.connections > 0 for stats in pool.worker_stats()):
            return links
    raise AssertionError("the connections never reached both workers")


async def ended(link: MeterLink, seconds: float) -> bool:
    """Whether the link's session is (or comes to be) ended by the head-end in time."""
    try:
        await link.receive(timeout=seconds)
    except (LinkClosedError, ConnectionError):
        return True
    except TimeoutError:
        return False
    return False


async def refused_by_both(pool: WorkerPool, meter: ProvisionedMeter) -> list[bool]:
    """Handshake attempts until each worker has refused one since now; whether each
    attempt was admitted."""
    before = [stats.handshakes_failed for stats in pool.worker_stats()]
    outcomes: list[bool] = []
    for _ in range(40):
        try:
            link = await MeterLink.connect(pool.port, sim(meter))
        except (MeterSealError, ConnectionError):  # refused: an EDHOC error, or closed
            outcomes.append(False)
        else:
            outcomes.append(True)
            await link.close()
        after = [stats.handshakes_failed for stats in pool.worker_stats()]
        if all(a > b for a, b in zip(after, before, strict=True)):
            return outcomes
    raise AssertionError(f"not refused by both workers: {outcomes}")


def _closed_as_inactive(stats: list[HeadendStats]) -> list[int]:
    return [s.connections_closed_by["inactive_meter"] for s in stats]


@async_test
async def test_a_revoked_meter_is_refused_by_every_worker(
    security_backend: SecurityBackend, tmp_path: Path
) -> None:
    store = security_backend.open()
    kek = kek_from_passphrase("workers", TEST_SCRYPT)
    with SoftwareKeystore(tmp_path / "ca.keys", kek, create=True) as machine:
        ca: CertificateAuthority = ca_on(machine)
        meter, other = provisioned("WRK-1"), provisioned("WRK-2")
        enrol(meter, ca, store)
        enrol(other, ca, store)
        async with headend(security_backend, workers=2) as pool:
            assert isinstance(pool, WorkerPool)
            links = await link_on_every_worker(pool, meter)
            bystander = await MeterLink.connect(pool.port, sim(other))
            revoke_meter(
                "WRK-1", ca=ca, store=store, now=NOW + 10, reason=RevocationReason.DECOMMISSIONED
            )
            closed = await asyncio.gather(*(ended(link, BOUND) for link in links))
            outcomes = await refused_by_both(pool, meter)
            still_served = not await ended(bystander, 0.2)
            by_reason = _closed_as_inactive(pool.worker_stats())
            await bystander.close()
    store.close()
    assert all(closed)  # every session of the meter, on both workers, was closed
    assert outcomes == [False] * len(outcomes)  # no worker admitted it again
    assert all(count > 0 for count in by_reason)  # each worker closed one as inactive
    assert still_served  # the other meter's session is untouched
