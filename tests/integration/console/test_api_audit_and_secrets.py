"""No secret in any answer; every state change audited; the audit log append-only and
bound for the ledger; a broken database is a 503 and the server keeps serving."""

from __future__ import annotations

import base64
import hashlib
import json
import re
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from console_support import PASSWORD, Clock, Console, build_console

from meterseal.api.context import ConsoleStore
from meterseal.api.ledger_hook import audit_leaf, audit_to_outbox
from meterseal.ledger.leaves import AuditEntry, parse_leaf
from meterseal.store import PostgresStore, StoreError
from meterseal.store.accounts import canonical_json

pytest_plugins = ["console_fixtures"]

SECRET_KEY_NAMES = re.compile(r"password|private|secret|session_hash|token_hash|signed", re.I)

GET_PATHS = [
    "/api/session",
    "/api/fleet",
    "/api/meters",
    "/api/meters/E1",
    "/api/meters/E1/credential",
    "/api/meters/E1/keys",
    "/api/meters/E1/readings?start=1700006400&end=1700010000",
    "/api/meters/E1/consumption?start_day=2023-11-15&end_day=2023-11-16",
    "/api/ledger",
    "/api/audit",
    "/api/users",
    "/api/users/root/tokens",
    "/api/users/rita/tokens",
    "/api/commands/1",
    "/",
    "/meters/E1",
    "/ledger",
    "/audit",
    "/users",
]


def _walk(item: Any, path: str = "") -> Iterator[tuple[str, Any]]:
    if isinstance(item, dict):
        for key, value in item.items():
            yield f"{path}.{key}", value
            yield from _walk(value, f"{path}.{key}")
    elif isinstance(item, list):
        for i, value in enumerate(item):
            yield from _walk(value, f"{path}[{i}]")


def _secrets(console: Console, cookie: str) -> list[str]:
    """Every secret the store or the browser holds, in the encodings a leak could take."""
    found = [cookie, *console.tokens.values()]
    found.extend(user.password_hash for user in console.store.list_users())
    for raw in _raw_hashes(console.store):
        found += [raw.hex(), base64.b64encode(raw).decode(), base64.urlsafe_b64encode(raw).decode()]
    return found


def _raw_hashes(store: ConsoleStore) -> list[bytes]:
    with store._reading() as query:  # type: ignore[attr-defined]  # the test reads the tables
        rows = query.all("SELECT session_hash FROM sessions")
        rows += query.all("SELECT token_hash FROM api_tokens")
    return [bytes(row[0]) for row in rows]


def test_no_answer_carries_secret_material(console: Console) -> None:
    admin, csrf = console.logged_in("root")
    assert admin.post("/api/meters/E1/commands/time-sync", headers={"X-CSRF-Token": csrf})
    cookie = admin.cookies["__Host-meterseal_session"]
    secrets = _secrets(console, cookie)
    assert len(secrets) > 10
    for path in GET_PATHS:
        response = admin.get(path)
        assert response.status_code == 200, path
        for secret in secrets:
            assert secret not in response.text, f"{path} leaks a secret"
        assert "$argon2" not in response.text
        if path.startswith("/api/"):
            for key_path, _ in _walk(response.json()):
                assert not SECRET_KEY_NAMES.search(key_path.rsplit(".", 1)[-1]), key_path


def test_the_new_token_is_shown_once_and_never_again(console: Console) -> None:
    admin = console.as_role("admin")
    created = admin.post("/api/users/target/tokens", json={"role_cap": "readonly"}).json()
    token = created["token"]
    for path in ("/api/users/target/tokens", "/api/audit", "/users"):
        assert token not in admin.get(path).text


def test_public_keys_are_hex_of_the_registered_public_data(console: Console) -> None:
    keys = console.as_role("auditor").get("/api/meters/E1/keys").json()
    meter = console.store.get_meter("E1")
    assert meter is not None
    assert keys == {
        "meter_id": "E1",
        "data_public_key": meter.public_key.hex(),
        "identity_credential": meter.identity_credential.hex(),
    }


def _changes(console: Console) -> list[tuple[str, str]]:
    """Perform every kind of state change once; return (action, target) expected."""
    client = console.client()
    assert client.post("/api/session", json={"name": "rita", "password": "bad"}).status_code == 401
    admin, csrf = console.logged_in("root")
    headers = {"X-CSRF-Token": csrf}
    user = {"name": "dora", "password": "a long enough password", "role": "operator"}
    assert admin.post("/api/users", json=user, headers=headers).status_code == 201
    assert admin.patch("/api/users/dora", json={"role": "auditor"}, headers=headers).is_success
    issued = admin.post("/api/users/dora/tokens", json={"role_cap": "auditor"}, headers=headers)
    token_id = issued.json()["record"]["token_id"]
    assert admin.delete(f"/api/tokens/{token_id}", headers=headers).status_code == 204
    sync = admin.post("/api/meters/W1/commands/time-sync", headers=headers)
    assert sync.status_code == 201
    assert admin.delete("/api/session", headers=headers).status_code == 204
    return [
        ("session.login", "rita"),
        ("session.login", "root"),
        ("user.add", "dora"),
        ("user.update", "dora"),
        ("token.issue", "dora"),
        ("token.revoke", "dora"),
        ("command.time_sync", "W1"),
        ("session.logout", "root"),
    ]


def test_every_state_change_is_audited(console: Console) -> None:
    before = {row.audit_id for row in console.store.list_audit(limit=500)}
    expected = _changes(console)
    rows = [
        row for row in reversed(console.store.list_audit(limit=500)) if row.audit_id not in before
    ]
    assert [(row.action, row.target) for row in rows] == expected
    assert [row.outcome for row in rows] == ["failed"] + ["ok"] * 7
    assert rows[2].actor == "root"
    assert rows[2].detail == {"role": "operator"}
    command = console.store.get_command(rows[6].detail["command_id"])
    assert command is not None
    assert (command.meter_id, command.state) == ("W1", "queued")


def test_the_audit_log_is_append_only_in_the_database(any_store: ConsoleStore) -> None:
    row = any_store.append_audit(1, "root", "user.add", "bob", detail={"a": 1}, outcome="ok")
    with pytest.raises(StoreError), any_store._writing() as query:  # type: ignore[attr-defined]
        query.run("UPDATE audit_log SET actor = 'mallory'")
    with pytest.raises(StoreError), any_store._writing() as query:  # type: ignore[attr-defined]
        query.run("DELETE FROM audit_log")
    assert any_store.list_audit() == [row]


def test_audit_rows_become_ledger_leaves_in_the_outbox(any_store: ConsoleStore) -> None:
    clock = Clock()
    console = build_console(any_store, clock, on_audit=audit_to_outbox(any_store))
    _changes(console)
    audit = list(reversed(any_store.list_audit(limit=500)))
    queued = [leaf for _, leaf in any_store.pending_leaves(1000)]
    pending = [leaf for leaf in queued if isinstance(parse_leaf(leaf), AuditEntry)]
    assert pending == [audit_leaf(row) for row in audit]
    first = parse_leaf(pending[0])
    assert isinstance(first, AuditEntry)
    assert (first.actor, first.action, first.target, first.time) == (
        audit[0].actor,
        audit[0].action,
        audit[0].target,
        audit[0].at,
    )
    detail = canonical_json({"detail": audit[0].detail, "outcome": audit[0].outcome})
    assert first.detail_hash == hashlib.sha256(detail.encode()).digest()


def test_a_broken_database_connection_is_503_and_the_next_request_works(
    console_pg_dsn: str, postgres_store: ConsoleStore
) -> None:
    assert isinstance(postgres_store, PostgresStore)
    console = build_console(postgres_store, Clock())
    client = console.as_role("readonly")
    assert client.get("/api/fleet").status_code == 200
    with psycopg.connect(console_pg_dsn, autocommit=True) as admin:
        admin.execute("SELECT pg_terminate_backend(%s)", (postgres_store.backend_pid,))
    broken = client.get("/api/fleet")
    assert broken.status_code == 503
    assert broken.json()["error"] == "unavailable"
    assert client.get("/api/fleet").status_code == 200


def test_login_answers_are_json_errors(console: Console) -> None:
    response = console.client().post("/api/session", json={"name": "x"})
    assert response.status_code == 422
    assert json.loads(response.text)["detail"]
    assert (
        console.client()
        .post("/api/session", json={"name": "root", "password": PASSWORD})
        .is_success
    )
