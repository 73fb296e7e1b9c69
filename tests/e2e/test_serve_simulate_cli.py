"""``meterseal serve`` and ``meterseal simulate`` as an operator runs them: two processes,
a data directory, a port, and what they print."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.timeout(120)

MAIN = [sys.executable, "-m", "meterseal.cli.main"]


@dataclass
class Served:
    """A running ``meterseal serve`` and the lines it printed before it was ready."""

    process: subprocess.Popen[str]
    banner: list[str]

    @property
    def port(self) -> int:
        """The port from ``listening on HOST:PORT``."""
        line = next(line for line in self.banner if line.startswith("listening on "))
        return int(line.rsplit(":", 1)[1])

    def stop(self) -> tuple[int, list[str]]:
        """SIGTERM; the exit code and the lines printed after the banner."""
        self.process.send_signal(signal.SIGTERM)
        output, _ = self.process.communicate(timeout=60)
        return self.process.returncode, output.splitlines()


def serve(data_dir: Path, *flags: str) -> Served:
    """Start ``meterseal serve --data-dir DATA_DIR --port 0 FLAGS`` and wait until ready."""
    with (data_dir.parent / f"{data_dir.name}-serve.log").open("a") as log:
        process = subprocess.Popen(
            [
                *MAIN,
                "serve",
                "--data-dir",
                str(data_dir),
                "--port",
                "0",
                "--console",
                "none",
                *flags,
            ],
            stdout=subprocess.PIPE,
            stderr=log,
            text=True,
        )
    assert process.stdout is not None
    banner: list[str] = []
    while not banner or not banner[-1].startswith("ready"):
        line = process.stdout.readline()
        if not line:
            process.wait(30)
            raise AssertionError(f"serve exited ({process.returncode}) before ready: {banner}")
        banner.append(line.rstrip("\n"))
    return Served(process, banner)


@pytest.fixture
def served(tmp_path: Path) -> Iterator[Served]:
    """A head-end serving from ``tmp_path/data``; killed if the test did not stop it."""
    running = serve(tmp_path / "data", "--json")
    yield running
    if running.process.poll() is None:
        running.process.kill()
        running.process.communicate(timeout=30)


def simulate(*args: str) -> tuple[int, list[str], dict[str, Any]]:
    """Run ``meterseal simulate ARGS --json``: exit code, output lines, the JSON line."""
    completed = subprocess.run(
        [*MAIN, "simulate", *args, "--json"],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    lines = completed.stdout.splitlines()
    assert lines, completed.stderr
    return completed.returncode, lines, json.loads(lines[-1])


def test_serve_prints_where_it_listens_and_where_its_data_lives(
    served: Served, tmp_path: Path
) -> None:
    data = tmp_path / "data"
    banner = "\n".join(served.banner)
    assert served.port > 0
    assert f"listening on 127.0.0.1:{served.port}" in banner
    assert f"data directory: {data}" in banner
    assert f"store: sqlite:///{data / 'meterseal-store.db'}" in banner
    assert f"crypto machine: software keystore {data / 'headend-keys.mskeys'}" in banner
    assert "suite 2: kid HE-2-dh (methods 1, 3), kid HE-2-sig (methods 0, 2)" in banner
    assert "suite -24: kid HE-24-dh" in banner
    assert "suite 0: kid HE-0-dh" in banner
    assert (data / "headend-trust.cbor").is_file()


def test_simulate_uploads_a_fleet_and_serve_reports_it_when_stopped(
    served: Served, tmp_path: Path
) -> None:
    data = str(tmp_path / "data")
    headend = f"127.0.0.1:{served.port}"
    code, lines, summary = simulate("--meters", "9", "--days", "2", "--headend", headend,
                                    "--data-dir", data)  # fmt: skip
    again, _, second = simulate("--meters", "3", "--headend", headend, "--data-dir", data)
    stopped, final = served.stop()
    assert (code, again, stopped) == (0, 0, 0)
    assert "result:     every honest batch acknowledged" in lines
    assert (summary["meters"], summary["batches_produced"], summary["batches_acked"]) == (9, 18, 18)
    assert (summary["complete"], summary["meters_incomplete"], summary["handshakes_failed"]) == (
        True,
        0,
        0,
    )
    assert set(summary["meters_by_suite"]) == {"2", "-24", "0"}
    assert (summary["id_prefix"], second["id_prefix"]) == ("SIM", "SIM2")  # a new fleet
    counters = json.loads(final[-1])
    assert "stopped; final counters:" in final
    assert "  batches_accepted: 21" in final
    assert (counters["handshakes_ok"], counters["batches_accepted"]) == (12, 21)
    assert counters["readings_stored"] > 0
    assert counters["connections"] == 0


def test_simulate_with_attacks_reports_each_refused_and_serve_counts_them(
    served: Served, tmp_path: Path
) -> None:
    modes = "unregistered,wrong-key,forged-signature,garbage-frames"
    code, lines, summary = simulate(
        "--meters", "4", "--headend", f"127.0.0.1:{served.port}",
        "--data-dir", str(tmp_path / "data"), "--attacks", modes,
    )  # fmt: skip
    _, final = served.stop()
    counters = json.loads(final[-1])
    assert code == 0
    assert (summary["complete"], summary["attacks_defended"]) == (True, True)
    assert {attack["mode"] for attack in summary["attacks"]} == set(modes.split(","))
    assert all(attack["defended"] for attack in summary["attacks"])
    assert sum(line.startswith("attack:") for line in lines) == len(summary["attacks"])
    assert counters["batches_rejected_by"] == {"bad_signature": 2}
    assert counters["handshakes_failed_by"] == {
        "unknown_meter": 1,
        "handshake_failed": 1,
        "framing": 3,
        "protocol": 1,
        "malformed": 1,
    }


def test_simulate_exits_non_zero_when_batches_are_not_acknowledged(
    served: Served, tmp_path: Path
) -> None:
    served.stop()  # the trust bundle and store remain; nothing listens any more
    code, lines, summary = simulate(
        "--meters", "2", "--headend", f"127.0.0.1:{served.port}",
        "--data-dir", str(tmp_path / "data"), "--max-attempts", "1",
    )  # fmt: skip
    assert code == 1
    assert (summary["complete"], summary["meters_incomplete"], summary["batches_acked"]) == (
        False,
        2,
        0,
    )
    assert "result:     FAILED: 2 meters have unacknowledged batches" in lines


def test_simulate_without_a_trust_bundle_says_to_start_serve_first(tmp_path: Path) -> None:
    completed = subprocess.run(
        [*MAIN, "simulate", "--meters", "1", "--headend", "127.0.0.1:7410",
         "--data-dir", str(tmp_path)],
        capture_output=True, text=True, check=False, timeout=60,
    )  # fmt: skip
    assert completed.returncode == 2
    assert f"no trust bundle at {tmp_path / 'headend-trust.cbor'}" in completed.stderr
    assert "meterseal serve" in completed.stderr


def test_simulate_refuses_a_trust_bundle_that_serve_did_not_write(tmp_path: Path) -> None:
    (tmp_path / "headend-trust.cbor").write_bytes(b"\xa1\x66format\x63xyz")  # CBOR, wrong
    completed = subprocess.run(
        [*MAIN, "simulate", "--meters", "1", "--headend", "127.0.0.1:7410",
         "--data-dir", str(tmp_path)],
        capture_output=True, text=True, check=False, timeout=60,
    )  # fmt: skip
    assert completed.returncode == 2
    assert "is not a head-end trust bundle: unknown format or version" in completed.stderr
