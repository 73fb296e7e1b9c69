"""Helpers for the meter client's TCP tests: a loopback head-end, meters, quick settings.

The head-end here is :mod:`meterseal.meter.testing` over
:mod:`meterseal.meter.testing_server` on 127.0.0.1 (built from the protocol core, not from
``meterseal.headend``).
"""

from __future__ import annotations

import asyncio
import hashlib
import random
from collections.abc import Callable
from typing import Final

from meterseal.crypto.suites import SUITE_2, CipherSuite
from meterseal.edhoc import Method
from meterseal.messages import AckStatus, MeterType
from meterseal.meter.buffer import BatchBuffer
from meterseal.meter.client import Backoff, ClientConfig, MeterClient, MeterClock, Sleep
from meterseal.meter.metering import build_batch
from meterseal.meter.provisioning import (
    HeadendIdentities,
    ProvisionedMeter,
    make_headend_identities,
    make_meter,
    register,
)
from meterseal.meter.testing import DictRegistry, LoopbackHeadend, Registry

START: Final = 1_735_689_600
QUICK: Final = Backoff(base=0.02, cap=0.1)


class DetRng:
    """A deterministic rng: SHAKE-256 of a seed and a counter."""

    def __init__(self, seed: bytes) -> None:
        self._seed = seed
        self._count = 0

    def __call__(self, n: int) -> bytes:
        self._count += 1
        return hashlib.shake_256(self._seed + self._count.to_bytes(8, "big")).digest(n)


IDENTITIES: Final = make_headend_identities(DetRng(b"tcp head-end"))


def jitter(seed: int = 1) -> random.Random:
    """A seeded jitter source."""
    return random.Random(seed)  # noqa: S311 - reconnect jitter, not a secret


def loopback(registry: Registry | None = None) -> tuple[LoopbackHeadend, DictRegistry]:
    """A loopback head-end over a fresh registry (or ``registry``)."""
    fresh = DictRegistry()
    headend = LoopbackHeadend(IDENTITIES, registry or fresh, rng=DetRng(b"responder"))
    return headend, fresh


def meter_for(
    identities: HeadendIdentities = IDENTITIES,
    suite: CipherSuite = SUITE_2,
    meter_id: str = "ELEC-000001",
    seed: bytes = b"meter",
) -> ProvisionedMeter:
    """A provisioned electricity meter (method 3)."""
    trust = identities.trust_for(suite)
    return make_meter(
        meter_id,
        MeterType.ELECTRICITY,
        suite,
        Method.STATIC_STATIC,
        trust,
        rng=DetRng(seed),
        model_seed=3,
    )


def registered_meter(
    registry: DictRegistry, meter_id: str = "ELEC-000001", suite: CipherSuite = SUITE_2
) -> ProvisionedMeter:
    """A meter, registered."""
    meter = meter_for(IDENTITIES, suite, meter_id)
    register(registry, meter, registered_at=START)
    return meter


def signed_day(meter: ProvisionedMeter, day: int) -> tuple[int, bytes]:
    """(batch_seq, signed batch) of one day of the meter's readings."""
    batch = build_batch(meter.model, START + day * 86_400)
    return batch.batch_seq, meter.seal(batch)


def fill(buffer: BatchBuffer, meter: ProvisionedMeter, days: int, first_day: int = 0) -> list[int]:
    """Buffer ``days`` daily batches; return their sequence numbers."""
    seqs = []
    for day in range(first_day, first_day + days):
        seq, signed = signed_day(meter, day)
        buffer.put(meter.meter_id, seq, signed)
        seqs.append(seq)
    return seqs


def client_for(
    meter: ProvisionedMeter,
    buffer: BatchBuffer,
    port: int,
    *,
    clock: Callable[[], float] = lambda: float(START),
    window: int = 8,
    max_attempts: int | None = 20,
    sleep: Sleep = asyncio.sleep,
) -> MeterClient:
    """A client with quick backoff and short timeouts."""
    client_config = ClientConfig(
        "127.0.0.1",
        port,
        window=window,
        backoff=QUICK,
        ack_timeout=5.0,
        drain_timeout=2.0,
        max_attempts=max_attempts,
    )
    return MeterClient(
        meter.session_config(),
        buffer,
        client_config,
        rng=DetRng(b"client"),
        jitter=jitter(),
        clock=MeterClock(clock),
        sleep=sleep,
    )


def acked_once(statuses: list[tuple[int, AckStatus]], seqs: list[int]) -> bool:
    """True if the head-end sent exactly one positive ack (ACCEPTED or DUPLICATE) per batch."""
    positive = (AckStatus.ACCEPTED, AckStatus.DUPLICATE)
    return sorted(seq for seq, status in statuses if status in positive) == sorted(seqs)


def accepted_at_most_once(statuses: list[tuple[int, AckStatus]]) -> bool:
    """True if no batch was ACCEPTED twice (the head-end deduplicated every resend)."""
    accepted = [seq for seq, status in statuses if status is AckStatus.ACCEPTED]
    return len(accepted) == len(set(accepted))
