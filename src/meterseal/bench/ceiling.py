"""The C ceiling of elliptic-curve operations that ``openssl speed`` does not measure.

Compiles ``c/ec_ceiling.c`` against the system's libcrypto (gcc and the OpenSSL headers,
which scripts/setup.sh installs) into a temporary directory and runs it, so that the
baseline comes from the same machine and the same run as the figure it is compared with.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from importlib import resources
from pathlib import Path

from meterseal.bench.openssl_speed import OpenSslSpeedError


def _compile(workdir: Path) -> Path:
    compiler = shutil.which("gcc") or shutil.which("cc")
    if compiler is None:
        raise OpenSslSpeedError("no C compiler to build the EC ceiling benchmark")
    source = workdir / "ec_ceiling.c"
    source.write_bytes(resources.files("meterseal.bench").joinpath("c/ec_ceiling.c").read_bytes())
    binary = workdir / "ec_ceiling"
    completed = subprocess.run(  # noqa: S603 - fixed argument list, no shell
        [compiler, "-O2", "-o", str(binary), str(source), "-lcrypto"],
        capture_output=True,
        text=True,
        check=False,
    )
    if completed.returncode != 0:
        raise OpenSslSpeedError(f"building ec_ceiling.c failed: {completed.stderr.strip()}")
    return binary


def ec_ceiling_rates(seconds: float = 1.0) -> dict[str, float]:
    """Operations/s for p256_keygen, p256_ecdh, sm2_keygen, sm2_ecdh, x25519_keygen."""
    with tempfile.TemporaryDirectory(prefix="meterseal-bench-") as tmp:
        binary = _compile(Path(tmp))
        completed = subprocess.run(  # noqa: S603 - our own freshly built binary
            [str(binary), str(seconds)], capture_output=True, text=True, check=True, timeout=600
        )
    rates = {}
    for line in completed.stdout.splitlines():
        name, value = line.split()
        rates[name] = float(value)
    return rates
