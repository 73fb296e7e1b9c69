"""open_store: the store a configuration URL names, migrated and ready."""

from __future__ import annotations

from pathlib import Path

import pytest
from psycopg.conninfo import conninfo_to_dict, make_conninfo
from store_support import batch, meter

from meterseal.store import (
    PostgresStore,
    SqliteStore,
    StoreError,
    StoreOutcome,
    open_store,
    sqlite_url,
)
from meterseal.store.scratch import scratch_schema


def test_sqlite_url_in_a_new_data_directory(tmp_path: Path) -> None:
    url = sqlite_url(tmp_path / "data")
    store = open_store(url + "?synchronous=normal")
    try:
        assert isinstance(store, SqliteStore)
        assert store.synchronous == "NORMAL"
        assert store.migrate() == []  # open_store migrated it
        store.add_meter(meter("M1"))
        assert store.store_batches([batch("M1", 1)]) == [StoreOutcome.STORED]
    finally:
        store.close()
    assert (tmp_path / "data" / "meterseal-store.db").is_file()


def test_relative_sqlite_url(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    open_store("sqlite:sub/store.db").close()
    assert (tmp_path / "sub" / "store.db").is_file()


def test_open_without_migrating(tmp_path: Path) -> None:
    store = open_store(sqlite_url(tmp_path), migrate=False)
    try:
        assert store.migrate() == [1, 2, 3, 4, 5, 6, 7, 8]
    finally:
        store.close()


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("mysql://host/db", "store URL must be"),
        ("sqlite://host/store.db", "host part"),
        ("sqlite:", "names no file"),
        ("sqlite:///tmp/x.db?journal=off", "unknown SQLite URL options"),
        ("sqlite:///tmp/x.db?synchronous=off", "synchronous must be one of"),
    ],
)
def test_bad_urls_are_refused(url: str, message: str) -> None:
    with pytest.raises(StoreError, match=message):
        open_store(url)


def _as_url(dsn: str, schema: str) -> str:
    params = conninfo_to_dict(dsn)
    if not {"user", "host", "port", "dbname"} <= params.keys():
        pytest.skip("the test DSN does not name user, host, port and dbname")
    return (
        f"postgresql://{params['user']}@{params['host']}:{params['port']}/{params['dbname']}"
        f"?options=-c%20search_path%3D{schema}"
    )


@pytest.mark.parametrize("form", ["url", "dsn"])
def test_postgresql_url_or_dsn(postgres_dsn: str, form: str) -> None:
    with scratch_schema(postgres_dsn, "test_open") as schema:
        conninfo = make_conninfo(postgres_dsn, options=f"-c search_path={schema}")
        if form == "url":
            conninfo = _as_url(postgres_dsn, schema)
        store = open_store(conninfo)
        try:
            assert isinstance(store, PostgresStore)
            assert store.migrate() == []
            store.add_meter(meter("M1"))
            assert store.list_meters() == [meter("M1")]
        finally:
            store.close()
