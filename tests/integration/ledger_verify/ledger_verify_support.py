"""Helpers of the ledger verification tests: a filled store and an in-memory ledger that
logged every batch of it, tampering in plain SQL, and finding filters."""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass

from meterseal.ledger.verify import StoreOpener, verify_ledger
from meterseal.ledger.verify_findings import Finding, FindingKind, VerifyReport
from meterseal.ledger.verify_testing import MemoryLedger, fill_store
from meterseal.store.scratch import DEFAULT_TEST_DSN

PG_DSN = os.environ.get("METERSEAL_TEST_PG_DSN", DEFAULT_TEST_DSN)
NOW = 2_000_000_000


@dataclass
class Filled:
    """A store of ``meters`` x ``batches`` signed batches, and a ledger holding their leaves."""

    opener: StoreOpener
    leaves: list[bytes]
    meters: int
    batches: int

    def ledger(self, leaves: Sequence[bytes] | None = None) -> MemoryLedger:
        """A fresh in-memory ledger that logged ``leaves`` (default: every batch)."""
        ledger = MemoryLedger.with_test_key()
        ledger.submit(list(self.leaves if leaves is None else leaves))
        return ledger

    def verify(
        self, ledger: MemoryLedger | None = None, *, workers: int = 1, grace: int | None = None
    ) -> VerifyReport:
        """Run verification with the test log key trusted."""
        ledger = ledger or self.ledger()
        return verify_ledger(
            ledger,
            self.opener,
            ledger.verifiers,
            rng=os.urandom,
            now=NOW,
            grace=grace,
            workers=workers,
        )

    def sql(self, statement: str, params: Sequence[object] = ()) -> int:
        """Tamper with the store directly (the attacker's view: plain SQL)."""
        store = self.opener()
        try:
            with store._writing() as query:
                return query.run(statement, params)
        finally:
            store.close()

    def ref(self, meter: int) -> int:
        """The meter_ref of meter number ``meter`` (``VM%06d``)."""
        store = self.opener()
        try:
            with store._reading() as query:
                row = query.one("SELECT id FROM meters WHERE meter_id = ?", (meter_id(meter),))
        finally:
            store.close()
        assert row is not None
        return int(row[0])


def meter_id(number: int) -> str:
    return f"VM{number:06d}"


def kinds(report: VerifyReport) -> dict[str, int]:
    """Findings counted by kind."""
    return dict(report.tally.by_kind)


def only(report: VerifyReport, kind: FindingKind) -> list[Finding]:
    return [f for f in report.tally.findings if f.kind is kind]


def filled_store(opener: StoreOpener, meters: int, batches: int, intervals: int = 96) -> Filled:
    """Fill the store with signed batches (Ed25519 meters) and keep their leaves."""
    store = opener()
    try:
        leaves = fill_store(store, meters, batches, intervals=intervals)
    finally:
        store.close()
    return Filled(opener, leaves, meters, batches)
