"""Every REST endpoint against every role, and without credentials (issue 6).

The expectations are written out here by hand, endpoint by endpoint, not derived from
:mod:`meterseal.api.roles`: the test checks the permission table, it does not restate it.
``A`` admin, ``O`` operator, ``U`` auditor, ``R`` readonly, ``-`` no credentials.
"""

from __future__ import annotations

from typing import Any

import pytest
from console_support import NOW, T0, Console

pytest_plugins = ["console_fixtures"]

ROLES = ("admin", "operator", "auditor", "readonly")

# (method, path, JSON body, expected status for admin, operator, auditor, readonly, none)
MATRIX: list[tuple[str, str, dict[str, Any] | None, tuple[int, int, int, int, int]]] = [
    ("GET", "/api/session", None, (200, 200, 200, 200, 401)),
    ("GET", "/api/roles", None, (200, 200, 200, 200, 401)),
    ("GET", "/api/fleet", None, (200, 200, 200, 200, 401)),
    ("GET", "/api/alarms", None, (200, 200, 200, 200, 401)),
    ("GET", "/api/meters", None, (200, 200, 200, 200, 401)),
    ("GET", "/api/meters?type=water", None, (200, 200, 200, 200, 401)),
    ("GET", "/api/meters/E1", None, (200, 200, 200, 200, 401)),
    ("GET", "/api/meters/E1/credential", None, (200, 200, 200, 200, 401)),
    ("GET", "/api/meters/E1/keys", None, (200, 403, 200, 403, 401)),
    ("GET", f"/api/meters/E1/events?start={T0}&end={T0 + 86400}", None, (200, 200, 200, 200, 401)),
    (
        "GET",
        f"/api/meters/E1/readings?start={T0}&end={T0 + 3600}",
        None,
        (200, 200, 200, 200, 401),
    ),
    (
        "GET",
        "/api/meters/E1/consumption?start_day=2023-11-15&end_day=2023-11-16",
        None,
        (200, 200, 200, 200, 401),
    ),
    ("GET", "/api/ledger", None, (200, 200, 200, 200, 401)),
    ("GET", "/api/ledger/proof?index=0&tree_size=1", None, (503, 503, 503, 503, 401)),
    ("GET", "/api/ledger/verifications", None, (200, 200, 200, 200, 401)),
    ("POST", "/api/meters/E1/commands/time-sync", None, (201, 201, 403, 403, 401)),
    ("GET", "/api/commands/{command}", None, (200, 200, 200, 200, 401)),
    ("GET", "/api/audit", None, (200, 403, 200, 403, 401)),
    ("GET", "/api/users", None, (200, 403, 200, 403, 401)),
    (
        "POST",
        "/api/users",
        {"name": "newbie", "password": "a long enough password", "role": "readonly"},
        (201, 403, 403, 403, 401),
    ),
    ("PATCH", "/api/users/target", {"disabled": True}, (200, 403, 403, 403, 401)),
    ("GET", "/api/users/target/tokens", None, (200, 403, 200, 403, 401)),
    ("POST", "/api/users/target/tokens", {"role_cap": "readonly"}, (201, 403, 403, 403, 401)),
    ("DELETE", "/api/tokens/{spare_token}", None, (204, 403, 403, 403, 401)),
    ("DELETE", "/api/session", None, (204, 204, 204, 204, 401)),
]


def _prepare(console: Console) -> dict[str, int]:
    """A command and a spare token for the routes that need an id."""
    auth = console.app.state.context.auth
    _, spare = auth.issue_token("target", "readonly", "spare")
    queued = console.as_role("admin").post("/api/meters/E1/commands/time-sync")
    assert queued.status_code == 201
    return {"command": queued.json()["command_id"], "spare_token": spare.token_id}


@pytest.mark.parametrize(
    ("method", "path", "body", "expected"), MATRIX, ids=[f"{m} {p}" for m, p, _, _ in MATRIX]
)
def test_each_role_gets_what_the_table_says(
    console: Console,
    method: str,
    path: str,
    body: dict[str, Any] | None,
    expected: tuple[int, int, int, int, int],
) -> None:
    url = path.format(**_prepare(console))
    got = {}
    # denied roles and anonymous first, so an allowed mutation cannot change their answer
    order = sorted(range(5), key=lambda i: expected[i] < 400)
    for i in order:
        client = console.client() if i == 4 else console.as_role(ROLES[i])
        got[i] = client.request(method, url, json=body).status_code
    assert [got[i] for i in range(5)] == list(expected)


def test_every_api_route_is_in_the_matrix(console: Console) -> None:
    schema = console.client().get("/api/openapi.json").json()
    routes = {(m.upper(), p) for p, ops in schema["paths"].items() for m in ops}
    named = {
        "/api/meters/{meter_id}": "/api/meters/E1",
        "/api/commands/{command_id}": "/api/commands/{command}",
        "/api/users/{name}": "/api/users/target",
        "/api/tokens/{token_id}": "/api/tokens/{spare_token}",
    }
    covered = {(m, p.split("?")[0]) for m, p, _, _ in MATRIX}
    for method, route in routes:
        if (method, route) == ("POST", "/api/session"):
            continue  # logging in is for everyone; see test_console_auth
        concrete = named.get(route, route).replace("{meter_id}", "E1").replace("{name}", "target")
        assert (method, concrete) in covered, f"{method} {route} is not in the matrix"


def test_denied_state_changes_are_audited(console: Console) -> None:
    assert console.as_role("operator").post("/api/users", json={}).status_code in (403, 422)
    assert console.as_role("readonly").patch("/api/users/target", json={}).status_code == 403
    denied = [r for r in console.store.list_audit() if r.outcome == "denied"]
    assert {(r.actor, r.target) for r in denied} >= {("rita", "/api/users/target")}


def test_the_clock_is_the_settings_clock(console: Console) -> None:
    fleet = console.as_role("readonly").get("/api/fleet").json()
    # E1 and W1 reported five minutes before NOW: no silent alarm for them
    kinds = {alarm["meter_id"]: alarm["kind"] for alarm in fleet["alarms"]}
    assert kinds == {"G1": "never_reported", "R1": "revoked"}
    console.clock.now = NOW + 3 * 900
    later = console.as_role("readonly").get("/api/fleet").json()
    assert {a["meter_id"]: a["kind"] for a in later["alarms"]}["E1"] == "silent"


def test_the_roles_endpoint_publishes_the_table(console: Console) -> None:
    table = console.as_role("readonly").get("/api/roles").json()
    assert set(table) == set(ROLES)
    assert "users.manage" in table["admin"]
    assert "users.manage" not in table["auditor"]
    assert "keys.read" not in table["operator"]
    assert "commands.queue" not in table["readonly"]
