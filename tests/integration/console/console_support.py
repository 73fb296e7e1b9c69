"""Helpers for the console and REST API tests: a seeded store, the app over it with a
settable clock, and a client per role (fixtures in ``console_fixtures``).

Seeded data: meters E1 (electricity) and W1 (water) with two days of quarter-hour
readings, G1 (gas, GM/T suite, never reported), R1 (revoked); users ``root`` (admin),
``olivia`` (operator), ``audrey`` (auditor), ``rita`` (readonly) and ``target`` (the
readonly account admin tests act on), all with :data:`PASSWORD`.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from fastapi import FastAPI
from fastapi.testclient import TestClient

from meterseal.api.app import create_app
from meterseal.api.context import ConsoleStore
from meterseal.api.routes_commands import StoreCommandQueue
from meterseal.api.settings import ConsoleSettings
from meterseal.crypto.international import ED25519
from meterseal.headend.testing import sample_keys
from meterseal.ledger.checkpoint import Cosigner
from meterseal.ledger.config import LedgerConfig
from meterseal.ledger.interface import Ledger
from meterseal.ledger.keys import parse_verifier_key
from meterseal.ledger.leaves import AuditEntry, leaf_data
from meterseal.ledger.local import LocalLedger, open_local_ledger
from meterseal.ledger.witness import LogConfig, Witness, WitnessState
from meterseal.store import BatchRow, IntervalColumns, MeterRecord
from meterseal.store.scratch import DEFAULT_TEST_DSN
from meterseal.store.security import CredentialRow

PG_DSN = os.environ.get("METERSEAL_TEST_PG_DSN", DEFAULT_TEST_DSN)
PASSWORD = "correct horse battery staple"  # noqa: S105 - the test accounts' password
DAY = 86_400
INTERVAL = 900
T0 = 1_700_006_400  # 2023-11-15 00:00 UTC
NOW = T0 + 2 * DAY + 300  # five minutes after the last reading
ROLE_USERS = {"admin": "root", "operator": "olivia", "auditor": "audrey", "readonly": "rita"}
BASE_URL = "https://console.test"


@dataclass
class Clock:
    """The app's clock: unix seconds, moved by the test."""

    now: float = NOW

    def __call__(self) -> float:
        return self.now


def fast_settings(clock: Clock, **overrides: object) -> ConsoleSettings:
    """Production settings but cheap argon2id and the test's clock."""
    values: dict[str, object] = {
        "argon2_time_cost": 1,
        "argon2_memory_kib": 8,
        "argon2_parallelism": 1,
        "clock": clock,
    }
    values.update(overrides)
    return ConsoleSettings(**values)  # type: ignore[arg-type]


def meter(meter_id: str, meter_type: str, suite: int, state: str = "registered") -> MeterRecord:
    """A registered meter with recognisable public key bytes."""
    return MeterRecord(
        meter_id,
        meter_type,
        suite,
        f"owner of {meter_id}",
        b"\x04" + bytes(range(64)),
        b"\xa1\x08" + meter_id.encode(),
        state,
        T0 - DAY,
    )


def _batch(meter_id: str, seq: int, electricity: bool) -> tuple[BatchRow, IntervalColumns]:
    count = 96
    start = T0 + seq * DAY
    ends = range(start + INTERVAL, start + (count + 1) * INTERVAL, INTERVAL)
    signed = f"{meter_id}/{seq}".encode() * 8
    base = seq * count
    if electricity:
        columns = IntervalColumns(
            meter_id,
            seq,
            ends,
            energy_import_wh=[(base + i) * 250 for i in range(count)],
            energy_export_wh=[0] * count,
            voltage_dv=[2300] * count,
            current_ma=[4000] * count,
            power_w=[500 + (i % 24) * 40 for i in range(count)],
        )
    else:
        columns = IntervalColumns(
            meter_id, seq, ends, volume_dl=[(base + i) * 3 for i in range(count)]
        )
    row = BatchRow(
        meter_id,
        seq,
        start,
        INTERVAL,
        signed,
        hashlib.sha256(signed).digest(),
        start + DAY,
        len(columns),
    )
    return row, columns


def seed(store: ConsoleStore) -> None:
    """Meters, two days of readings for E1 and W1, and one user per role."""
    for record in (
        meter("E1", "electricity", 2),
        meter("W1", "water", 2),
        meter("G1", "gas", -24),
        meter("R1", "electricity", 2, state="revoked"),
    ):
        store.add_meter(record)
    store.store_batches([_batch(m, seq, m == "E1") for m in ("E1", "W1") for seq in (0, 1)])
    cwt = b"\xd2\x84 a CWT for E1"
    credential = CredentialRow(
        serial=4242,
        subject_kind="meter",
        subject="E1",
        suite=2,
        credential=cwt,
        credential_hash=hashlib.sha256(cwt).digest(),
        not_before=T0 - DAY,
        not_after=T0 + 365 * DAY,
        state="active",
        issued_at=T0 - DAY,
    )
    store.add_credential(credential, [])


@dataclass
class Console:
    """A seeded store, the app over it, and how to reach it as each role."""

    store: ConsoleStore
    app: FastAPI
    clock: Clock
    tokens: dict[str, str] = field(default_factory=dict)

    def client(self) -> TestClient:
        """A client without credentials (HTTPS, so Secure cookies are sent)."""
        return TestClient(self.app, base_url=BASE_URL)

    def as_role(self, role: str) -> TestClient:
        """A client with the API token of ``role``'s user."""
        client = self.client()
        client.headers["Authorization"] = f"Bearer {self.tokens[role]}"
        return client

    def logged_in(self, name: str, password: str = PASSWORD) -> tuple[TestClient, str]:
        """A client with a session cookie for ``name``, and the session's CSRF token."""
        client = self.client()
        response = client.post("/api/session", json={"name": name, "password": password})
        assert response.status_code == 201, response.text
        return client, str(response.json()["csrf_token"])


def build_console(
    store: ConsoleStore, clock: Clock, ledger: Ledger | None = None, **overrides: object
) -> Console:
    """Seed ``store`` and make the app, with a token per role."""
    settings = fast_settings(clock, **overrides)
    queue = StoreCommandQueue(store, sample_keys((2,)), settings)
    app = create_app(store, ledger=ledger, commands=queue, settings=settings)
    console = Console(store, app, clock)
    auth = app.state.context.auth
    seed(store)
    for role, name in (*ROLE_USERS.items(), ("readonly", "target")):
        auth.add_user(name, PASSWORD, role)
    for role, name in ROLE_USERS.items():
        console.tokens[role], _ = auth.issue_token(name, role, f"{role} tests")
    return console


class MemoryWitness:
    """A witness (the real cosigning code) whose state is kept in memory."""

    def __init__(self, name: str, log_vkeys: list[str], origin: str) -> None:
        self.cosigner = Cosigner(name, ED25519.from_private_bytes(bytes([7]) * 32))
        verifiers = tuple(parse_verifier_key(vkey) for vkey in log_vkeys)
        self.witness = Witness([self.cosigner], [LogConfig(origin, verifiers)])
        self.state = WitnessState()

    def add_checkpoint(self, old_size: int, proof: Sequence[bytes], checkpoint: bytes) -> bytes:
        result = self.witness.add_checkpoint(self.state, checkpoint, proof, old_size, now=NOW)
        self.state = result.state
        return result.response_body


def witnessed_ledger(data_dir: Path) -> LocalLedger:
    """A local ledger in ``data_dir`` with one in-memory witness and three audit leaves."""
    config = LedgerConfig(data_dir=data_dir)
    first = open_local_ledger(config, create=True)
    vkeys, origin = first.verifier_keys(), first.origin
    first.close()
    witness = MemoryWitness("witness.test", vkeys, origin)
    ledger = open_local_ledger(config, witnesses={"witness.test": witness})
    leaves = [leaf_data(AuditEntry("root", "user.add", f"u{i}", bytes(32), NOW)) for i in range(3)]
    ledger.submit(leaves)
    return ledger
