"""The one-command demo, end to end: keys, store, head-end, fleet, and the final check."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from pathlib import Path

from meterseal.demo import KEYSTORE_NAME, DemoOptions, run_demo
from meterseal.store import open_store, sqlite_url


def test_demo_stores_every_batch_of_a_mixed_fleet_exactly_once(tmp_path: Path) -> None:
    summary = asyncio.run(run_demo(DemoOptions(meters=12, days=2, data_dir=tmp_path)))
    assert summary.exactly_once
    assert summary.batches_produced == 24
    assert summary.handshakes_ok >= 12
    assert summary.headend.batches_rejected == 0
    assert summary.commands_acked == 3
    assert set(summary.by_suite) == {"2", "0", "-24"}
    assert set(summary.by_type) == {"electricity", "water", "gas"}
    store = open_store(sqlite_url(tmp_path))
    try:
        assert store.count_batches() == 24
    finally:
        store.close()


def test_demo_keys_persist_in_the_encrypted_keystore_across_runs(tmp_path: Path) -> None:
    asyncio.run(run_demo(DemoOptions(meters=3, data_dir=tmp_path)))
    keystore = (tmp_path / KEYSTORE_NAME).read_bytes()
    summary = asyncio.run(run_demo(DemoOptions(meters=3, data_dir=tmp_path, seed=2)))
    assert summary.exactly_once
    assert b"headend" not in keystore  # labels and keys are sealed, not in the clear


def test_demo_command_prints_one_json_object_last(tmp_path: Path) -> None:
    completed = subprocess.run(
        [
            sys.executable,
            "-m",
            "meterseal.cli.main",
            "demo",
            "--meters",
            "6",
            "--json",
            "--data-dir",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    assert completed.returncode == 0, completed.stderr
    summary = json.loads(completed.stdout.strip().splitlines()[-1])
    for key in (
        "meters",
        "handshakes_ok",
        "handshakes_failed",
        "batches_accepted",
        "batches_rejected",
        "readings_stored",
        "data_dir",
    ):
        assert key in summary
    assert summary["meters"] == 6
    assert summary["batches_accepted"] == 6
    assert summary["readings_stored"] == 6 * 96
    assert summary["data_dir"] == str(tmp_path)
