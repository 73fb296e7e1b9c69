"""What the data endpoints answer: fleet counts, meters, readings, consumption, commands."""

from __future__ import annotations

from console_support import T0, Console

from meterseal.api.verification import record_verification
from meterseal.ledger.leaves import OperatorCommand, parse_leaf
from meterseal.ledger.verify_findings import Finding, FindingKind, Tally, VerifyReport

pytest_plugins = ["console_fixtures"]


def test_fleet_counts_by_type_suite_and_state(console: Console) -> None:
    fleet = console.as_role("readonly").get("/api/fleet").json()
    assert fleet["meters"] == 4
    assert fleet["by_type"] == {"electricity": 2, "gas": 1, "water": 1}
    assert fleet["by_suite"] == {"-24": 1, "2": 3}
    assert fleet["by_state"] == {"registered": 3, "revoked": 1}
    assert fleet["alarm_total"] == 2
    assert "two reading intervals" in fleet["alarm_rule"]


def test_meters_filter_by_type_suite_and_state(console: Console) -> None:
    client = console.as_role("readonly")

    def ids(query: str) -> list[str]:
        return [m["meter_id"] for m in client.get(f"/api/meters{query}").json()]

    assert ids("") == ["E1", "G1", "R1", "W1"]
    assert ids("?type=electricity") == ["E1", "R1"]
    assert ids("?suite=-24") == ["G1"]
    assert ids("?state=revoked") == ["R1"]
    assert ids("?type=electricity&state=registered") == ["E1"]


def test_meter_detail_has_last_seen_and_latest_values(console: Console) -> None:
    detail = console.as_role("readonly").get("/api/meters/E1").json()
    assert detail["last_seen"] == T0 + 2 * 86_400
    assert detail["last_batch_seq"] == 1
    assert detail["firmware"] is None
    latest = {value["name"]: value["value"] for value in detail["latest"]}
    assert latest["energy_import_wh"] == 191 * 250
    assert latest["power_w"] == 500 + (95 % 24) * 40


def test_unknown_meters_are_404_json(console: Console) -> None:
    client = console.as_role("admin")
    for path in ("/api/meters/NOPE", "/api/meters/NOPE/credential", "/api/meters/NOPE/keys"):
        response = client.get(path)
        assert response.status_code == 404
        assert response.json() == {"error": "not_found", "detail": "no meter 'NOPE'"}
    readings = client.get(f"/api/meters/NOPE/readings?start={T0}&end={T0 + 60}")
    assert readings.status_code == 404
    assert client.post("/api/meters/NOPE/commands/time-sync").status_code == 404


def test_readings_are_the_register_values_in_range(console: Console) -> None:
    rows = console.as_role("readonly").get(f"/api/meters/E1/readings?start={T0}&end={T0 + 3600}")
    body = rows.json()
    assert len(body) == 3 * 5  # three intervals end in [T0, T0+1h), five registers each
    energy = [r["value"] for r in body if r["name"] == "energy_import_wh"]
    assert energy == [0, 250, 500]
    assert {r["at"] for r in body} == {T0 + 900, T0 + 1800, T0 + 2700}


def test_reading_ranges_are_bounded(console: Console) -> None:
    client = console.as_role("readonly")
    assert client.get(f"/api/meters/E1/readings?start={T0}&end={T0}").status_code == 400
    too_long = client.get(f"/api/meters/E1/readings?start={T0}&end={T0 + 32 * 86_400}")
    assert too_long.status_code == 400
    assert too_long.json()["error"] == "bad_request"
    assert client.get("/api/meters/E1/readings?start=-1&end=5").status_code == 422


def test_daily_consumption_per_utc_day(console: Console) -> None:
    client = console.as_role("readonly")
    days = client.get("/api/meters/E1/consumption?start_day=2023-11-01&end_day=2023-11-30")
    assert days.json() == [
        {"day": "2023-11-15", "consumption": 95 * 250},
        {"day": "2023-11-16", "consumption": 96 * 250},
    ]
    water = client.get("/api/meters/W1/consumption?start_day=2023-11-16&end_day=2023-11-16")
    assert water.json() == [{"day": "2023-11-16", "consumption": 96 * 3}]
    backwards = client.get("/api/meters/E1/consumption?start_day=2023-11-16&end_day=2023-11-15")
    assert backwards.status_code == 400


def test_a_time_sync_is_signed_and_queued_for_the_meter(console: Console) -> None:
    queued = console.as_role("operator").post("/api/meters/E1/commands/time-sync")
    assert queued.status_code == 201
    body = queued.json()
    assert body["meter_id"] == "E1"
    assert body["state"] == "queued"
    assert body["expires_at"] - body["created_at"] == 300
    row = console.store.get_command(body["command_id"])
    assert row is not None
    assert row.signed_command  # signed with the head-end's command key for suite 2
    assert "signed_command" not in body
    read = console.as_role("readonly").get(f"/api/commands/{body['command_id']}")
    assert read.json() == body
    leaves = [parse_leaf(leaf) for _, leaf in console.store.pending_leaves(1000)]
    [logged] = [leaf for leaf in leaves if isinstance(leaf, OperatorCommand)]
    assert (logged.operator, logged.meter_id, logged.command_id) == ("olivia", "E1", row.command_id)


def test_a_meter_whose_suite_has_no_command_key_gets_503(console: Console) -> None:
    response = console.as_role("operator").post("/api/meters/G1/commands/time-sync")
    assert response.status_code == 503
    assert "no command key" in response.json()["detail"]
    failed = console.store.list_audit(limit=1)[0]
    assert (failed.action, failed.target, failed.outcome) == ("command.time_sync", "G1", "failed")


def test_without_a_ledger_the_status_says_so(console: Console) -> None:
    client = console.as_role("readonly")
    assert client.get("/api/ledger").json()["configured"] is False
    proof = client.get("/api/ledger/proof?index=0&tree_size=1")
    assert proof.status_code == 503


def test_credential_status_lists_issued_credentials_without_key_bytes(console: Console) -> None:
    status = console.as_role("operator").get("/api/meters/E1/credential").json()
    assert status["state"] == "registered"
    assert len(status["credential_sha256"]) == 64
    [issued] = status["issued"]
    assert issued["serial"] == 4242
    assert issued["state"] == "active"
    assert issued["not_after"] == T0 + 365 * 86_400
    assert "credential" not in issued  # the hash only
    assert console.as_role("operator").get("/api/meters/W1/credential").json()["issued"] == []


def _report(findings: list[Finding]) -> VerifyReport:
    tally = Tally(limit=2, batches=4, intervals=384, log_batches=4)
    for finding in findings:
        tally.add(finding)
    return VerifyReport(tree_size=9, origin="meterseal.test/log", tally=tally, elapsed_s=0.25)


def test_verification_runs_are_recorded_and_the_last_one_shown(console: Console) -> None:
    client = console.as_role("readonly")
    assert client.get("/api/ledger").json()["last_verification"] is None
    record_verification(console.store, _report([]), T0)
    tampered = [
        Finding(
            FindingKind.ALTERED_READING, "E1", 1, "interval end 5 register 1: stored 9, signed 8"
        ),
        Finding(FindingKind.MISSING_FROM_STORE, "W1", 0, "logged, not stored"),
        Finding(FindingKind.ALTERED, "E1", 0, "hash differs"),
    ]
    record_verification(console.store, _report(tampered), T0 + 60)
    last = client.get("/api/ledger").json()["last_verification"]
    assert last["clean"] is False
    assert last["findings"] == 3
    assert last["by_kind"] == {"ALTERED": 1, "ALTERED_READING": 1, "MISSING_FROM_STORE": 1}
    assert [f["meter_id"] for f in last["sample"]] == ["E1", "W1"]  # the run kept two
    runs = client.get("/api/ledger/verifications").json()
    assert [run["clean"] for run in runs] == [False, True]
    assert runs[1]["batches"] == 4


def test_meters_and_alarms_come_a_page_at_a_time(console: Console) -> None:
    client = console.as_role("readonly")
    page = client.get("/api/meters?offset=1&limit=2").json()
    assert [m["meter_id"] for m in page] == ["G1", "R1"]
    assert client.get("/api/meters?limit=0").status_code == 422
    alarms = client.get("/api/alarms").json()
    assert [(a["meter_id"], a["kind"]) for a in alarms] == [
        ("G1", "never_reported"),
        ("R1", "revoked"),
    ]
    assert [a["meter_id"] for a in client.get("/api/alarms?offset=1").json()] == ["R1"]
