"""The security records on SQLite and PostgreSQL: credentials, signed lists, key events."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Sequence

import pytest
from security_support import NOW, SecurityBackend

from meterseal.store import DuplicateMeterError, MeterRecord, StoreError
from meterseal.store.base import SqlStore
from meterseal.store.security import (
    EVENT_GENERATION,
    EVENT_ISSUANCE,
    EVENT_REVOCATION,
    EVENT_ROTATION,
    CredentialRow,
    CredentialStateError,
    KeyEvent,
    RevocationListRow,
    RevokedEntry,
    SignLists,
    StaleRevocationListError,
)

pytest_plugins = ["security_fixtures"]


@pytest.fixture
def store(security_backend: SecurityBackend) -> Iterator[SqlStore]:
    opened = security_backend.open()
    yield opened
    opened.close()


def meter(meter_id: str = "SEC-1", ccs: bytes = b"\xa1\x01\x01") -> MeterRecord:
    return MeterRecord(meter_id, "electricity", 2, "cust-1", b"\x04" * 65, ccs, "registered", NOW)


def credential(serial: int, subject: str = "SEC-1", at: int = NOW) -> CredentialRow:
    cwt = f"cwt {serial}".encode()
    return CredentialRow(
        serial, "meter", subject, 2, cwt, hashlib.sha256(cwt).digest(),
        at, at + 1000, "active", at,
    )  # fmt: skip


def event(kind: str, serial: int | None, at: int = NOW, leaves: tuple[bytes, ...] = ()) -> KeyEvent:
    return KeyEvent(at, kind, "SEC-1", serial, "{}", leaves)


def signer(calls: list[tuple[int, list[RevokedEntry]]], at: int = NOW) -> SignLists:
    def sign(number: int, entries: Sequence[RevokedEntry]) -> list[RevocationListRow]:
        calls.append((number, list(entries)))
        return [RevocationListRow(number, 2, at, at + 60, f"list {number}".encode())]

    return sign


def test_registration_files_meter_credential_and_events_together(store: SqlStore) -> None:
    store.register_meter(meter(), credential(11), [event(EVENT_ISSUANCE, 11, leaves=(b"leaf",))])
    assert store.get_meter("SEC-1") == meter()
    assert store.get_credential(11) == credential(11)
    assert [(e.kind, e.serial) for e in store.key_events()] == [(EVENT_ISSUANCE, 11)]
    assert [leaf for _, leaf in store.pending_leaves(10)] == [b"leaf"]
    with pytest.raises(DuplicateMeterError):
        store.register_meter(meter(), credential(12), [event(EVENT_ISSUANCE, 12)])
    assert store.get_credential(12) is None
    assert len(store.key_events()) == 1


def test_rotation_supersedes_the_old_credential_and_repoints_the_meter(store: SqlStore) -> None:
    store.register_meter(meter(), credential(11), [])
    calls: list[tuple[int, list[RevokedEntry]]] = []
    [listed] = store.rotate_credential(
        11, credential(12), ccs=b"\xa1\x01\x02", grace_until=NOW + 50,
        sign=signer(calls), events=[event(EVENT_ROTATION, 11)],
    )  # fmt: skip
    assert (listed.number, calls) == (1, [(1, [])])
    old = store.get_credential(11)
    assert old is not None
    assert (old.state, old.grace_until) == ("superseded", NOW + 50)
    record = store.get_meter("SEC-1")
    assert record is not None
    assert record.identity_credential == b"\xa1\x01\x02"
    assert [c.serial for c in store.credentials("SEC-1")] == [11, 12]
    assert store.superseded_due(NOW + 49) == []
    assert [c.serial for c in store.superseded_due(NOW + 50)] == [11]
    with pytest.raises(CredentialStateError):  # 11 is no longer active
        store.rotate_credential(
            11, credential(13), ccs=b"", grace_until=NOW, sign=signer(calls), events=[]
        )
    assert store.get_credential(13) is None
    assert store.revocation_number() == 1


def test_revocation_numbers_the_list_and_signs_every_revoked_entry(store: SqlStore) -> None:
    calls: list[tuple[int, list[RevokedEntry]]] = []
    store.register_meter(meter(), credential(11), [])
    store.add_credential(credential(12), [])
    assert (store.revocation_number(), store.inactive_meters()) == (0, frozenset())
    first = store.revoke_credentials(
        [11], at=NOW + 5, reason=1, sign=signer(calls), events=[event(EVENT_REVOCATION, 11)]
    )
    second = store.revoke_credentials(
        [12], at=NOW + 6, reason=2, sign=signer(calls), events=[], meter_id="SEC-1"
    )
    assert [row.number for row in first + second] == [1, 2]
    assert calls[1] == (2, [RevokedEntry(11, NOW + 5, 1), RevokedEntry(12, NOW + 6, 2)])
    assert store.revocation_number() == 2
    assert store.revocation_list(2) == second[0]
    assert store.revocation_list() == second[0]
    record = store.get_meter("SEC-1")
    assert record is not None
    assert record.state == "revoked"
    assert store.inactive_meters() == {"SEC-1"}
    assert [e.serial for e in store.revoked_entries()] == [11, 12]


def test_a_failed_revocation_writes_nothing(store: SqlStore) -> None:
    calls: list[tuple[int, list[RevokedEntry]]] = []
    store.register_meter(meter(), credential(11), [])
    with pytest.raises(CredentialStateError):
        store.revoke_credentials(
            [11, 99], at=NOW, reason=1, sign=signer(calls), events=[event(EVENT_REVOCATION, 11)]
        )
    stored = store.get_credential(11)
    assert stored is not None
    assert stored.state == "active"
    assert (store.revocation_number(), store.key_events(), calls) == (0, [], [])


def test_a_list_numbered_out_of_turn_is_refused(store: SqlStore) -> None:
    def stale(number: int, entries: Sequence[RevokedEntry]) -> list[RevocationListRow]:
        del entries
        return [RevocationListRow(number - 1, 2, NOW, NOW + 60, b"old")]

    with pytest.raises(StaleRevocationListError):
        store.publish_revocation_list(stale)
    assert store.revocation_number() == 0


def test_key_events_are_kept_in_order_and_append_only(
    store: SqlStore, security_backend: SecurityBackend
) -> None:
    kinds = [EVENT_GENERATION, EVENT_ISSUANCE, EVENT_ROTATION, EVENT_REVOCATION]
    store.record_key_events([event(kind, i, at=NOW + i) for i, kind in enumerate(kinds)])
    trail = store.key_events()
    assert [e.kind for e in trail] == kinds
    assert [e.event_id for e in trail] == sorted(e.event_id for e in trail)
    assert [e.kind for e in store.key_events(after=trail[1].event_id, limit=1)] == [EVENT_ROTATION]
    with pytest.raises(StoreError):
        store.record_key_events([event("forgotten", None)])
    probe = security_backend.open()
    try:
        for statement in ("UPDATE key_events SET detail = 'x'", "DELETE FROM key_events"):
            with pytest.raises(StoreError), probe._writing() as query:
                query.run(statement)
    finally:
        probe.close()
    assert store.key_events() == trail
