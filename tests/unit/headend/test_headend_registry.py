"""The meter registry: verdicts from the store, the cache, and revocation."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
from headend_unit_support import make_meter

from meterseal.headend import CloseReason, MeterRegistry, Refusal, RegisteredMeter
from meterseal.headend.runner import StoreRunner
from meterseal.headend.testing import async_test
from meterseal.store import MeterRecord, SqliteStore, Store


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


class CountingStore(SqliteStore):
    """A SQLite store that counts registry reads."""

    reads = 0

    def get_meter(self, meter_id: str) -> MeterRecord | None:
        CountingStore.reads += 1
        return super().get_meter(meter_id)


@pytest.fixture
def path(tmp_path: Path) -> Path:
    CountingStore.reads = 0
    return tmp_path / "store.db"


def open_store(path: Path) -> Store:
    store = CountingStore(path)
    store.migrate()
    return store


async def registry_on(path: Path, clock: Clock | None = None, size: int = 10) -> MeterRegistry:
    reader = StoreRunner(lambda: open_store(path), "reader")
    writer = StoreRunner(lambda: open_store(path), "writer")
    await reader.start()
    await writer.start()
    return MeterRegistry(reader, writer, size=size, ttl=30.0, clock=clock or Clock())


def register(path: Path, *records: MeterRecord) -> None:
    store = open_store(path)
    for record in records:
        store.add_meter(record)
    store.close()


@async_test
async def test_a_registered_meter_is_admitted_with_its_parsed_credential(path: Path) -> None:
    meter = make_meter("ELEC-1")
    register(path, meter.record())
    verdict = await (await registry_on(path)).lookup("ELEC-1")
    assert isinstance(verdict, RegisteredMeter)
    assert verdict.credential == meter.identity.credential
    assert verdict.suite.value == 2


@async_test
async def test_an_unknown_meter_is_refused_as_unknown(path: Path) -> None:
    open_store(path).close()
    verdict = await (await registry_on(path)).lookup("GHOST")
    assert verdict == Refusal(CloseReason.UNKNOWN_METER, "meter GHOST is not registered")


@async_test
async def test_a_revoked_meter_is_refused_as_inactive(path: Path) -> None:
    register(path, make_meter("OLD-1").record(state="revoked"))
    verdict = await (await registry_on(path)).lookup("OLD-1")
    assert isinstance(verdict, Refusal)
    assert verdict.reason is CloseReason.INACTIVE_METER


@async_test
async def test_an_unusable_stored_credential_is_refused_as_inactive(path: Path) -> None:
    record = dataclasses.replace(make_meter("BAD-1").record(), identity_credential=b"\xa0")
    register(path, record)
    verdict = await (await registry_on(path)).lookup("BAD-1")
    assert isinstance(verdict, Refusal)
    assert verdict.reason is CloseReason.INACTIVE_METER
    assert "unusable registration" in verdict.detail


@async_test
async def test_a_second_lookup_comes_from_the_cache(path: Path) -> None:
    register(path, make_meter("ELEC-1").record())
    registry = await registry_on(path)
    await registry.lookup("ELEC-1")
    await registry.lookup("ELEC-1")
    assert CountingStore.reads == 1


@async_test
async def test_cached_entries_expire_after_the_ttl(path: Path) -> None:
    register(path, make_meter("ELEC-1").record())
    clock = Clock()
    registry = await registry_on(path, clock)
    await registry.lookup("ELEC-1")
    clock.now += 31
    await registry.lookup("ELEC-1")
    assert CountingStore.reads == 2


@async_test
async def test_unknown_meters_are_not_cached(path: Path) -> None:
    open_store(path).close()
    registry = await registry_on(path)
    assert isinstance(await registry.lookup("NEW-1"), Refusal)
    register(path, make_meter("NEW-1").record())
    assert isinstance(await registry.lookup("NEW-1"), RegisteredMeter)


@async_test
async def test_revoke_writes_the_state_and_invalidates_the_cache(path: Path) -> None:
    register(path, make_meter("ELEC-1").record())
    registry = await registry_on(path)
    assert isinstance(await registry.lookup("ELEC-1"), RegisteredMeter)
    await registry.revoke("ELEC-1")
    verdict = await registry.lookup("ELEC-1")
    assert isinstance(verdict, Refusal)
    assert verdict.reason is CloseReason.INACTIVE_METER


@async_test
async def test_the_cache_keeps_at_most_size_entries(path: Path) -> None:
    register(path, *(make_meter(f"M-{i}").record() for i in range(3)))
    registry = await registry_on(path, size=2)
    for meter_id in ("M-0", "M-1", "M-2", "M-0"):
        await registry.lookup(meter_id)
    assert CountingStore.reads == 4  # M-0 was evicted by M-2
