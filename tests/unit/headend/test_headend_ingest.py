"""Batch verification, the rows a batch becomes, and the micro-batching pipeline."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Sequence
from pathlib import Path
from typing import cast

import pytest
from headend_unit_support import T0, SimMeter, electricity_batch, make_meter, volume_batch

from meterseal.crypto.cose import sign1
from meterseal.crypto.suites import SUITE_GMT, CipherSuite
from meterseal.headend import BatchRejectedError, IngestPipeline, batch_item, verify_batch
from meterseal.headend.ingest import Stored, interval_columns
from meterseal.headend.registry import RegisteredMeter, admit
from meterseal.headend.runner import StoreRunner
from meterseal.headend.testing import async_test
from meterseal.messages import BatchRejectReason, ElectricityReadings, MeterType, encode_batch
from meterseal.messages.sealing import BATCH_AAD
from meterseal.store import (
    BatchItem,
    InvalidRowError,
    Register,
    SqliteStore,
    Store,
    StoreOutcome,
    StoreUnavailable,
)


def registered(meter: SimMeter) -> RegisteredMeter:
    """The registry's view of a meter registered as ``meter.record()``."""
    verdict = admit(meter.record(), meter.meter_id)
    assert isinstance(verdict, RegisteredMeter)
    return verdict


def rejection(signed: bytes, meter: RegisteredMeter) -> BatchRejectedError:
    with pytest.raises(BatchRejectedError) as caught:
        verify_batch(signed, meter)
    return caught.value


# --- verification ------------------------------------------------------------------------


@pytest.mark.parametrize("suite", [None, SUITE_GMT], ids=["P-256", "SM2"])
def test_a_batch_signed_with_the_registered_key_verifies(suite: CipherSuite | None) -> None:
    meter = make_meter("ELEC-1") if suite is None else make_meter("ELEC-1", suite=suite)
    batch = electricity_batch("ELEC-1", 4)
    assert verify_batch(meter.signed(batch), registered(meter)) == batch


def test_a_batch_signed_with_another_key_is_a_bad_signature() -> None:
    meter, forger = make_meter("ELEC-1"), make_meter("ELEC-1")
    error = rejection(forger.signed_batch(4), registered(meter))
    assert (error.reason, error.batch_seq) == (BatchRejectReason.BAD_SIGNATURE, 4)


def test_a_batch_of_another_meter_is_the_wrong_meter() -> None:
    meter, other = make_meter("ELEC-1"), make_meter("ELEC-2")
    error = rejection(other.signed_batch(9), registered(meter))
    assert (error.reason, error.batch_seq) == (BatchRejectReason.WRONG_METER, 9)


def test_a_batch_naming_the_meter_but_signed_under_another_kid_is_the_wrong_meter() -> None:
    meter = make_meter("ELEC-1")
    payload = encode_batch(electricity_batch("ELEC-1", 2))
    signed = sign1(
        meter.data_key, meter.suite.signature, payload, kid=b"ELEC-9", external_aad=BATCH_AAD
    )
    assert rejection(signed, registered(meter)).reason is BatchRejectReason.WRONG_METER


def test_bytes_that_are_no_batch_are_malformed_without_a_sequence_number() -> None:
    error = rejection(b"\xd2\x84\x40\xa0\x40\x40", registered(make_meter("ELEC-1")))
    assert (error.reason, error.batch_seq) == (BatchRejectReason.MALFORMED, None)


def test_a_water_batch_from_an_electricity_meter_is_malformed() -> None:
    meter = make_meter("ELEC-1")
    error = rejection(meter.signed(volume_batch("ELEC-1", 1)), registered(meter))
    assert error.reason is BatchRejectReason.MALFORMED


def test_a_flipped_payload_byte_is_a_bad_signature() -> None:
    meter = make_meter("ELEC-1")
    signed = bytearray(meter.signed_batch(1))
    signed[-80] ^= 0x01  # inside the signature
    assert rejection(bytes(signed), registered(meter)).reason is BatchRejectReason.BAD_SIGNATURE


# --- rows ----------------------------------------------------------------------------------


def test_electricity_readings_become_five_registers_at_each_interval_end() -> None:
    batch = electricity_batch("ELEC-1", 0, count=2)
    rows = list(interval_columns(batch))
    assert [(r.at, r.register) for r in rows[:5]] == [
        (T0 + 900, Register.ENERGY_IMPORT_WH),
        (T0 + 900, Register.ENERGY_EXPORT_WH),
        (T0 + 900, Register.VOLTAGE_DV),
        (T0 + 900, Register.CURRENT_MA),
        (T0 + 900, Register.POWER_W),
    ]
    readings = batch.readings
    assert [r.value for r in rows[5:]] == [column[1] for column in _columns(readings)]
    assert {(r.meter_id, r.batch_seq) for r in rows} == {("ELEC-1", 0)}


def _columns(readings: object) -> list[tuple[int, ...]]:
    names = ("energy_import_wh", "energy_export_wh", "voltage_dv", "current_ma", "power_w")
    return [getattr(readings, name) for name in names]


def test_volume_is_stored_in_decilitres_at_the_end_of_each_frozen_interval() -> None:
    rows = list(interval_columns(volume_batch("W-1", 0, MeterType.GAS)))
    assert [(r.at, r.register, r.value) for r in rows] == [
        (T0 + 900, Register.VOLUME_DL, 123_451),
        (T0 + 1800, Register.VOLUME_DL, 123_457),
        (T0 + 3600, Register.VOLUME_DL, 123_470),  # interval 2 was not frozen
    ]


def test_the_store_gets_the_decoded_columns_themselves_and_a_range_of_interval_ends() -> None:
    batch = electricity_batch("ELEC-1", 0, count=3)
    columns = interval_columns(batch)
    readings = batch.readings
    assert isinstance(readings, ElectricityReadings)
    assert columns.energy_import_wh is readings.energy_import_wh
    assert columns.power_w is readings.power_w
    assert (columns.volume_dl, columns.ends) == (None, range(T0 + 900, T0 + 3600, 900))


def test_the_batch_row_keeps_the_signed_bytes_and_their_sha256() -> None:
    meter = make_meter("ELEC-1")
    batch = electricity_batch("ELEC-1", 5)
    signed = meter.signed(batch)
    row, rows = batch_item(batch, signed, received_at=T0 + 99)
    assert row.signed_batch == signed
    assert row.batch_hash == hashlib.sha256(signed).digest()
    assert (row.batch_seq, row.received_at, row.reading_count) == (5, T0 + 99, len(rows))
    assert len(rows) == 96 * 5


# --- the pipeline --------------------------------------------------------------------------


class FakeStore:
    """Records every store_batches call; fails the way a test asks."""

    def __init__(self) -> None:
        self.calls: list[list[int]] = []
        self.unavailable = False
        self.poison: int | None = None  # batch_seq that the store refuses

    def store_batches(self, items: Sequence[BatchItem]) -> list[StoreOutcome]:
        seqs = [batch.batch_seq for batch, _ in items]
        self.calls.append(seqs)
        if self.unavailable:
            raise StoreUnavailable("database is gone")
        if self.poison in seqs:
            raise InvalidRowError("refused")
        return [StoreOutcome.STORED] * len(items)

    def close(self) -> None:
        pass


async def pipeline_with(store: FakeStore, *, max_items: int = 100) -> IngestPipeline:
    runner = StoreRunner(lambda: cast(Store, store), "test")
    await runner.start()
    return IngestPipeline(runner, max_items=max_items, max_delay=0.01)


def submit_all(pipeline: IngestPipeline, seqs: range) -> list[asyncio.Future[Stored]]:
    return [pipeline.submit(electricity_batch("E", seq, 2), b"\xd2", T0) for seq in seqs]


@async_test
async def test_batches_submitted_together_share_one_transaction() -> None:
    store = FakeStore()
    pipeline = await pipeline_with(store)
    results = await asyncio.gather(*submit_all(pipeline, range(10)))
    assert store.calls == [list(range(10))]
    assert {r.outcome for r in results} == {StoreOutcome.STORED}
    assert (results[0].readings, results[0].intervals) == (10, 2)


@async_test
async def test_a_transaction_carries_at_most_max_items() -> None:
    store = FakeStore()
    pipeline = await pipeline_with(store, max_items=4)
    await asyncio.gather(*submit_all(pipeline, range(10)))
    assert [len(call) for call in store.calls] == [4, 4, 2]


@async_test
async def test_an_unavailable_store_fails_every_batch_of_the_call() -> None:
    store = FakeStore()
    store.unavailable = True
    pipeline = await pipeline_with(store)
    results = await asyncio.gather(*submit_all(pipeline, range(3)), return_exceptions=True)
    assert all(isinstance(result, StoreUnavailable) for result in results)


@async_test
async def test_a_batch_the_store_refuses_does_not_hold_up_the_others() -> None:
    store = FakeStore()
    store.poison = 1
    pipeline = await pipeline_with(store)
    results = await asyncio.gather(*submit_all(pipeline, range(3)), return_exceptions=True)
    assert isinstance(results[1], InvalidRowError)
    assert isinstance(results[0], Stored)
    assert isinstance(results[2], Stored)
    assert store.calls == [[0, 1, 2], [0], [1], [2]]


@async_test
async def test_drain_stores_what_is_waiting() -> None:
    store = FakeStore()
    pipeline = await pipeline_with(store)
    futures = submit_all(pipeline, range(2))
    await pipeline.drain()
    assert all(future.done() for future in futures)
    assert pipeline.waiting == 0


@async_test
async def test_stored_batches_are_in_sqlite_when_the_future_resolves(tmp_path: Path) -> None:
    meter = make_meter("ELEC-1")
    path = tmp_path / "store.db"

    def open_sqlite() -> Store:
        store = SqliteStore(path)
        store.migrate()
        return store

    setup = open_sqlite()
    setup.add_meter(meter.record())
    runner = StoreRunner(open_sqlite, "test")
    await runner.start()
    pipeline = IngestPipeline(runner, max_items=10, max_delay=0.01)
    batch = electricity_batch("ELEC-1", 1)
    stored = await pipeline.submit(batch, meter.signed(batch), T0)
    assert stored == Stored(StoreOutcome.STORED, 480, 96)
    assert (setup.count_intervals(), setup.count_readings()) == (96, 480)
    again = await pipeline.submit(batch, meter.signed(batch), T0)  # ECDSA: other bytes
    assert again.outcome is StoreOutcome.CONFLICT
    await runner.close()
    setup.close()
