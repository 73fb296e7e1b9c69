"""Schema version 6, console accounts (:mod:`meterseal.store.accounts`), on both backends."""

from __future__ import annotations

from typing import Any, cast

import pytest

from meterseal.store import InvalidRowError, Store
from meterseal.store.accounts import (
    AccountStore,
    DuplicateUserError,
    SessionRow,
    UnknownUserError,
    UserRow,
    VerificationRunRow,
)


def accounts(store: Store) -> AccountStore:
    return cast(AccountStore, store)


def user(name: str = "alice", role: str = "operator") -> UserRow:
    return UserRow(name, role, "$argon2id$v=19$m=8,t=1,p=1$c2FsdA$aGFzaA", 100, False)


def test_users_round_trip_and_names_are_unique(store: Store) -> None:
    db = accounts(store)
    db.add_user(user("bob", "auditor"))
    db.add_user(user("alice"))
    assert db.get_user("alice") == user("alice")
    assert [u.name for u in db.list_users()] == ["alice", "bob"]
    with pytest.raises(DuplicateUserError):
        db.add_user(user("alice", "admin"))
    assert db.get_user("nobody") is None


def test_roles_outside_the_four_are_refused(store: Store) -> None:
    with pytest.raises(InvalidRowError):
        accounts(store).add_user(user(role="superuser"))


def test_update_user_changes_role_and_disabled(store: Store) -> None:
    db = accounts(store)
    db.add_user(user())
    changed = db.update_user("alice", role="readonly", disabled=True)
    assert (changed.role, changed.disabled) == ("readonly", True)
    assert db.get_user("alice") == changed
    with pytest.raises(UnknownUserError):
        db.update_user("nobody", disabled=True)
    new_hash = "$argon2id$new"
    db.set_password_hash("alice", new_hash)
    stored = db.get_user("alice")
    assert stored is not None
    assert stored.password_hash == new_hash


def test_sessions_are_found_by_hash_touched_and_deleted(store: Store) -> None:
    db = accounts(store)
    db.add_user(user())
    row = SessionRow(b"\x01" * 32, "alice", "csrf", 100, 200, 100)
    db.add_session(row)
    db.add_session(SessionRow(b"\x02" * 32, "alice", "csrf2", 100, 200, 100))
    assert db.get_session(b"\x01" * 32) == row
    db.touch_session(b"\x01" * 32, 150)
    touched = db.get_session(b"\x01" * 32)
    assert touched is not None
    assert touched.last_seen == 150
    db.delete_session(b"\x01" * 32)
    assert db.get_session(b"\x01" * 32) is None
    assert db.delete_user_sessions("alice") == 1
    assert db.get_session(b"\x02" * 32) is None


def test_tokens_are_found_by_hash_and_revoked_once(store: Store) -> None:
    db = accounts(store)
    db.add_user(user())
    first = db.add_token(
        b"\x03" * 32, "mst_abcdefgh", "alice", role_cap="readonly", label="ci", now=5
    )
    second = db.add_token(
        b"\x04" * 32, "mst_ijklmnop", "alice", role_cap="operator", label="", now=6
    )
    assert second.token_id > first.token_id
    assert db.find_token(b"\x03" * 32) == first
    assert db.get_token(second.token_id) == second
    db.touch_token(first.token_id, 9)
    assert [t.last_used for t in db.list_tokens("alice")] == [9, None]
    assert db.revoke_token(first.token_id, 10)
    assert not db.revoke_token(first.token_id, 11)
    revoked = db.find_token(b"\x03" * 32)
    assert revoked is not None
    assert revoked.revoked_at == 10
    with pytest.raises(UnknownUserError):
        db.add_token(b"\x05" * 32, "mst_x", "nobody", role_cap="readonly", label="", now=1)


def test_login_failures_count_per_key_since_a_time(store: Store) -> None:
    db = accounts(store)
    for at in (10, 20, 30):
        db.add_login_failure("user:alice", at)
    db.add_login_failure("ip:10.0.0.1", 25)
    assert db.login_failures("user:alice", 15) == (2, 30)
    assert db.login_failures("user:bob", 0) == (0, None)
    db.clear_login_failures("user:alice")
    assert db.login_failures("user:alice", 0) == (0, None)
    assert db.login_failures("ip:10.0.0.1", 0) == (1, 25)


def test_audit_rows_keep_canonical_json_and_page_newest_first(store: Store) -> None:
    db = accounts(store)
    detail: dict[str, Any] = {"b": [1, 2], "a": "x"}
    rows = [
        db.append_audit(t, "root", "user.add", f"u{t}", detail=detail, outcome="ok")
        for t in range(1, 6)
    ]
    assert rows[0].detail == detail
    assert [r.audit_id for r in db.list_audit(limit=2)] == [rows[4].audit_id, rows[3].audit_id]
    older = db.list_audit(limit=10, before=rows[2].audit_id)
    assert [r.target for r in older] == ["u2", "u1"]
    with pytest.raises(InvalidRowError):
        db.append_audit(1, "root", "x", "y", detail={}, outcome="maybe")


def test_verification_runs_round_trip_newest_first(store: Store) -> None:
    db = accounts(store)
    sample = [{"kind": "ALTERED", "meter_id": "M1", "batch_seq": 3, "detail": "hash differs"}]
    first = db.add_verification_run(VerificationRunRow(0, 10, "log", 5, 4, 0, {"by_kind": {}}, []))
    second = db.add_verification_run(
        VerificationRunRow(0, 20, "log", 6, 4, 1, {"by_kind": {"ALTERED": 1}}, sample)
    )
    assert second.run_id > first.run_id
    assert db.verification_runs() == [second, first]
    assert db.verification_runs(1)[0].sample == sample
