"""``meterseal demo --console``: after the run, the console serves the demo's data on
loopback, and the admin account it printed logs in and sees the fleet and the ledger."""

from __future__ import annotations

import re
import signal
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

pytestmark = [pytest.mark.slow, pytest.mark.timeout(180)]

MAIN = [sys.executable, "-m", "meterseal.cli.main"]
LOGIN_LINE = re.compile(r"log in as (\S+) with password (\S+) ")


def _until_console(process: subprocess.Popen[str]) -> tuple[str, str, str]:
    """Read the demo's output up to the login line: the URL, the name and the password."""
    assert process.stdout is not None
    url = ""
    for line in process.stdout:
        if line.startswith("console: "):
            url = line.split()[1]
        match = LOGIN_LINE.match(line)
        if match:
            return url, match.group(1), match.group(2)
    process.wait(30)
    raise AssertionError(f"the demo exited ({process.returncode}) without serving its console")


def test_demo_console_serves_the_demo_fleet_to_the_printed_admin(tmp_path: Path) -> None:
    process = subprocess.Popen(
        [*MAIN, "demo", "--meters", "6", "--data-dir", str(tmp_path), "--console", "127.0.0.1:0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        url, name, password = _until_console(process)
        with httpx.Client(base_url=url, timeout=20) as client:
            refused = client.get("/api/fleet")
            wrong = client.post("/api/session", json={"name": name, "password": "not-it-at-all"})
            session = client.post("/api/session", json={"name": name, "password": password})
            fleet = client.get("/api/fleet")
            checkpoint = client.get("/api/ledger")
    finally:
        process.send_signal(signal.SIGINT)
        process.communicate(timeout=60)
    assert url.startswith("http://127.0.0.1:")
    assert refused.status_code == 401
    assert wrong.status_code == 401
    assert session.status_code == 201
    assert fleet.status_code == 200
    assert fleet.json()["meters"] == 6
    assert checkpoint.status_code == 200
    assert checkpoint.json()["configured"] is True
    assert checkpoint.json()["tree_size"] > 6
    assert process.returncode == 0


def test_demo_console_refuses_an_address_off_loopback(tmp_path: Path) -> None:
    done = subprocess.run(
        [*MAIN, "demo", "--meters", "2", "--data-dir", str(tmp_path), "--console", "0.0.0.0:0"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 2
    assert "loopback" in done.stderr
