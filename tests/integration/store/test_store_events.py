"""Meter events as rows (schema version 8) on SQLite and PostgreSQL: written with their
STORED batch only, backfilled on upgrade from version 7, and queried per meter and across
the fleet."""

from __future__ import annotations

from dataclasses import replace

from store_support import T0, Backend, batch, meter

from meterseal.crypto.suites import SUITE_0
from meterseal.headend.ingest import batch_item
from meterseal.headend.testing import electricity_batch, make_meter, seeded
from meterseal.messages.batch import ReadingBatch
from meterseal.messages.events import EventKind, MeterEvent
from meterseal.store import BatchItem, Store, StoreOutcome
from meterseal.store.base import SqlStore
from meterseal.store.events import StoredEvent

COVER = MeterEvent(EventKind.COVER_OPENED, T0 + 100, 30)
MAGNET = MeterEvent(EventKind.MAGNETIC_INTERFERENCE, T0 + 200, 450)
OUTAGE = MeterEvent(EventKind.POWER_OUTAGE, T0 + 300, 60)


def _signed_item(meter_id: str, seq: int, events: tuple[MeterEvent, ...]) -> BatchItem:
    sim = make_meter(meter_id, suite=SUITE_0, rng=seeded(meter_id))
    decoded: ReadingBatch = replace(electricity_batch(meter_id, seq, 4), events=events)
    return batch_item(decoded, sim.signed(decoded), T0 + 5000)


def _register(store: Store, *meter_ids: str) -> None:
    for meter_id in meter_ids:
        sim = make_meter(meter_id, suite=SUITE_0, rng=seeded(meter_id))
        store.add_meter(sim.record())


def _sql(store: Store) -> SqlStore:
    assert isinstance(store, SqlStore)
    return store


def _as_stored(meter_id: str, seq: int, index: int, event: MeterEvent) -> StoredEvent:
    return StoredEvent(meter_id, seq, index, event.at, int(event.kind), event.detail)


def test_events_are_stored_with_their_batch_in_signed_order(store: Store) -> None:
    _register(store, "E1")
    outcomes = store.store_batches(
        [_signed_item("E1", 0, (MAGNET, COVER)), _signed_item("E1", 1, ())]
    )
    assert outcomes == [StoreOutcome.STORED, StoreOutcome.STORED]
    assert _sql(store).events("E1", T0, T0 + 1000) == [
        _as_stored("E1", 0, 1, COVER),
        _as_stored("E1", 0, 0, MAGNET),
    ]


def test_duplicate_and_conflicting_batches_write_no_event_rows(store: Store) -> None:
    _register(store, "E1")
    first = _signed_item("E1", 0, (COVER,))
    store.store_batches([first])
    other = _signed_item("E1", 0, (COVER, MAGNET))  # same key, other bytes: CONFLICT
    assert store.store_batches([first, other]) == [StoreOutcome.DUPLICATE, StoreOutcome.CONFLICT]
    assert _sql(store).events("E1", 0, 2**40) == [_as_stored("E1", 0, 0, COVER)]


def test_events_of_a_meter_are_limited_to_the_time_range(store: Store) -> None:
    _register(store, "E1", "E2")
    store.store_batches(
        [_signed_item("E1", 0, (COVER, MAGNET, OUTAGE)), _signed_item("E2", 0, (COVER,))]
    )
    assert [e.kind for e in _sql(store).events("E1", T0 + 150, T0 + 300)] == [MAGNET.kind]
    assert len(_sql(store).events("E1", T0, T0 + 1000, limit=2)) == 2
    assert _sql(store).events("nobody", 0, 2**40) == []


def test_recent_events_across_the_fleet_newest_first_by_kind(store: Store) -> None:
    _register(store, "E1", "E2")
    store.store_batches([_signed_item("E1", 0, (COVER, OUTAGE)), _signed_item("E2", 0, (MAGNET,))])
    tamper = {int(EventKind.COVER_OPENED), int(EventKind.MAGNETIC_INTERFERENCE)}
    assert _sql(store).recent_events(tamper, T0) == [
        _as_stored("E2", 0, 0, MAGNET),
        _as_stored("E1", 0, 0, COVER),
    ]
    assert _sql(store).recent_events(tamper, T0 + 150) == [_as_stored("E2", 0, 0, MAGNET)]
    assert _sql(store).recent_events(set(), 0) == []


def test_upgrade_from_version_7_backfills_events_of_stored_batches(backend: Backend) -> None:
    store = backend.open()
    try:
        store.migrate(target=7)
        _register(store, "E1", "E2")
        store.add_meter(meter("STANDIN"))
        items = [_signed_item("E1", 0, (COVER, MAGNET)), _signed_item("E2", 3, (OUTAGE,))]
        # Version 7 has no meter_events: strip the events so store_batches writes none.
        bare = [(replace(row, events=()), readings) for row, readings in items]
        store.store_batches([*bare, batch("STANDIN", 1)])  # stand-in bytes: undecodable
        assert store.migrate() == [8]
        assert _sql(store).events("E1", 0, 2**40) == [
            _as_stored("E1", 0, 0, COVER),
            _as_stored("E1", 0, 1, MAGNET),
        ]
        assert _sql(store).events("E2", 0, 2**40) == [_as_stored("E2", 3, 0, OUTAGE)]
        assert _sql(store).events("STANDIN", 0, 2**40) == []
    finally:
        store.close()
