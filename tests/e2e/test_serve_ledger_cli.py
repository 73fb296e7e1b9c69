"""``meterseal serve`` logs into its ledger: by default the in-process ledger under
DATA_DIR/ledger, which ``--ledger none`` turns off (the leaves then wait in the store)."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from meterseal.ledger.config import LedgerConfig
from meterseal.ledger.leaves import LeafKind, parse_leaf
from meterseal.ledger.local import open_local_ledger
from meterseal.store import open_store, sqlite_url

pytestmark = pytest.mark.timeout(120)

MAIN = [sys.executable, "-m", "meterseal.cli.main"]


def serve_and_simulate(data: Path, *flags: str) -> tuple[list[str], dict[str, int]]:
    """Serve from ``data``, upload a small fleet with ``simulate``, stop: the banner and
    the final counters."""
    process = subprocess.Popen(
        [
            *MAIN,
            "serve",
            "--data-dir",
            str(data),
            "--port",
            "0",
            "--console",
            "none",
            "--json",
            *flags,
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    assert process.stdout is not None
    banner: list[str] = []
    while not banner or not banner[-1].startswith("ready"):
        line = process.stdout.readline()
        assert line, f"serve exited before ready: {banner}"
        banner.append(line.rstrip("\n"))
    port = next(line for line in banner if line.startswith("listening on ")).rsplit(":", 1)[1]
    simulated = subprocess.run(
        [*MAIN, "simulate", "--meters", "4", "--headend", f"127.0.0.1:{port}", "--data-dir",
         str(data), "--json"],
        capture_output=True, text=True, check=False, timeout=120,
    )  # fmt: skip
    process.send_signal(signal.SIGTERM)
    output, _ = process.communicate(timeout=60)
    assert (simulated.returncode, process.returncode) == (0, 0), simulated.stderr
    return banner, json.loads(output.splitlines()[-1])


def test_serve_forwards_batches_and_handshakes_into_the_ledger_in_its_data_dir(
    tmp_path: Path,
) -> None:
    data = tmp_path / "data"
    banner, counters = serve_and_simulate(data)
    assert f"ledger: in process, {data / 'ledger'}" in banner
    ledger = open_local_ledger(LedgerConfig(data_dir=data))
    try:
        kinds = [parse_leaf(entry).KIND for entry in ledger.entries(0, ledger.size())]
    finally:
        ledger.close()
    assert kinds.count(LeafKind.BATCH_ACCEPTED) == counters["batches_accepted"] == 4
    assert kinds.count(LeafKind.AUTHENTICATION) == counters["auth_results_logged"] >= 4


def test_serve_without_a_ledger_keeps_the_leaves_queued_in_the_store(tmp_path: Path) -> None:
    data = tmp_path / "data"
    banner, counters = serve_and_simulate(data, "--ledger", "none")
    assert "ledger: none (leaves stay queued in the store)" in banner
    assert not (data / "ledger").exists()
    store = open_store(sqlite_url(data))
    try:
        queued = store.count_pending_leaves()
    finally:
        store.close()
    assert queued == counters["batches_accepted"] + counters["auth_results_logged"]
