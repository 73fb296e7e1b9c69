"""Helpers of the ledger service tests: signers, leaves, and the store each test runs on."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

import psycopg

from meterseal.crypto.international import ED25519
from meterseal.crypto.sm2 import SM2_SIGNATURE
from meterseal.ledger.keys import Ed25519NoteSigner, Sm2NoteSigner
from meterseal.ledger.leaves import BatchAccepted, leaf_data
from meterseal.ledger.storage import LedgerStorage
from meterseal.ledger.storage_postgres import PostgresLedgerStorage
from meterseal.ledger.storage_sqlite import SqliteLedgerStorage
from meterseal.store.scratch import DEFAULT_TEST_DSN

PG_DSN = os.environ.get("METERSEAL_TEST_PG_DSN", DEFAULT_TEST_DSN)
ORIGIN = "test.meterseal/ledger"


def ed25519_signer(origin: str = ORIGIN, seed: int = 1) -> Ed25519NoteSigner:
    """A deterministic Ed25519 note signer (tests only: the service signs through a keystore)."""
    return Ed25519NoteSigner(origin, ED25519.from_private_bytes(bytes([seed]) * 32))


def sm2_signer(origin: str = ORIGIN) -> Sm2NoteSigner:
    return Sm2NoteSigner(origin, SM2_SIGNATURE.from_private_bytes(bytes([7]) * 32))


def leaves(start: int, count: int, meter: str = "M-0001") -> list[bytes]:
    """``count`` distinct valid MeterSeal leaves (BatchAccepted), numbered from ``start``."""
    return [
        leaf_data(BatchAccepted(meter, n, n.to_bytes(32, "big")))
        for n in range(start, start + count)
    ]


class Backend:
    """One ledger store: ``open()`` a storage on it (again after a restart), or ``execute``
    raw SQL on a connection of its own, as an intruder with database access would."""

    def __init__(self, kind: str, path: Path | None = None, schema: str | None = None) -> None:
        self.kind = kind
        self.path = path
        self.schema = schema
        self._opened: list[LedgerStorage] = []

    def open(self) -> LedgerStorage:
        storage: LedgerStorage
        if self.path is not None:
            storage = SqliteLedgerStorage(self.path)
        else:
            assert self.schema is not None
            storage = PostgresLedgerStorage(PG_DSN, schema=self.schema)
        self._opened.append(storage)
        return storage

    def execute(self, statement: str) -> None:
        """Run ``statement`` outside MeterSeal; the driver's error propagates."""
        if self.path is not None:
            conn = sqlite3.connect(self.path, isolation_level=None)
            try:
                conn.execute(statement)
            finally:
                conn.close()
            return
        options = f"-c search_path={self.schema}"
        with psycopg.connect(PG_DSN, autocommit=True, options=options) as pg:
            pg.execute(statement.encode())

    def close_all(self) -> None:
        for storage in self._opened:
            storage.close()
