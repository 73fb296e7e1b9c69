"""Where the ledger's store is: the URL forms ``--store`` takes, and no store is made
where a reader only looks."""

from __future__ import annotations

from pathlib import Path

import pytest
from ledger_service_support import PG_DSN

from meterseal.ledger.config import LedgerConfig, open_storage
from meterseal.ledger.errors import LedgerError, LedgerStorageError
from meterseal.ledger.storage import LogIdentity
from meterseal.ledger.storage_postgres import PostgresLedgerStorage
from meterseal.ledger.storage_sqlite import SqliteLedgerStorage

pytest_plugins = ["ledger_service_fixtures"]


def test_the_default_store_is_a_sqlite_file_in_the_ledger_directory(tmp_path: Path) -> None:
    config = LedgerConfig(tmp_path)
    assert config.store == f"sqlite://{tmp_path.resolve()}/ledger/ledger.db"
    storage = open_storage(config.store)
    assert isinstance(storage, SqliteLedgerStorage)
    assert Path(storage.path) == tmp_path / "ledger" / "ledger.db"
    storage.close()


def test_a_reader_does_not_create_a_store(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/nothing/ledger.db"
    with pytest.raises(LedgerStorageError, match="ledger init"):
        open_storage(url, create=False)
    assert not (tmp_path / "nothing").exists()


@pytest.mark.parametrize("url", ["mysql://host/db", "ledger.db", "sqlite:"])
def test_unknown_store_urls_are_refused(url: str) -> None:
    with pytest.raises(LedgerError):
        open_storage(url)


def test_postgres_urls_and_dsns_name_the_ledger_schema(postgres_schema: str) -> None:
    host_dsn = PG_DSN
    url = "postgresql://postgres@127.0.0.1:5432/test?schema=" + postgres_schema
    for spelled in (url, f"{host_dsn} schema={postgres_schema}"):
        storage = open_storage(spelled)
        assert isinstance(storage, PostgresLedgerStorage)
        assert storage.schema == postgres_schema
        storage.create(LogIdentity("o/log", "SHA-256"))
        assert storage.identity() == LogIdentity("o/log", "SHA-256")
        storage.close()
