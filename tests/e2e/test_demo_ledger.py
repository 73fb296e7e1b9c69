"""The demo's ledger, end to end: every accepted batch, handshake and command is logged once
in the in-process ledger under DATA_DIR/ledger, and the summary says so."""

from __future__ import annotations

import argparse
import asyncio
import json
import sqlite3
from pathlib import Path

import pytest

from meterseal.cli.demo_command import run_demo_command
from meterseal.demo import DemoOptions, run_demo
from meterseal.headend.ledger_forwarder import authentication_leaf
from meterseal.ledger.config import LedgerConfig
from meterseal.ledger.leaves import BatchAccepted, leaf_data, parse_leaf
from meterseal.ledger.local import open_local_ledger
from meterseal.store import open_store, sqlite_url


def test_the_demo_logs_each_batch_handshake_and_command_once(tmp_path: Path) -> None:
    summary = asyncio.run(run_demo(DemoOptions(meters=9, days=2, data_dir=tmp_path)))
    stats, ledger = summary.headend, summary.ledger
    assert summary.exactly_once
    assert summary.ledger_complete
    assert ledger.by_kind == {
        "batch_accepted": 18,
        "authentication": stats.auth_results_logged,
        "operator_command": 3,
    }
    assert stats.auth_results_logged == stats.handshakes_ok + stats.handshakes_failed >= 9
    assert ledger.tree_size == ledger.leaves == 18 + stats.auth_results_logged + 3
    assert ledger.pending == 0
    log = open_local_ledger(LedgerConfig(data_dir=tmp_path))
    store = open_store(sqlite_url(tmp_path))
    try:
        entries = list(log.entries(0, log.size()))
        stored = sorted(
            leaf_data(BatchAccepted(row.meter_id, row.batch_seq, row.batch_hash))
            for row in store.iter_batches()
        )
    finally:
        log.close()
        store.close()
    assert sorted(e for e in entries if isinstance(parse_leaf(e), BatchAccepted)) == stored


def test_leaves_an_earlier_run_left_queued_are_forwarded_and_counted(tmp_path: Path) -> None:
    store = open_store(sqlite_url(tmp_path))
    try:
        store.enqueue_leaves([authentication_leaf("LEFT-1", None, 1000)], now=1000)
    finally:
        store.close()
    summary = asyncio.run(run_demo(DemoOptions(meters=3, data_dir=tmp_path)))
    assert summary.ledger.queued_before == 1
    assert summary.ledger_complete
    assert summary.ledger.by_kind["authentication"] == summary.headend.auth_results_logged + 1


def test_the_demo_json_gains_the_ledger_fields_and_keeps_the_old_ones(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = argparse.Namespace(meters=4, days=1, data_dir=tmp_path, seed=1, json=True, console=None)
    assert run_demo_command(args) == 0
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    for key in ("meters", "batches_accepted", "readings_stored", "exactly_once", "data_dir"):
        assert key in summary
    assert summary["ledger_dir"] == str(tmp_path / "ledger")
    assert summary["ledger_checkpoint_origin"] == "meterseal.local/ledger"
    assert summary["ledger_complete"] is True
    assert summary["ledger_witnessed"] is True
    assert summary["ledger_pending"] == 0
    expected = (
        summary["batches_accepted"] + summary["handshakes_ok"] + summary["handshakes_failed"] + 3
    )
    assert summary["ledger_tree_size"] == summary["ledger_checkpoint_size"] == expected
    assert summary["ledger_leaves"] == summary["ledger_leaves_expected"] == expected


def test_the_demo_verifies_its_store_against_the_ledger_and_fails_on_a_tampered_reading(
    tmp_path: Path,
) -> None:
    first = asyncio.run(run_demo(DemoOptions(meters=3, data_dir=tmp_path)))
    with sqlite3.connect(tmp_path / "meterseal-store.db") as conn:
        changed = conn.execute(
            "UPDATE interval_readings SET energy_import_wh = energy_import_wh + 1"
            " WHERE (meter_ref, at, batch_seq) = (SELECT meter_ref, at, batch_seq"
            " FROM interval_readings WHERE energy_import_wh IS NOT NULL LIMIT 1)"
        ).rowcount
    second = asyncio.run(run_demo(DemoOptions(meters=3, data_dir=tmp_path)))
    assert first.verified.clean
    assert first.ledger.witnessed
    assert second.ledger.witnessed  # the witness's state carried over from the first run
    assert first.verified.batches == 3
    assert first.succeeded
    assert changed == 1
    assert second.exactly_once  # the second run's own batches are fine ...
    assert second.verified.findings == 1  # ... but the first run's altered reading is named
    assert second.verified.batches == 6
    assert not second.succeeded
