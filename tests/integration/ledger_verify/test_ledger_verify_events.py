"""``ledger verify`` compares the stored event rows (``meter_events``) with the signed batches:
an altered, deleted or added event row is an ALTERED_EVENT naming meter, sequence and event."""

from __future__ import annotations

from dataclasses import replace

import pytest
from ledger_verify_support import Filled, kinds, only

from meterseal.crypto.suites import SUITE_0
from meterseal.headend.ingest import batch_item
from meterseal.headend.testing import electricity_batch, make_meter, seeded
from meterseal.ledger.leaves import batch_accepted, leaf_data
from meterseal.ledger.verify import StoreOpener
from meterseal.ledger.verify_findings import FindingKind
from meterseal.messages.events import EventKind, MeterEvent

pytest_plugins = ["ledger_verify_fixtures"]  # opener (SQLite, PostgreSQL)

AT = 1_736_121_600
EVENTS = (
    MeterEvent(EventKind.COVER_OPENED, AT + 60, 12),
    MeterEvent(EventKind.REVERSE_FLOW, AT + 120, 340),
)


@pytest.fixture
def with_events(opener: StoreOpener) -> Filled:
    """Two meters of three batches; batch 1 of each carries two events."""
    store = opener()
    leaves = []
    try:
        for meter_id in ("EV000000", "EV000001"):
            sim = make_meter(meter_id, suite=SUITE_0, rng=seeded(meter_id))
            store.add_meter(sim.record())
            items = []
            for seq in range(3):
                batch = electricity_batch(meter_id, seq, 4)
                if seq == 1:
                    batch = replace(batch, events=EVENTS)
                signed = sim.signed(batch)
                items.append(batch_item(batch, signed, 1_000_000 + seq))
                leaves.append(leaf_data(batch_accepted(meter_id, seq, signed)))
            store.store_batches(items)
    finally:
        store.close()
    return Filled(opener, leaves, 2, 3)


def _ref(filled: Filled, meter_id: str) -> int:
    store = filled.opener()
    try:
        with store._reading() as query:
            row = query.one("SELECT id FROM meters WHERE meter_id = ?", (meter_id,))
    finally:
        store.close()
    assert row is not None
    return int(row[0])


def test_untouched_event_rows_verify_clean(with_events: Filled) -> None:
    report = with_events.verify()
    assert report.clean, [f.line() for f in report.tally.findings]
    assert report.tally.batches == 6


def test_an_altered_event_row_is_named(with_events: Filled) -> None:
    ref = _ref(with_events, "EV000001")
    changed = with_events.sql(
        "UPDATE meter_events SET detail = 0 WHERE meter_ref = ? AND batch_seq = 1 AND idx = 1",
        (ref,),
    )
    assert changed == 1
    report = with_events.verify()
    assert kinds(report) == {"ALTERED_EVENT": 1}
    [finding] = report.tally.findings
    assert (finding.meter_id, finding.batch_seq) == ("EV000001", 1)
    assert "event 1" in finding.detail
    assert "stored (1736121720, 4, 0)" in finding.detail
    assert "signed (1736121720, 4, 340)" in finding.detail


def test_a_deleted_event_row_is_named(with_events: Filled) -> None:
    ref = _ref(with_events, "EV000000")
    with_events.sql("DELETE FROM meter_events WHERE meter_ref = ? AND idx = 0", (ref,))
    [finding] = only(with_events.verify(), FindingKind.ALTERED_EVENT)
    assert (finding.meter_id, finding.batch_seq) == ("EV000000", 1)
    assert "event 0" in finding.detail
    assert "stored none" in finding.detail


def test_added_event_rows_are_named_with_or_without_a_batch(with_events: Filled) -> None:
    ref = _ref(with_events, "EV000000")
    insert = (
        "INSERT INTO meter_events (meter_ref, batch_seq, idx, at, kind, detail)"
        " VALUES (?, ?, 0, ?, 1, 5)"
    )
    with_events.sql(insert, (ref, 2, AT))
    with_events.sql(insert, (ref, 9, AT))
    report = with_events.verify()
    assert kinds(report) == {"ALTERED_EVENT": 2}
    found = {(f.batch_seq, f.detail.split(":")[0]) for f in report.tally.findings}
    assert found == {
        (2, "event 0 (at, kind, detail)"),
        (9, "1 event rows under a batch sequence that is not stored"),
    }
