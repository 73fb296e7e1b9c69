"""Batches over TCP: stored exactly once, acked only when durable, refused when forged."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Sequence
from functools import partial
from typing import cast

import pytest
from headend_support import Backend, running

from meterseal.crypto.suites import SUITE_GMT
from meterseal.headend.testing import (
    async_test,
    electricity_batch,
    make_meter,
    sample_keys,
    volume_batch,
)
from meterseal.messages import (
    AckStatus,
    BatchAck,
    BatchRejectReason,
    MeterType,
    Ping,
    Pong,
    SignedBatch,
)
from meterseal.store import BatchItem, Register, Store, StoreOutcome, StoreUnavailable

pytest_plugins = ["headend_fixtures"]  # the backend and sqlite fixtures
pytestmark = pytest.mark.timeout(30)


def ack(
    meter_id: str, seq: int, status: AckStatus, reason: BatchRejectReason | None = None
) -> BatchAck:
    return BatchAck(meter_id, seq, status, reason or BatchRejectReason.NONE)


@async_test
async def test_an_uploaded_batch_is_stored_exactly_once_and_acked(backend: Backend) -> None:
    meter = make_meter("ELEC-1")
    signed = meter.signed_batch(7)
    async with running(backend) as harness:
        harness.register(meter)
        link = await harness.connect(meter)
        assert await link.upload(signed) == ack("ELEC-1", 7, AckStatus.ACCEPTED)
        [stored] = list(harness.store.iter_batches())
        readings = harness.store.count_readings()
        stats = harness.handle.stats()
    assert stored.signed_batch == signed
    assert stored.batch_hash == hashlib.sha256(signed).digest()
    assert readings == 96 * 5
    assert (stats.batches_accepted, stats.readings_stored, stats.intervals_stored) == (1, 480, 96)


@async_test
async def test_a_batch_resent_after_its_ack_is_a_duplicate_stored_once(backend: Backend) -> None:
    meter = make_meter("ELEC-1")
    signed = meter.signed_batch(1)
    async with running(backend) as harness:
        harness.register(meter)
        link = await harness.connect(meter)
        await link.upload(signed)
        await link.close()
        again = await harness.connect(meter)
        assert await again.upload(signed) == ack("ELEC-1", 1, AckStatus.DUPLICATE)
        assert harness.store.count_batches() == 1
        assert harness.handle.stats().batches_duplicate == 1


@async_test
async def test_a_gmt_meter_uploads_an_sm2_signed_batch(sqlite: Backend) -> None:
    meter = make_meter("GMT-1", suite=SUITE_GMT)
    async with running(sqlite, keys=partial(sample_keys, (2, -24))) as harness:
        harness.register(meter)
        link = await harness.connect(meter)
        assert await link.upload(meter.signed_batch(1)) == ack("GMT-1", 1, AckStatus.ACCEPTED)
        assert harness.store.count_readings() == 480


@async_test
async def test_volume_readings_arrive_in_decilitres(sqlite: Backend) -> None:
    meter = make_meter("WATER-1", meter_type="water")
    async with running(sqlite) as harness:
        harness.register(meter)
        link = await harness.connect(meter)
        await link.upload(meter.signed(volume_batch("WATER-1", 0, MeterType.WATER)))
        rows = harness.store.readings("WATER-1", 0, 2**40)
    assert [(row.register, row.value) for row in rows] == [
        (Register.VOLUME_DL, 123_451),
        (Register.VOLUME_DL, 123_457),
        (Register.VOLUME_DL, 123_470),
    ]


@async_test
async def test_a_forged_batch_is_rejected_and_the_session_goes_on(sqlite: Backend) -> None:
    meter, forger, neighbour = make_meter("ELEC-1"), make_meter("ELEC-1"), make_meter("ELEC-2")
    async with running(sqlite) as harness:
        harness.register(meter, neighbour)
        link = await harness.connect(meter)
        other = await harness.connect(neighbour)
        forged = await link.upload(forger.signed_batch(3))
        assert forged == ack("ELEC-1", 3, AckStatus.REJECTED, BatchRejectReason.BAD_SIGNATURE)
        assert (await link.upload(meter.signed_batch(4))).status is AckStatus.ACCEPTED
        assert (await other.upload(neighbour.signed_batch(3))).status is AckStatus.ACCEPTED
        stats = harness.handle.stats()
        assert [b.batch_seq for b in harness.store.iter_batches()] == [4, 3]
    assert stats.batches_rejected_by == {"bad_signature": 1}


@async_test
async def test_a_batch_for_another_meter_is_rejected(sqlite: Backend) -> None:
    meter, other = make_meter("ELEC-1"), make_meter("ELEC-2")
    async with running(sqlite) as harness:
        harness.register(meter, other)
        link = await harness.connect(meter)
        relayed = await link.upload(other.signed_batch(1))
        assert relayed == ack("ELEC-1", 1, AckStatus.REJECTED, BatchRejectReason.WRONG_METER)
        assert harness.store.count_batches() == 0
        assert harness.handle.stats().batches_rejected_by == {"wrong_meter": 1}


@async_test
async def test_a_batch_with_a_stored_sequence_but_other_content_is_rejected(
    sqlite: Backend,
) -> None:
    meter = make_meter("ELEC-1")
    async with running(sqlite) as harness:
        harness.register(meter)
        link = await harness.connect(meter)
        await link.upload(meter.signed_batch(5))
        other = meter.signed(electricity_batch("ELEC-1", 5, count=4))
        assert (await link.upload(other)).status is AckStatus.REJECTED
        assert harness.handle.stats().batches_rejected_by == {"conflict": 1}


@async_test
async def test_an_older_batch_not_yet_stored_is_accepted(sqlite: Backend) -> None:
    meter = make_meter("ELEC-1")
    async with running(sqlite) as harness:
        harness.register(meter)
        link = await harness.connect(meter)
        await link.upload(meter.signed_batch(9))
        assert (await link.upload(meter.signed_batch(8))).status is AckStatus.ACCEPTED
        assert harness.store.last_batch_seq("ELEC-1") == 9


@async_test
async def test_pipelined_batches_are_all_acked(sqlite: Backend) -> None:
    meter = make_meter("ELEC-1")
    async with running(sqlite, max_inflight_batches=4) as harness:
        harness.register(meter)
        link = await harness.connect(meter)
        for seq in range(20):
            link.send_nowait(SignedBatch(meter.signed_batch(seq, count=8)))
        await link.wire.writer.drain()
        acks = [await link.next_ack() for _ in range(20)]
        assert sorted(a.batch_seq for a in acks) == list(range(20))
        assert {a.status for a in acks} == {AckStatus.ACCEPTED}
        await link.send(Ping(1))
        assert await link.receive() == Pong(1)


class FlakyStore:
    """A real store whose store_batches fails while ``down`` is set."""

    down = False

    def __init__(self, inner: Store) -> None:
        self._inner = inner

    def store_batches(self, items: Sequence[BatchItem]) -> list[StoreOutcome]:
        if FlakyStore.down:
            raise StoreUnavailable("database on fire")
        return self._inner.store_batches(items)

    def __getattr__(self, name: str) -> object:
        return getattr(self._inner, name)


@async_test
async def test_a_store_failure_acks_nothing_as_stored_and_the_resend_succeeds(
    sqlite: Backend,
) -> None:
    meter = make_meter("ELEC-1")
    signed = meter.signed_batch(2)
    FlakyStore.down = True

    def flaky() -> Store:
        return cast(Store, FlakyStore(sqlite.factory()))

    async with running(sqlite, factory=flaky) as harness:
        harness.register(meter)
        link = await harness.connect(meter)
        nack = await link.upload(signed)
        assert nack == ack("ELEC-1", 2, AckStatus.REJECTED, BatchRejectReason.UNAVAILABLE)
        assert harness.store.count_batches() == 0
        assert harness.handle.stats().batches_unavailable == 1
        FlakyStore.down = False
        assert (await link.upload(signed)).status is AckStatus.ACCEPTED
        assert harness.store.count_batches() == 1


@async_test
async def test_two_hundred_meters_upload_at_once(sqlite: Backend) -> None:
    meters = [make_meter(f"M-{i:03d}") for i in range(200)]
    async with running(sqlite) as harness:
        harness.register(*meters)
        links = await asyncio.gather(*(harness.connect(meter) for meter in meters))
        assert harness.handle.stats().connections == 200
        acks = await asyncio.gather(
            *(link.upload(link.meter.signed_batch(1, count=24)) for link in links)
        )
        assert {a.status for a in acks} == {AckStatus.ACCEPTED}
        assert harness.store.count_batches() == 200
        stats = harness.handle.stats()
    assert (stats.handshakes_ok, stats.batches_accepted) == (200, 200)
    assert stats.store_calls < 100  # micro-batching: many batches per transaction
