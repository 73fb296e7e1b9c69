"""Meter events in the REST API and the console: the events endpoint for every role, the
meter page's timeline, and tamper events as fleet alarms."""

from __future__ import annotations

import hashlib

from console_support import DAY, NOW, T0, Clock, Console, build_console
from test_console_pages import console_login

from meterseal.api.context import ConsoleStore
from meterseal.messages.events import EventKind
from meterseal.store import BatchRow, EventRow, StoreOutcome

pytest_plugins = ["console_fixtures"]

COVER = EventRow(NOW - 3600, int(EventKind.COVER_OPENED), 42)
OUTAGE = EventRow(NOW - 1800, int(EventKind.POWER_OUTAGE), 120)
OLD_MAGNET = EventRow(NOW - 20 * DAY, int(EventKind.MAGNETIC_INTERFERENCE), 300)


def _with_events(store: ConsoleStore) -> Console:
    console = build_console(store, Clock())
    signed = b"\xd2\x84 stand-in batch with events"
    row = BatchRow(
        "E1", 7, T0 + 2 * DAY, 900, signed, hashlib.sha256(signed).digest(), NOW, 0,
        (OLD_MAGNET, COVER, OUTAGE),
    )  # fmt: skip
    assert store.store_batches([(row, [])]) == [StoreOutcome.STORED]
    return console


def test_every_role_reads_a_meters_events_in_the_window(any_store: ConsoleStore) -> None:
    console = _with_events(any_store)
    path = f"/api/meters/E1/events?start={NOW - 2 * DAY}&end={NOW}"
    for role in ("admin", "operator", "auditor", "readonly"):
        response = console.as_role(role).get(path)
        assert response.status_code == 200, (role, response.text)
        assert [(e["kind"], e["detail"], e["tamper"]) for e in response.json()] == [
            ("cover_opened", 42, True),
            ("power_outage", 120, False),
        ]
    assert console.client().get(path).status_code == 401
    default = console.as_role("readonly").get("/api/meters/E1/events").json()
    assert [e["index"] for e in default] == [0, 1, 2]  # the last 30 days
    assert default[0] == {
        "meter_id": "E1",
        "batch_seq": 7,
        "index": 0,
        "at": OLD_MAGNET.at,
        "kind": "magnetic_interference",
        "kind_code": int(EventKind.MAGNETIC_INTERFERENCE),
        "detail": 300,
        "tamper": True,
    }
    assert console.as_role("admin").get("/api/meters/NOPE/events").status_code == 404


def test_meter_page_shows_the_event_timeline_newest_first(any_store: ConsoleStore) -> None:
    console = _with_events(any_store)
    client, _ = console_login(console, "rita")
    page = client.get("/meters/E1").text
    timeline = page[page.index('id="event-list"') :]
    kinds = [
        kind
        for kind in ("power outage", "cover opened", "magnetic interference")
        if kind in timeline
    ]
    assert kinds == ["power outage", "cover opened", "magnetic interference"]
    assert timeline.index("power outage") < timeline.index("cover opened")
    assert timeline.index("cover opened") < timeline.index("magnetic interference")
    assert '<span class="tag tamper">cover opened</span>' in timeline
    assert '<span class="tag">power outage</span>' in timeline


def test_recent_tamper_events_are_fleet_alarms_beside_not_seen(any_store: ConsoleStore) -> None:
    console = _with_events(any_store)
    fleet = console.as_role("readonly").get("/api/fleet").json()
    tamper = [a for a in fleet["alarms"] if a["kind"] == "tamper"]
    # the cover opened an hour ago; the magnet 20 days ago is older than the 7-day window
    assert tamper == [
        {"meter_id": "E1", "kind": "tamper", "detail": "cover opened (detail 42, batch 7)",
         "since": COVER.at},
    ]  # fmt: skip
    assert {a["kind"] for a in fleet["alarms"]} == {"tamper", "never_reported", "revoked"}
    assert fleet["alarm_total"] == 3
    assert "tamper event" in fleet["alarm_rule"]
    listed = console.as_role("operator").get("/api/alarms").json()
    assert [a["kind"] for a in listed if a["meter_id"] == "E1"] == ["tamper"]
    client, _ = console_login(console, "rita")
    page = client.get("/").text
    assert "Alarms (3)" in page
    assert "cover opened (detail 42, batch 7)" in page
    assert "magnetic interference (detail" not in page
    assert "in the last 7 days" in page
