"""Reading ``openssl speed -mr`` output (lines recorded from OpenSSL 3.0.19), and the
per-run cache of baselines. No openssl process is started here."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Sequence

import pytest

from meterseal.bench import ceiling, openssl_speed
from meterseal.bench.baselines import Baselines, Source
from meterseal.bench.openssl_speed import OpenSslSpeedError, SignRates

RECORDED = {
    "sm2": "+F7:0:256:CurveSM2:4196.969697:4281.000000\n",
    "ecdsap256": "+F4:3:256:51532.323232:15502.000000\n",
    "ed25519": "+F6:0:253:Ed25519:33120.408163:12025.000000\n",
    "ecdhp256": "+F5:3:256:22862.000000:0.000044\n",
    "ecdhx25519": "+F5:22:253:33438.297872:0.000030\n",
    "aes-128-gcm": "+H:64\n+F:25:AES-128-GCM:197859200.00\n",
    "sm4-ctr": "+H:4096\n+F:25:SM4-CTR:110496840.40\n",
}


class FakeOpenssl:
    """Stands in for ``subprocess.run`` of the openssl binary; remembers each command.

    It prints the recorded output of the algorithm named in the command, or ``stdout``.
    """

    def __init__(self) -> None:
        self.commands: list[list[str]] = []
        self.stdout: str | None = None

    def __call__(self, command: Sequence[str], **_: object) -> subprocess.CompletedProcess[str]:
        self.commands.append(list(command))
        recorded = next((out for name, out in RECORDED.items() if name in command), "")
        stdout = recorded if self.stdout is None else self.stdout
        return subprocess.CompletedProcess(list(command), 0, stdout, "")


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> FakeOpenssl:
    runner = FakeOpenssl()
    monkeypatch.setattr(shutil, "which", lambda _name: "/usr/bin/openssl")
    monkeypatch.setattr(subprocess, "run", runner)
    return runner


@pytest.mark.parametrize(
    ("algorithm", "expected"),
    [
        ("sm2", SignRates(4196.969697, 4281.0)),
        ("ecdsap256", SignRates(51532.323232, 15502.0)),
        ("ed25519", SignRates(33120.408163, 12025.0)),
    ],
)
def test_sign_and_verify_rates_are_the_last_two_fields(
    fake: FakeOpenssl, algorithm: str, expected: SignRates
) -> None:
    assert openssl_speed.sign_rates(algorithm, seconds=1) == expected
    assert fake.commands[0][1:] == ["speed", "-mr", "-seconds", "1", algorithm]


def test_ecdh_rate_is_the_fourth_field(fake: FakeOpenssl) -> None:
    assert openssl_speed.ecdh_rate("ecdhp256", seconds=1) == 22862.0
    assert openssl_speed.ecdh_rate("ecdhx25519", seconds=1) == pytest.approx(33438.297872)
    assert len(fake.commands) == 2


def test_cipher_rate_is_bytes_per_second_of_the_requested_size(fake: FakeOpenssl) -> None:
    assert openssl_speed.cipher_bytes_per_s("aes-128-gcm", 64, seconds=1) == 197859200.0
    assert fake.commands[0][-4:] == ["-bytes", "64", "-evp", "aes-128-gcm"]


def test_output_without_the_expected_line_is_an_error(fake: FakeOpenssl) -> None:
    fake.stdout = RECORDED["ecdhp256"]  # a +F5 line where sign_rates reads +F7
    with pytest.raises(OpenSslSpeedError, match=r"\+F7"):
        openssl_speed.sign_rates("sm2", seconds=1)


def test_output_without_any_result_is_an_error(fake: FakeOpenssl) -> None:
    fake.stdout = "speed: sm4-gcm is an unknown cipher or digest\n"
    with pytest.raises(OpenSslSpeedError, match="no results"):
        openssl_speed.cipher_bytes_per_s("sm4-gcm", 64, seconds=1)


# --- Baselines: each figure measured once per run ---------------------------------------


def test_each_openssl_command_runs_once_per_run(fake: FakeOpenssl) -> None:
    baselines = Baselines(0.4)
    for _ in range(3):
        baselines.sign_rates("ecdsap256")
        baselines.op_rate(Source.SPEED_VERIFY, "ecdsap256")
        baselines.ecdh_rate("ecdhx25519")
    assert len(fake.commands) == 2
    assert all(command[3:5] == ["-seconds", "1"] for command in fake.commands)


def test_operation_sources_pick_the_right_figure(fake: FakeOpenssl) -> None:
    baselines = Baselines(1.0)
    assert baselines.op_rate(Source.SPEED_SIGN, "sm2") == pytest.approx(4196.969697)
    assert baselines.op_rate(Source.SPEED_VERIFY, "sm2") == 4281.0
    assert baselines.op_rate(Source.SPEED_ECDH, "ecdhp256") == 22862.0
    assert len(fake.commands) == 2


def test_cipher_baseline_is_buffers_per_second(fake: FakeOpenssl) -> None:
    baselines = Baselines(1.0)
    assert baselines.cipher_records_per_s("sm4-ctr", 4096) == pytest.approx(110496840.40 / 4096)
    assert fake.commands[0][-4:] == ["-bytes", "4096", "-evp", "sm4-ctr"]


def test_the_ceiling_program_runs_once(monkeypatch: pytest.MonkeyPatch) -> None:
    runs: list[float] = []

    def fake_ceiling(seconds: float) -> dict[str, float]:
        runs.append(seconds)
        return {"p256_keygen": 90_000.0, "sm2_ecdh": 4_000.0}

    monkeypatch.setattr(ceiling, "ec_ceiling_rates", fake_ceiling)
    baselines = Baselines(2.4)
    assert baselines.op_rate(Source.CEILING, "p256_keygen") == 90_000.0
    assert baselines.ceiling_rate("sm2_ecdh") == 4_000.0
    assert runs == [2]
