"""Baselines from ``openssl speed``, run in the same benchmark session.

``openssl speed -mr`` prints machine-readable lines; the ones used here are
``+F4`` (ECDSA sign/s, verify/s), ``+F5`` (ECDH ops/s), ``+F6`` (EdDSA sign/s, verify/s),
``+F7`` (SM2 sign/s, verify/s) and ``+F`` (cipher bytes/s for the given block size).
"""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass

from meterseal.errors import MeterSealError


class OpenSslSpeedError(MeterSealError):
    """``openssl speed`` could not be run or printed nothing usable."""


@dataclass(frozen=True, slots=True)
class SignRates:
    sign_per_s: float
    verify_per_s: float


def _run(args: list[str], seconds: int, multi: int) -> list[str]:
    binary = shutil.which("openssl")
    if binary is None:
        raise OpenSslSpeedError("the openssl command line is not installed")
    command = [binary, "speed", "-mr", "-seconds", str(seconds)]
    if multi > 1:
        command += ["-multi", str(multi)]
    completed = subprocess.run(  # noqa: S603 - fixed argument list, no shell
        command + args, capture_output=True, text=True, check=False, timeout=600
    )
    lines = [line for line in completed.stdout.splitlines() if line.startswith("+F")]
    if not lines:
        raise OpenSslSpeedError(f"openssl speed {' '.join(args)}: no results")
    return lines


def _fields(lines: list[str], tag: str) -> list[str]:
    for line in lines:
        fields = line.split(":")
        if fields[0] == tag:
            return fields
    raise OpenSslSpeedError(f"openssl speed printed no {tag} line")


def sign_rates(algorithm: str, *, seconds: int = 2, multi: int = 1) -> SignRates:
    """Sign and verify operations/s for ``sm2``, ``ecdsap256`` or ``ed25519``."""
    tag = {"sm2": "+F7", "ecdsap256": "+F4", "ed25519": "+F6"}[algorithm]
    fields = _fields(_run([algorithm], seconds, multi), tag)
    return SignRates(float(fields[-2]), float(fields[-1]))


def ecdh_rate(algorithm: str, *, seconds: int = 2, multi: int = 1) -> float:
    """Key agreements/s for ``ecdhp256`` or ``ecdhx25519``."""
    return float(_fields(_run([algorithm], seconds, multi), "+F5")[3])


def cipher_bytes_per_s(cipher: str, size: int, *, seconds: int = 2) -> float:
    """Bytes/s of ``openssl speed -evp CIPHER`` on ``size``-byte buffers."""
    lines = _run(["-bytes", str(size), "-evp", cipher], seconds, 1)
    return float(_fields(lines, "+F")[3])
