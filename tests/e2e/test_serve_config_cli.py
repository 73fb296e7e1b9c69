"""``meterseal serve --config FILE``: the TOML settings, flags over them, clear errors, and
the deployments they choose (PostgreSQL store; two workers on a PKCS#11 token)."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from meterseal.cli.main import main
from meterseal.config import ConfigError, load_settings, redact
from meterseal.hsm.config import SOFTHSM2_MODULE
from meterseal.store import open_store, sqlite_url
from meterseal.store.scratch import DEFAULT_TEST_DSN, postgres_reachable, scratch_schema

pytestmark = pytest.mark.timeout(120)

MAIN = [sys.executable, "-m", "meterseal.cli.main"]
PG_DSN = os.environ.get("METERSEAL_TEST_PG_DSN", DEFAULT_TEST_DSN)


def write_config(directory: Path, text: str) -> Path:
    """``directory/meterseal.toml`` holding ``text``."""
    path = directory / "meterseal.toml"
    path.write_text(text, encoding="utf-8")
    return path


class Serve:
    """``meterseal serve`` in a subprocess, ready when it said so."""

    def __init__(self, *args: str, env: dict[str, str] | None = None) -> None:
        self.process = subprocess.Popen(
            [*MAIN, "serve", "--console", "127.0.0.1:0", *args, "--json"],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
            env=env,
        )
        self.banner = self._banner()

    def _banner(self) -> list[str]:
        assert self.process.stdout is not None
        lines: list[str] = []
        while not lines or not lines[-1].startswith("ready"):
            line = self.process.stdout.readline()
            if not line:
                self.process.wait(30)
                raise AssertionError(f"serve exited ({self.process.returncode}): {lines}")
            lines.append(line.rstrip("\n"))
        return lines

    def line(self, prefix: str) -> str:
        """The banner line that starts with ``prefix``, without it."""
        return next(line for line in self.banner if line.startswith(prefix))[len(prefix) :]

    @property
    def port(self) -> int:
        """The port it listens on."""
        return int(self.line("listening on ").rsplit(":", 1)[1])

    def stop(self, signum: int = signal.SIGTERM) -> dict[str, object]:
        """Stop it with ``signum``; its final counters (the JSON line)."""
        self.process.send_signal(signum)
        output, _ = self.process.communicate(timeout=60)
        assert self.process.returncode == 0
        counters: dict[str, object] = json.loads(output.splitlines()[-1])
        return counters

    def reap(self) -> None:
        """Kill it if it still runs."""
        if self.process.poll() is None:
            self.process.kill()
            self.process.communicate(timeout=30)


@pytest.fixture
def reaper() -> Iterator[list[Serve]]:
    """Serve processes to kill at the end of the test, whatever happened."""
    started: list[Serve] = []
    yield started
    for served in started:
        served.reap()


def simulate(*args: str, env: dict[str, str] | None = None) -> dict[str, object]:
    """``meterseal simulate ARGS --json``; its JSON summary (exit code 0 asserted)."""
    completed = subprocess.run(
        [*MAIN, "simulate", *args, "--json"],
        capture_output=True, text=True, check=False, timeout=120, env=env,
    )  # fmt: skip
    assert completed.returncode == 0, completed.stdout + completed.stderr
    summary: dict[str, object] = json.loads(completed.stdout.splitlines()[-1])
    return summary


def closed_within(port: int, timeout: float) -> float:
    """Connect, send nothing; the seconds until the head-end closes (fails past timeout)."""
    began = time.monotonic()
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        assert sock.recv(1024) == b""
    return time.monotonic() - began


# --- the file and the flags -------------------------------------------------------------


def test_serve_reads_its_config_file_and_flags_override_it(
    tmp_path: Path, reaper: list[Serve]
) -> None:
    config = write_config(
        tmp_path,
        'data_dir = "from-file"\nsuites = [2]\n[listen]\nport = 0\n'
        "[limits]\nhandshake_timeout = 0.3\n",
    )
    first = Serve("--config", str(config))
    reaper.append(first)
    took = closed_within(first.port, timeout=10)
    first.stop()
    second = Serve("--config", str(config), "--data-dir", str(tmp_path / "flag"))
    reaper.append(second)
    counters = second.stop(signal.SIGINT)  # Ctrl-C stops it as gracefully as SIGTERM
    assert first.line("data directory: ") == str(tmp_path / "from-file")  # beside the file
    assert [line[:8] for line in first.banner if line.startswith("suite ")] == ["suite 2:"]
    assert took < 2.0  # the file's handshake timeout, not the default 10 s
    assert second.line("data directory: ") == str(tmp_path / "flag")
    assert second.line("store: ") == sqlite_url(tmp_path / "flag")
    assert counters["connections_total"] == 0


def test_serve_runs_the_console_beside_the_head_end_and_prints_its_url(
    tmp_path: Path, reaper: list[Serve]
) -> None:
    served = Serve("--data-dir", str(tmp_path), "--port", "0")
    reaper.append(served)
    url = served.line("console: ").split(" ", 1)[0]
    with httpx.Client(base_url=url, timeout=10) as client:
        login = client.get("/login")
        schema = client.get("/api/openapi.json")
        fleet = client.get("/api/fleet")  # no session: refused, not served
    served.stop()
    assert url.startswith("http://127.0.0.1:")
    assert login.status_code == 200
    assert "<form" in login.text
    assert schema.status_code == 200
    assert "/api/meters" in schema.json()["paths"]
    assert fleet.status_code == 401


BAD_CONFIGS = {
    "unknown-top-level-key": ("colour = 'blue'\n", "unknown key 'colour'"),
    "unknown-table-key": ("[listen]\nhots = 'x'\n", "unknown key listen.hots"),
    "unknown-limit": ("[limits]\nmax_batches = 3\n", "unknown key limits.max_batches"),
    "wrong-type": ("[listen]\nport = '7410'\n", "listen.port must be an integer"),
    "bool-is-no-integer": ("workers = true\n", "workers must be an integer"),
    "out-of-range": ("[listen]\nport = 70000\n", "listen.port must be 0 to 65535"),
    "not-a-table": ("limits = 3\n", "limits must be a table"),
    "unknown-suite": ("suites = [2, 99]\n", "cipher suite 99 is not supported"),
    "bad-machine-url": ("[crypto_machine]\nurl = 'hsm://x'\n", "crypto_machine.url"),
    "not-toml": ("data_dir = \n", "not valid TOML"),
    "bad-console": ("console = 'everywhere'\n", 'console must be "HOST:PORT" or "none"'),
}


@pytest.mark.parametrize("case", sorted(BAD_CONFIGS))
def test_serve_refuses_a_bad_config_file_naming_the_key(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], case: str
) -> None:
    text, message = BAD_CONFIGS[case]
    config = write_config(tmp_path, text)
    assert main(["serve", "--config", str(config)]) == 2
    error = capsys.readouterr().err
    assert message in error
    assert str(config) in error
    assert not (tmp_path / "meterseal-data").exists()  # refused before doing anything


def test_settings_defaults_put_store_and_keys_in_the_data_directory(tmp_path: Path) -> None:
    defaults = load_settings(None).override(data_dir=tmp_path)
    config = defaults.headend_config()
    assert (defaults.store, defaults.crypto_machine_url) == (sqlite_url(tmp_path), None)
    assert (config.host, config.port, config.workers) == ("127.0.0.1", 7410, 1)
    assert (config.handshake_timeout, config.idle_timeout, config.max_frame_body) == (
        10.0,
        120.0,
        16384,
    )
    with pytest.raises(ConfigError, match="workers must be at least 1"):
        defaults.override(workers=0)


def test_store_passwords_are_redacted_when_printed() -> None:
    assert redact("postgresql://ms:s3cret@db:5432/ms") == "postgresql://ms:***@db:5432/ms"
    assert redact("host=db password=s3cret user=ms") == "host=db password=*** user=ms"
    assert redact("sqlite:///var/lib/ms/store.db") == "sqlite:///var/lib/ms/store.db"


def test_serve_with_workers_on_the_software_keystore_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = tmp_path / "data"
    code = main(
        ["serve", "--data-dir", str(data), "--workers", "2", "--port", "0", "--console", "none"]
    )
    assert code == 2
    assert "workers > 1 needs a crypto machine that every worker process" in capsys.readouterr().err
    assert not data.exists()  # refused before making keys


# --- deployments ------------------------------------------------------------------------


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A DSN whose tables live in a scratch schema (dropped afterwards), or skip."""
    reason = postgres_reachable(PG_DSN)
    if reason is not None:
        pytest.skip(reason)
    with scratch_schema(PG_DSN, "test_serve_cli") as schema:
        yield f"{PG_DSN} options=-csearch_path={schema}"


def test_serve_and_simulate_on_a_postgresql_store_from_the_config(
    tmp_path: Path, postgres_url: str, reaper: list[Serve]
) -> None:
    config = write_config(tmp_path, f'[listen]\nport = 0\n[store]\nurl = "{postgres_url}"\n')
    served = Serve("--config", str(config))
    reaper.append(served)
    summary = simulate("--meters", "6", "--days", "2", "--headend",
                       f"127.0.0.1:{served.port}", "--config", str(config))  # fmt: skip
    counters = served.stop()
    store = open_store(postgres_url)
    try:
        stored = store.count_batches()
    finally:
        store.close()
    assert served.line("store: ") == postgres_url
    assert (summary["complete"], summary["batches_acked"]) == (True, 12)
    assert (counters["batches_accepted"], stored) == (12, 12)


def _softhsm_missing() -> str | None:
    if not Path(SOFTHSM2_MODULE).exists() or shutil.which("softhsm2-util") is None:
        return "SoftHSM2 is not installed (apt-get install softhsm2)"
    return None


@pytest.mark.slow
def test_serve_with_two_workers_on_a_pkcs11_token_serves_a_fleet(
    tmp_path: Path, reaper: list[Serve], monkeypatch: pytest.MonkeyPatch
) -> None:
    reason = _softhsm_missing()
    if reason is not None:
        pytest.skip(reason)
    from meterseal.hsm.softhsm import init_softhsm_token  # noqa: PLC0415 - needs SoftHSM2

    monkeypatch.setenv("SOFTHSM2_CONF", "")  # restored after the test
    token = init_softhsm_token(tmp_path, "serve-workers", "so-pin-0000", "user-pin-1234")
    url = (
        f"pkcs11://{token.module_path}?token={token.token_label}&pin-env=MS_TEST_PIN"
        f"&softhsm-conf={token.softhsm_conf}"
    )
    config = write_config(
        tmp_path,
        f'workers = 2\nsuites = [2]\n[listen]\nport = 0\n[crypto_machine]\nurl = "{url}"\n',
    )
    env = {**os.environ, "MS_TEST_PIN": "user-pin-1234"}
    served = Serve("--config", str(config), env=env)
    reaper.append(served)
    summary = simulate("--meters", "12", "--headend", f"127.0.0.1:{served.port}",
                       "--config", str(config))  # fmt: skip
    counters = served.stop()
    assert served.line("workers: ") == "2"
    assert served.line("crypto machine: ").startswith("PKCS#11 token 'serve-workers'")
    assert (summary["complete"], summary["batches_acked"]) == (True, 12)
    assert (counters["handshakes_ok"], counters["batches_accepted"]) == (12, 12)


def test_serve_on_a_taken_port_exits_2_saying_so(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        code = main(
            ["serve", "--data-dir", str(tmp_path), "--port", str(port), "--console", "none"]
        )
    assert code == 2
    assert "the head-end could not run" in capsys.readouterr().err
