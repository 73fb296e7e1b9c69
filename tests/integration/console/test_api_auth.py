"""Logging in, sessions, CSRF, API tokens and throttling, on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
from console_support import NOW, PASSWORD, Clock, Console, build_console
from fastapi.testclient import TestClient

from meterseal.api.context import ConsoleStore

pytest_plugins = ["console_fixtures"]


def _login(console: Console, name: str, password: str, client_ip: str = "10.0.0.1") -> int:
    client = console.client()
    client.headers["X-Forwarded-For"] = client_ip  # ignored: the peer address counts
    response = client.post("/api/session", json={"name": name, "password": password})
    return int(response.status_code)


def test_login_sets_a_strict_secure_host_only_cookie(console: Console) -> None:
    client = console.client()
    response = client.post("/api/session", json={"name": "olivia", "password": PASSWORD})
    assert response.status_code == 201
    cookie = response.headers["set-cookie"]
    assert cookie.startswith("__Host-meterseal_session=")
    for attribute in ("HttpOnly", "Secure", "Path=/", "SameSite=strict"):
        assert attribute in cookie
    assert "Domain" not in cookie
    body = response.json()
    assert body["name"] == "olivia"
    assert body["role"] == "operator"
    assert "commands.queue" in body["permissions"]
    assert client.get("/api/session").json()["csrf_token"] == body["csrf_token"]


def test_wrong_password_and_unknown_user_look_the_same(console: Console) -> None:
    client = console.client()
    wrong = client.post("/api/session", json={"name": "olivia", "password": "nope"})
    unknown = client.post("/api/session", json={"name": "nobody", "password": "nope"})
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.json() == unknown.json()
    assert "set-cookie" not in wrong.headers


def test_failed_logins_lock_the_user_out_exponentially(console: Console) -> None:
    for _ in range(5):  # throttle_free: these cost nothing
        assert _login(console, "rita", "wrong password") == 401
    assert _login(console, "rita", "wrong password") == 401  # 6th: locks for 2 s
    client = console.client()
    locked = client.post("/api/session", json={"name": "rita", "password": PASSWORD})
    assert locked.status_code == 429
    assert locked.json()["error"] == "too_many_attempts"
    assert locked.headers["Retry-After"] == "2"
    console.clock.now = NOW + 2
    assert _login(console, "rita", "wrong password") == 401  # 7th: locks for 4 s
    console.clock.now = NOW + 5
    assert _login(console, "rita", PASSWORD) == 429
    console.clock.now = NOW + 6
    assert _login(console, "rita", PASSWORD) == 201
    audit = [row for row in console.store.list_audit(limit=50) if row.action == "session.login"]
    outcomes = [row.outcome for row in reversed(audit)]
    assert outcomes == ["failed"] * 6 + ["denied", "failed", "denied", "ok"]


def test_a_successful_login_clears_the_user_counter(console: Console) -> None:
    for _ in range(5):
        assert _login(console, "audrey", "wrong password") == 401
    assert _login(console, "audrey", PASSWORD) == 201
    for _ in range(5):
        assert _login(console, "audrey", "wrong password") == 401
    assert _login(console, "audrey", PASSWORD) == 201


def test_failures_from_one_address_lock_that_address_for_every_user(console: Console) -> None:
    for n in range(21):  # 20 free failures per address, whatever the names
        assert _login(console, f"user{n}", "wrong password") == 401
    assert _login(console, "root", PASSWORD) == 429  # same peer address (the test client)


def test_disabled_accounts_cannot_log_in(console: Console) -> None:
    admin, csrf = console.logged_in("root")
    patch = admin.patch(
        "/api/users/target", json={"disabled": True}, headers={"X-CSRF-Token": csrf}
    )
    assert patch.status_code == 200
    assert _login(console, "target", PASSWORD) == 401


def test_state_changes_with_a_cookie_need_the_csrf_token(console: Console) -> None:
    admin, csrf = console.logged_in("root")
    body = {"name": "carol", "password": "a long enough password", "role": "readonly"}
    assert admin.post("/api/users", json=body).status_code == 403
    wrong = admin.post("/api/users", json=body, headers={"X-CSRF-Token": csrf[:-1] + "x"})
    assert wrong.status_code == 403
    assert wrong.json()["detail"] == "missing or wrong CSRF token"
    assert console.store.get_user("carol") is None
    ok = admin.post("/api/users", json=body, headers={"X-CSRF-Token": csrf})
    assert ok.status_code == 201
    assert admin.delete("/api/session").status_code == 403  # logging out is a change too


def test_a_csrf_token_of_another_session_is_refused(console: Console) -> None:
    admin, _ = console.logged_in("root")
    _, other = console.logged_in("root")
    sync = admin.post("/api/meters/E1/commands/time-sync", headers={"X-CSRF-Token": other})
    assert sync.status_code == 403


def test_sessions_end_after_idle_timeout_and_lifetime(console: Console) -> None:
    client, _ = console.logged_in("rita")
    console.clock.now = NOW + 29 * 60
    assert client.get("/api/fleet").status_code == 200  # activity resets the idle clock
    console.clock.now = NOW + 58 * 60
    assert client.get("/api/fleet").status_code == 200
    console.clock.now = NOW + 58 * 60 + 30 * 60
    expired = client.get("/api/fleet")
    assert expired.status_code == 401
    assert "expired" in expired.json()["detail"]

    busy, _ = console.logged_in("rita")  # logged in at the current clock
    start = console.clock.now
    for step in range(1, 17):  # a request every 29 minutes: never idle
        console.clock.now = start + step * 29 * 60
        if console.clock.now >= start + 8 * 3600:
            break
        assert busy.get("/api/fleet").status_code == 200
    console.clock.now = start + 8 * 3600
    assert busy.get("/api/fleet").status_code == 401


def test_logout_ends_the_session(console: Console) -> None:
    client, csrf = console.logged_in("rita")
    assert client.delete("/api/session", headers={"X-CSRF-Token": csrf}).status_code == 204
    assert client.get("/api/fleet").status_code == 401


def test_disabling_a_user_ends_their_sessions_and_tokens(console: Console) -> None:
    session, _ = console.logged_in("rita")
    token = console.as_role("readonly")
    admin = console.as_role("admin")
    assert admin.patch("/api/users/rita", json={"disabled": True}).status_code == 200
    assert session.get("/api/fleet").status_code == 401
    assert token.get("/api/fleet").status_code == 401
    assert admin.patch("/api/users/rita", json={"disabled": False}).status_code == 200
    assert token.get("/api/fleet").status_code == 200  # tokens work again; sessions do not
    assert session.get("/api/fleet").status_code == 401


def test_revoked_tokens_stop_working_at_once(console: Console) -> None:
    admin = console.as_role("admin")
    created = admin.post("/api/users/target/tokens", json={"role_cap": "readonly", "label": "ci"})
    assert created.status_code == 201
    token, record = created.json()["token"], created.json()["record"]
    assert token.startswith(record["prefix"])
    integration = console.client()
    integration.headers["Authorization"] = f"Bearer {token}"
    assert integration.get("/api/meters").status_code == 200
    assert admin.delete(f"/api/tokens/{record['token_id']}").status_code == 204
    refused = integration.get("/api/meters")
    assert refused.status_code == 401
    assert refused.json()["error"] == "not_authenticated"
    assert admin.delete(f"/api/tokens/{record['token_id']}").status_code == 404


def test_a_token_acts_with_the_lower_of_its_cap_and_its_users_role(console: Console) -> None:
    auth = console.app.state.context.auth
    capped, _ = auth.issue_token("root", "readonly", "capped admin")
    client = console.client()
    client.headers["Authorization"] = f"Bearer {capped}"
    assert client.get("/api/meters").status_code == 200
    assert client.get("/api/audit").status_code == 403
    assert client.post("/api/meters/E1/commands/time-sync").status_code == 403
    raised, _ = auth.issue_token("rita", "admin", "readonly user, admin cap")
    client.headers["Authorization"] = f"Bearer {raised}"
    assert client.get("/api/users").status_code == 403


def test_tokens_need_no_csrf_token(console: Console) -> None:
    queued = console.as_role("operator").post("/api/meters/E1/commands/time-sync")
    assert queued.status_code == 201


def test_an_unknown_bearer_token_is_refused(console: Console) -> None:
    client = console.client()
    client.headers["Authorization"] = "Bearer mst_not-a-real-token"
    assert client.get("/api/fleet").status_code == 401


@pytest.mark.parametrize("path", ["/api/fleet", "/", "/static/console.css"])
def test_security_headers_are_on_every_answer(console: Console, path: str) -> None:
    client, _ = console.logged_in("rita")
    response = client.get(path)
    assert response.status_code == 200
    csp = response.headers["Content-Security-Policy"]
    assert "default-src 'none'" in csp
    assert "script-src" not in csp  # no script may run at all
    assert "unsafe-inline" not in csp
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Strict-Transport-Security"].startswith("max-age=")
    if path.startswith("/static/"):
        assert "Cache-Control" not in response.headers
    else:
        assert response.headers["Cache-Control"] == "no-store"


def test_insecure_http_drops_secure_and_the_host_prefix(sqlite_store: ConsoleStore) -> None:
    console = build_console(sqlite_store, Clock(), insecure_http=True)
    client = TestClient(console.app, base_url="http://127.0.0.1")
    response = client.post("/api/session", json={"name": "rita", "password": PASSWORD})
    cookie = response.headers["set-cookie"]
    assert cookie.startswith("meterseal_session=")
    assert "Secure" not in cookie
    assert "HttpOnly" in cookie
    assert "SameSite=strict" in cookie
    assert client.get("/api/fleet").status_code == 200  # the cookie works over plain HTTP
    assert "Strict-Transport-Security" not in client.get("/api/fleet").headers
