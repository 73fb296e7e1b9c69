"""The console's pages over HTTP: login, fleet, meter with its charts, ledger, audit, users."""

from __future__ import annotations

import re
from pathlib import Path

from console_support import PASSWORD, Clock, Console, build_console, meter, witnessed_ledger
from fastapi.testclient import TestClient

from meterseal.api.context import ConsoleStore
from meterseal.api.verification import record_verification
from meterseal.ledger.verify_findings import Finding, FindingKind, Tally, VerifyReport

pytest_plugins = ["console_fixtures"]


def _form_token(html: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match is not None, "no CSRF field in the form"
    return match.group(1)


def console_login(console: Console, name: str, password: str = PASSWORD) -> tuple[TestClient, str]:
    """Log in through the login form; return the client and the session's CSRF token."""
    client = console.client()
    form = client.get("/login")
    assert form.status_code == 200
    token = _form_token(form.text)
    done = client.post(
        "/login",
        data={"name": name, "password": password, "csrf_token": token},
        follow_redirects=False,
    )
    assert done.status_code == 303, done.text
    assert done.headers["location"] == "/"
    fleet = client.get("/")
    return client, _form_token(fleet.text)


def test_pages_need_a_session(sqlite_console: Console) -> None:
    client = sqlite_console.client()
    for path in ("/", "/meters/E1", "/ledger", "/audit", "/users"):
        response = client.get(path, follow_redirects=False)
        assert response.status_code == 303
        assert response.headers["location"] == "/login"


def test_the_login_form_needs_its_double_submit_token(sqlite_console: Console) -> None:
    client = sqlite_console.client()
    client.get("/login")
    forged = client.post(
        "/login", data={"name": "root", "password": PASSWORD, "csrf_token": "forged"}
    )
    assert forged.status_code == 403
    assert "__Host-meterseal_session" not in client.cookies


def test_a_wrong_password_shows_the_form_again(sqlite_console: Console) -> None:
    client = sqlite_console.client()
    token = _form_token(client.get("/login").text)
    failed = client.post("/login", data={"name": "root", "password": "no", "csrf_token": token})
    assert failed.status_code == 401
    assert "wrong user name or password" in failed.text


def test_fleet_page_shows_counts_and_alarms(any_store: ConsoleStore) -> None:
    console = build_console(any_store, Clock())
    client, _ = console_login(console, "rita")
    page = client.get("/").text
    assert "<h1>Fleet</h1>" in page
    assert "<dt>electricity</dt><dd>2</dd>" in page
    assert "<dt>suite -24</dt><dd>1</dd>" in page
    assert "Alarms (2)" in page
    assert "never reported" in page
    assert "revoked" in page
    assert "An alarm is a meter" in page
    assert 'href="/users"' not in page  # readonly: no users page


def test_meter_page_has_the_consumption_chart_and_load_profile(sqlite_console: Console) -> None:
    client, _ = console_login(sqlite_console, "olivia")
    page = client.get("/meters/E1").text
    bars = re.findall(r'<rect class="bar"[^>]*data-day="([^"]+)" data-value="(\d+)"', page)
    assert bars == [("2023-11-15", "23750"), ("2023-11-16", "24000")]
    profile = re.search(r'<polyline class="line" points="([^"]+)" data-count="(\d+)"', page)
    assert profile is not None
    assert profile.group(2) == "96"
    assert len(profile.group(1).split()) == 96
    assert "Send time sync" in page  # the operator may queue commands
    assert "Event timeline" in page
    assert "No events in the last 30 days." in page
    assert re.search(r"<dt>SHA-256</dt><dd class=\"hash\">[0-9a-f]{64}</dd>", page)
    assert 'Serial 4242: <span class="tag active">active</span>' in page


def test_time_sync_from_the_meter_page(sqlite_console: Console) -> None:
    client, csrf = console_login(sqlite_console, "olivia")
    refused = client.post("/meters/E1/time-sync", data={"csrf_token": "wrong"})
    assert refused.status_code == 403
    sent = client.post("/meters/E1/time-sync", data={"csrf_token": csrf}, follow_redirects=False)
    assert sent.status_code == 303
    command_id = int(sent.headers["location"].rsplit("=", 1)[1])
    row = sqlite_console.store.get_command(command_id)
    assert row is not None
    assert row.meter_id == "E1"
    assert f"Time-sync command {command_id} queued" in client.get(sent.headers["location"]).text


def test_readonly_users_get_403_pages_for_what_they_may_not_do(sqlite_console: Console) -> None:
    client, csrf = console_login(sqlite_console, "rita")
    assert client.get("/audit").status_code == 403
    assert client.get("/users").status_code == 403
    denied = client.post("/meters/E1/time-sync", data={"csrf_token": csrf})
    assert denied.status_code == 403
    assert "may not commands.queue" in denied.text


def test_ledger_page_without_a_ledger(sqlite_console: Console) -> None:
    client, _ = console_login(sqlite_console, "rita")
    page = client.get("/ledger").text
    assert "The ledger is not configured" in page
    assert "No verification run is recorded yet" in page


def test_ledger_page_names_the_tampered_records_of_the_last_run(sqlite_console: Console) -> None:
    tally = Tally(limit=10, batches=4)
    tally.add(Finding(FindingKind.ALTERED_READING, "E1", 1, "register 1: stored 9, signed 8"))
    report = VerifyReport(tree_size=9, origin="meterseal.test/log", tally=tally, elapsed_s=1.0)
    record_verification(sqlite_console.store, report, int(sqlite_console.clock.now))
    client, _ = console_login(sqlite_console, "rita")
    page = client.get("/ledger").text
    findings = page.split('id="findings"', 1)[1]
    assert "ALTERED_READING" in findings
    assert '<a href="/meters/E1">E1</a>' in findings
    assert "register 1: stored 9, signed 8" in findings
    assert "1 finding<" in page


def test_ledger_page_shows_checkpoint_and_witness(
    sqlite_store: ConsoleStore, tmp_path: Path
) -> None:
    ledger = witnessed_ledger(tmp_path / "ledger-data")
    try:
        console = build_console(sqlite_store, Clock(), ledger=ledger)
        client, _ = console_login(console, "audrey")
        page = client.get("/ledger").text
        status = console.as_role("auditor").get("/api/ledger").json()
        proof = console.as_role("auditor").get("/api/ledger/proof?index=1&tree_size=3")
    finally:
        ledger.close()
    assert '<dd id="tree-size">3</dd>' in page
    assert "Signatures (1 witness)" in page
    assert "witness: witness.test" in page
    assert status["tree_size"] == 3
    assert status["witness_cosignatures"] == 1
    assert [s["role"] for s in status["signatures"]].count("log") >= 1
    assert proof.status_code == 200
    assert len(proof.json()["hashes"]) == 2  # RFC 9162: leaf 1 of 3 has a two-node path


def test_audit_page_lists_the_entries_a_page_at_a_time(sqlite_console: Console) -> None:
    store = sqlite_console.store
    for n in range(120):
        store.append_audit(n, "root", "user.add", f"bulk{n}", detail={}, outcome="ok")
    client, _ = console_login(sqlite_console, "audrey")
    page = client.get("/audit").text
    assert "session.login" in page  # the newest entry: audrey logging in
    older = re.search(r'href="/audit\?before=(\d+)"', page)
    assert older is not None
    second = client.get(f"/audit?before={older.group(1)}").text
    assert "bulk0<" in second
    assert "bulk0<" not in page


def test_the_fleet_list_filters_by_type_and_state(sqlite_console: Console) -> None:
    client, _ = console_login(sqlite_console, "rita")
    listed = client.get("/?type=electricity&state=registered").text
    table = listed.split('id="meters"', 1)[1]
    assert 'href="/meters/E1"' in table
    assert 'href="/meters/R1"' not in table
    assert 'href="/meters/W1"' not in table


def test_admin_adds_and_disables_users_from_the_users_page(sqlite_console: Console) -> None:
    client, csrf = console_login(sqlite_console, "root")
    added = client.post(
        "/users",
        data={
            "name": "erin",
            "password": "a long enough password",
            "role": "operator",
            "csrf_token": csrf,
        },
        follow_redirects=False,
    )
    assert added.status_code == 303
    user = sqlite_console.store.get_user("erin")
    assert user is not None
    assert user.role == "operator"
    disabled = client.post(
        "/users/erin/disabled",
        data={"disabled": "true", "csrf_token": csrf},
        follow_redirects=False,
    )
    assert disabled.status_code == 303
    erin = sqlite_console.store.get_user("erin")
    assert erin is not None
    assert erin.disabled
    assert (
        client.post(
            "/users/root/disabled", data={"disabled": "true", "csrf_token": csrf}
        ).status_code
        == 403
    )
    page = client.get("/users").text
    assert "erin" in page
    assert "$argon2" not in page


def test_logout_from_the_console(sqlite_console: Console) -> None:
    client, csrf = console_login(sqlite_console, "rita")
    out = client.post("/logout", data={"csrf_token": csrf}, follow_redirects=False)
    assert out.status_code == 303
    assert client.get("/", follow_redirects=False).status_code == 303


def test_the_fleet_list_comes_a_hundred_meters_a_page(sqlite_console: Console) -> None:
    store = sqlite_console.store
    for n in range(150):
        store.add_meter(meter(f"X{n:03d}", "gas", 2))
    client, _ = console_login(sqlite_console, "rita")
    first = client.get("/").text
    assert "Alarms (152)" in first  # 150 new meters never reported, plus G1 and R1
    assert "The first 100 are shown" in first
    rows = first.split('id="meters"', 1)[1].count("<tr><td")
    assert rows == 100
    assert 'href="/?page=1&amp;type=&amp;state="' in first
    second = client.get("/?page=1").text
    assert second.split('id="meters"', 1)[1].count("<tr><td") == 54
    assert "Previous meters" in second
    assert "Next meters" not in second
