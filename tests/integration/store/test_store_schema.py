"""Schema migrations and the meter registry, on both backends."""

from __future__ import annotations

import dataclasses

import pytest
from store_support import Backend, meter

from meterseal.store import (
    DuplicateMeterError,
    InvalidRowError,
    Register,
    SchemaVersionError,
    Store,
    UnknownMeterError,
)
from meterseal.store.batching import INTERVAL_COLUMNS
from meterseal.store.migrations import POSTGRES_MIGRATIONS, SQLITE_MIGRATIONS


def test_migrations_are_the_same_versions_on_both_backends() -> None:
    assert [m.version for m in SQLITE_MIGRATIONS] == [m.version for m in POSTGRES_MIGRATIONS]


def test_migrate_applies_each_version_once(backend: Backend) -> None:
    store = backend.open()
    try:
        assert store.migrate() == [1, 2, 3, 4, 5, 6, 7, 8]
        first = backend.execute("SELECT version, applied_at FROM schema_migrations ORDER BY 1")
        assert store.migrate() == []
        again = backend.execute("SELECT version, applied_at FROM schema_migrations ORDER BY 1")
    finally:
        store.close()
    assert [version for version, _ in first] == [1, 2, 3, 4, 5, 6, 7, 8]
    assert again == first


def test_migrate_to_a_target_then_onwards(backend: Backend) -> None:
    store = backend.open()
    try:
        assert store.migrate(target=1) == [1]
        assert backend.execute("SELECT version FROM schema_migrations") == [(1,)]
        assert store.migrate() == [2, 3, 4, 5, 6, 7, 8]
    finally:
        store.close()


def test_version_2_backfills_latest_values_from_existing_readings(backend: Backend) -> None:
    store = backend.open()
    try:
        store.migrate(target=1)
        store.add_meter(meter("M1"))
        backend.execute(
            "INSERT INTO readings (meter_ref, at, register, batch_seq, value) VALUES"
            " (1, 200, 1, 1, 20), (1, 300, 1, 2, 30), (1, 100, 1, 1, 10), (1, 150, 4, 1, 2300)"
        )
        store.migrate()
        [latest] = store.latest_state()
    finally:
        store.close()
    assert latest.registers == ((1, 30), (4, 2300))
    assert latest.last_reading_at == 300


def test_version_4_pivots_narrow_readings_into_wide_interval_rows(backend: Backend) -> None:
    store = backend.open()
    try:
        store.migrate(target=3)
        store.add_meter(meter("M1"))
        backend.execute(
            "INSERT INTO readings (meter_ref, at, register, batch_seq, value) VALUES"
            " (1, 900, 1, 1, 10), (1, 900, 4, 1, 2300), (1, 1800, 1, 1, 12),"
            " (1, 1800, 1, 2, 13), (1, 1800, 77, 1, 5)"
        )
        store.migrate()
        rows = backend.execute(
            "SELECT at, batch_seq, energy_import_wh, voltage_dv, volume_dl"
            " FROM interval_readings ORDER BY at, batch_seq"
        )
        unmapped = backend.execute("SELECT at, register, value FROM readings_unmapped")
        counts = (store.count_intervals(), store.count_readings())
        readings = store.readings("M1", 0, 2**40)
    finally:
        store.close()
    assert rows == [(900, 1, 10, 2300, None), (1800, 1, 12, None, None), (1800, 2, 13, None, None)]
    assert unmapped == [(1800, 77, 5)]  # a register without a column is kept, not dropped
    assert counts == (3, 4)
    assert [(r.at, r.register, r.batch_seq, r.value) for r in readings] == [
        (900, Register.ENERGY_IMPORT_WH, 1, 10),
        (900, Register.VOLTAGE_DV, 1, 2300),
        (1800, Register.ENERGY_IMPORT_WH, 1, 12),
        (1800, Register.ENERGY_IMPORT_WH, 2, 13),
    ]


_TABLE_COLUMNS = {
    "sqlite": "SELECT name FROM pragma_table_info('interval_readings') ORDER BY cid",
    "postgres": "SELECT column_name FROM information_schema.columns WHERE table_schema ="
    " current_schema() AND table_name = 'interval_readings' ORDER BY ordinal_position",
}


@pytest.mark.usefixtures("store")
def test_the_wide_table_has_the_columns_the_store_writes(backend: Backend) -> None:
    columns = backend.execute(_TABLE_COLUMNS[backend.name])
    assert tuple(name for (name,) in columns) == INTERVAL_COLUMNS


def test_a_database_from_a_newer_release_is_refused(store: Store, backend: Backend) -> None:
    backend.execute(
        "INSERT INTO schema_migrations (version, description, applied_at) VALUES (99, 'x', 0)"
    )
    with pytest.raises(SchemaVersionError, match=r"\[99\]"):
        store.migrate()


def test_add_get_and_list_meters(store: Store) -> None:
    water, electricity = meter("W-2", "water"), meter("E-1")
    store.add_meter(water)
    store.add_meter(electricity)
    assert store.get_meter("W-2") == water
    assert store.get_meter("E-1") == electricity
    assert store.get_meter("nope") is None
    assert store.list_meters() == [electricity, water]


def test_adding_a_meter_twice_is_refused_and_keeps_the_first(store: Store) -> None:
    store.add_meter(meter("M1"))
    with pytest.raises(DuplicateMeterError):
        store.add_meter(dataclasses.replace(meter("M1"), owner="someone else"))
    assert store.get_meter("M1") == meter("M1")


def test_a_meter_of_unknown_type_is_refused(store: Store) -> None:
    with pytest.raises(InvalidRowError):
        store.add_meter(meter("X1", "steam"))
    assert store.list_meters() == []


def test_set_meter_state(store: Store) -> None:
    store.add_meter(meter("M1"))
    store.set_meter_state("M1", "revoked")
    stored = store.get_meter("M1")
    assert stored is not None
    assert stored.state == "revoked"


def test_set_state_of_an_unknown_meter_raises(store: Store) -> None:
    with pytest.raises(UnknownMeterError):
        store.set_meter_state("nope", "revoked")
