"""store_batches: outcomes, one transaction per call, evidence kept byte for byte."""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Callable

import pytest
from store_support import batch, meter, with_readings

from meterseal.store import (
    BatchItem,
    IntervalColumns,
    InvalidRowError,
    ReadingRow,
    Register,
    Store,
    StoreOutcome,
    UnknownMeterError,
)

STORED, DUPLICATE, CONFLICT = StoreOutcome.STORED, StoreOutcome.DUPLICATE, StoreOutcome.CONFLICT


@pytest.fixture
def two_meters(store: Store) -> Store:
    store.add_meter(meter("M1"))
    store.add_meter(meter("M2"))
    return store


def test_stores_batches_and_their_readings(two_meters: Store) -> None:
    items = [batch("M1", 1), batch("M1", 2, start=batch("M1", 1)[1][-1].at), batch("M2", 7)]
    assert two_meters.store_batches(items) == [STORED, STORED, STORED]
    assert two_meters.count_batches() == 3
    assert two_meters.count_readings() == 12
    assert two_meters.readings("M2", 0, 2**40) == items[2][1]


def test_signed_batch_comes_back_byte_for_byte(two_meters: Store) -> None:
    item = batch("M1", 1)
    two_meters.store_batches([item])
    [stored] = list(two_meters.iter_batches())
    assert stored == item[0]
    assert stored.signed_batch == item[0].signed_batch
    assert stored.signed_batch[:1] == b"\x00"
    assert stored.signed_batch[-2:] == b"\x00\x00"


def test_same_batch_again_is_duplicate_and_adds_no_readings(two_meters: Store) -> None:
    assert two_meters.store_batches([batch("M1", 1)]) == [STORED]
    assert two_meters.store_batches([batch("M1", 1), batch("M1", 2)]) == [DUPLICATE, STORED]
    assert two_meters.count_batches() == 2
    assert two_meters.count_readings() == 8


def test_same_sequence_with_another_hash_is_conflict_and_keeps_the_first(
    two_meters: Store,
) -> None:
    original = batch("M1", 1)
    forged = batch("M1", 1, values=(1, 2, 3, 4), variant=b"forged")
    two_meters.store_batches([original])
    assert two_meters.store_batches([forged]) == [CONFLICT]
    assert list(two_meters.iter_batches()) == [original[0]]
    assert two_meters.readings("M1", 0, 2**40) == original[1]


def test_a_key_offered_twice_in_one_call(two_meters: Store) -> None:
    same, other = batch("M1", 1), batch("M1", 2, variant=b"x")
    assert two_meters.store_batches([same, same, other, batch("M1", 2)]) == [
        STORED,
        DUPLICATE,
        STORED,
        CONFLICT,
    ]
    assert two_meters.count_readings() == 8


def _duplicate_reading(item: BatchItem) -> BatchItem:
    """A malformed batch: its first reading twice (violates the readings primary key)."""
    return with_readings(item, [item[1][0], *item[1]])


def _short_hash(item: BatchItem) -> BatchItem:
    """A batch whose hash is 31 bytes (violates a CHECK constraint)."""
    return dataclasses.replace(item[0], batch_hash=item[0].batch_hash[:31]), item[1]


@pytest.mark.parametrize("spoil", [_duplicate_reading, _short_hash])
def test_a_row_failing_in_sql_rolls_back_the_whole_call(
    two_meters: Store, spoil: Callable[[BatchItem], BatchItem]
) -> None:
    two_meters.store_batches([batch("M1", 1)])
    before = (two_meters.count_batches(), two_meters.count_readings(), two_meters.latest_state())
    call = [batch("M2", 1), spoil(batch("M1", 2)), batch("M2", 2, values=(500,))]
    with pytest.raises(InvalidRowError):
        two_meters.store_batches(call)
    after = (two_meters.count_batches(), two_meters.count_readings(), two_meters.latest_state())
    assert after == before
    assert two_meters.last_batch_seq("M2") is None
    assert two_meters.store_batches([call[0], call[2]]) == [STORED, STORED]


def test_a_batch_of_an_unknown_meter_rolls_back_the_call(two_meters: Store) -> None:
    with pytest.raises(UnknownMeterError):
        two_meters.store_batches([batch("M1", 1), batch("ghost", 1)])
    assert two_meters.count_batches() == 0


def test_reading_count_must_match_the_readings(two_meters: Store) -> None:
    row, readings = batch("M1", 1)
    with pytest.raises(InvalidRowError, match="says 4 readings"):
        two_meters.store_batches([(row, readings[:3])])
    assert two_meters.count_readings() == 0


def test_readings_of_another_batch_are_refused(two_meters: Store) -> None:
    row, readings = batch("M1", 1)
    stray = [*readings[:3], ReadingRow("M2", 1, readings[3].at, readings[3].register, 1)]
    with pytest.raises(InvalidRowError, match="another batch"):
        two_meters.store_batches([(row, stray)])
    assert two_meters.count_batches() == 0


def test_an_empty_call_stores_nothing(two_meters: Store) -> None:
    assert two_meters.store_batches([]) == []
    assert two_meters.count_batches() == 0


def test_last_batch_seq(two_meters: Store) -> None:
    assert two_meters.last_batch_seq("M1") is None
    two_meters.store_batches([batch("M1", 5), batch("M1", 3), batch("M2", 9)])
    assert two_meters.last_batch_seq("M1") == 5
    assert two_meters.last_batch_seq("unknown") is None


def test_concurrent_callers_from_threads_all_get_stored(two_meters: Store) -> None:
    errors: list[BaseException] = []

    def ingest(meter_id: str) -> None:
        try:
            for seq in range(20):
                two_meters.store_batches([batch(meter_id, seq)])
        except BaseException as exc:  # noqa: BLE001 - reported to the test thread below
            errors.append(exc)

    threads = [threading.Thread(target=ingest, args=(m,)) for m in ("M1", "M2")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert two_meters.count_batches() == 40


def test_a_register_missing_at_some_interval_ends_comes_back_as_offered(
    two_meters: Store,
) -> None:
    row, energy = batch("M1", 1, (100, 110, 120))
    voltage = [ReadingRow("M1", 1, energy[1].at, Register.VOLTAGE_DV, 2310)]
    item = with_readings((row, energy), [*energy, *voltage])
    assert two_meters.store_batches([item]) == [STORED]
    assert two_meters.readings("M1", 0, 2**40) == [*energy[:2], *voltage, energy[2]]
    assert (two_meters.count_intervals(), two_meters.count_readings()) == (3, 4)


def test_a_value_the_database_cannot_hold_rolls_back_the_call(two_meters: Store) -> None:
    with pytest.raises(InvalidRowError):
        two_meters.store_batches([batch("M2", 1), batch("M1", 1, (1, 2**63))])
    assert (two_meters.count_batches(), two_meters.count_intervals()) == (0, 0)


def test_columns_offered_by_ingest_are_stored_as_their_register_values(
    two_meters: Store,
) -> None:
    columns = IntervalColumns(
        "M1", 1, range(900, 2700, 900), energy_import_wh=(5, 6), power_w=(-40, 12)
    )
    row = dataclasses.replace(batch("M1", 1)[0], reading_count=len(columns))
    assert two_meters.store_batches([(row, columns)]) == [STORED]
    assert two_meters.readings("M1", 0, 2**40) == list(columns)
    [latest] = [m for m in two_meters.latest_state() if m.meter_id == "M1"]
    assert latest.registers == ((Register.ENERGY_IMPORT_WH, 6), (Register.POWER_W, 12))
