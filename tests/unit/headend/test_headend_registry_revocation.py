"""The registry and the signed revocation list: serial checks, refresh, forged lists."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from meterseal import cbor
from meterseal.crypto.cose import decode_sign1
from meterseal.crypto.suites import SUITE_2
from meterseal.edhoc.credentials import make_ccs
from meterseal.headend import CloseReason, MeterRegistry, Refusal, RegisteredMeter
from meterseal.headend.registry import admit
from meterseal.headend.runner import StoreRunner
from meterseal.headend.testing import async_test
from meterseal.hsm.kek import TEST_SCRYPT, kek_from_passphrase
from meterseal.hsm.software import SoftwareKeystore
from meterseal.ledger.leaves import RevocationReason
from meterseal.pki.ca import CertificateAuthority
from meterseal.pki.revocation import list_signer
from meterseal.pki.serials import serial_cti
from meterseal.store import MeterRecord, SqliteStore
from meterseal.store.security import CredentialRow, RevocationListRow

NOW = 1_760_000_000


@pytest.fixture
def ca(tmp_path: Path) -> Iterator[CertificateAuthority]:
    kek = kek_from_passphrase("registry revocation", TEST_SCRYPT)
    with SoftwareKeystore(tmp_path / "ca.keys", kek, create=True) as machine:
        yield CertificateAuthority.init(machine, [SUITE_2])


def record(meter_id: str, serial: int | None) -> MeterRecord:
    key = SUITE_2.signature.generate(os.urandom).public_key
    ccs = cbor.decode(make_ccs(key, crv=1, subject=meter_id, kid=meter_id.encode()))
    if serial is not None:
        ccs[7] = serial_cti(serial)
    return MeterRecord(
        meter_id, "electricity", 2, "c", b"\x04" * 65, cbor.encode(ccs), "registered", NOW
    )


def open_db(path: Path) -> SqliteStore:
    store = SqliteStore(path)
    store.migrate()
    return store


async def registry_on(path: Path, roots: dict[int, bytes] | None = None) -> MeterRegistry:
    reader = StoreRunner(lambda: open_db(path), "reader")
    writer = StoreRunner(lambda: open_db(path), "writer")
    await reader.start()
    await writer.start()
    return MeterRegistry(reader, writer, roots=roots, wall_clock=lambda: NOW + 1)


def revoke(path: Path, ca: CertificateAuthority, *serials: int) -> None:
    """Revoke credentials the way the security server does (filed first)."""
    store = open_db(path)
    for serial in serials:
        if store.get_credential(serial) is None:
            row = CredentialRow(serial, "meter", "M", 2, b"c", b"\x00" * 32, 0, 1, "active", 0)
            store.add_credential(row, [])
    store.revoke_credentials(
        list(serials), at=NOW, reason=RevocationReason.KEY_COMPROMISE,
        sign=list_signer(ca, now=NOW), events=[],
    )  # fmt: skip
    store.close()


def test_admit_refuses_a_revoked_serial_and_reports_the_serial() -> None:
    verdict = admit(record("M-1", 41), "M-1", frozenset({41}))
    assert verdict == Refusal(CloseReason.INACTIVE_METER, "meter M-1: credential 41 is revoked")
    admitted = admit(record("M-1", 42), "M-1", frozenset({41}))
    assert isinstance(admitted, RegisteredMeter)
    assert admitted.serial == 42
    legacy = admit(record("M-2", None), "M-2", frozenset({41}))
    assert isinstance(legacy, RegisteredMeter)
    assert legacy.serial is None


@async_test
async def test_refresh_adopts_a_new_list_and_drops_the_cache(
    tmp_path: Path, ca: CertificateAuthority
) -> None:
    path = tmp_path / "store.db"
    store = open_db(path)
    store.add_meter(record("M-1", 41))
    store.close()
    registry = await registry_on(path)
    assert await registry.refresh() is False  # no list yet
    assert isinstance(await registry.lookup("M-1"), RegisteredMeter)  # now cached
    assert registry.admitted_serial("M-1") == 41
    assert registry.admitted_serial("M-1") is None  # asked once
    await registry.lookup("M-1")
    revoke(path, ca, 41)
    assert await registry.refresh() is True
    assert (registry.list_number, registry.revoked_serials) == (1, frozenset({41}))
    assert registry.admitted_serial("M-1") == 41  # kept across the list change
    assert registry.is_revoked("M-1", 41)
    assert not registry.is_revoked("M-1", 42)
    verdict = await registry.lookup("M-1")
    assert isinstance(verdict, Refusal)
    assert "revoked" in verdict.detail
    assert await registry.refresh() is False  # same number: nothing to do


def latest_list(path: Path) -> RevocationListRow:
    store = open_db(path)
    row = store.revocation_list(2)
    store.close()
    assert row is not None
    return row


def publish(path: Path, signed: bytes) -> None:
    """File ``signed`` as the next list, whatever it says (a tampered store)."""
    store = open_db(path)
    store.publish_revocation_list(lambda n, _: [RevocationListRow(n, 2, NOW, NOW + 60, signed)])
    store.close()


@async_test
async def test_with_roots_a_forged_or_replayed_list_is_not_adopted(
    tmp_path: Path, ca: CertificateAuthority
) -> None:
    path = tmp_path / "store.db"
    open_db(path).close()
    registry = await registry_on(path, roots={2: ca.root_public_key(SUITE_2)})
    revoke(path, ca, 41)
    assert await registry.refresh() is True
    first = latest_list(path)
    revoke(path, ca, 42)
    assert await registry.refresh() is True
    assert (registry.list_number, registry.revoked_serials) == (2, frozenset({41, 42}))
    message = decode_sign1(first.signed_list)
    emptied = cbor.encode(cbor.decode(message.payload) | {2: 3, 5: []})
    publish(
        path, cbor.encode(cbor.CBORTag(18, [message.protected, {}, emptied, message.signature]))
    )
    assert await registry.refresh() is False  # the signature does not verify: list 2 kept
    publish(path, first.signed_list)  # genuine list 1, filed as number 4: a rollback
    assert await registry.refresh() is False
    assert (registry.list_number, registry.revoked_serials) == (2, frozenset({41, 42}))
    revoke(path, ca, 43)  # the next genuine list (5) is adopted again
    assert await registry.refresh() is True
    assert (registry.list_number, registry.revoked_serials) == (5, frozenset({41, 42, 43}))
