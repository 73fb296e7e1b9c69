"""``meterseal bench hsm``: signatures/s and ECDH/s through each crypto machine backend.

Each figure is one core, beside OpenSSL's own rate for the same operation measured in
the same run (DESIGN.md, performance targets): ``openssl speed ecdsap256`` / ``sm2`` for
signing, ``openssl speed ecdhp256`` for P-256 ECDH, and the C ceiling of
:mod:`meterseal.bench.ceiling` for SM2 ECDH (``openssl speed`` has none). The software
keystore is measured for P-256 and SM2; the PKCS#11 backend for P-256 on a throw-away
SoftHSM2 token, if SoftHSM2 and python-pkcs11 are installed (otherwise its rows are
left out and :func:`run` says why in the last result's note).
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from meterseal.bench import openssl_speed
from meterseal.bench.ceiling import ec_ceiling_rates
from meterseal.bench.report import BenchResult
from meterseal.bench.timing import rate
from meterseal.crypto.interfaces import DhCurve, SignatureAlg
from meterseal.crypto.international import ES256, P256
from meterseal.crypto.sm2 import SM2_CURVE, SM2_SIGNATURE
from meterseal.hsm.errors import HsmError
from meterseal.hsm.interface import CryptoMachine
from meterseal.hsm.kek import TEST_SCRYPT, kek_from_passphrase
from meterseal.hsm.software import SoftwareKeystore

_MSG = b"\x00" * 96
_BENCH_PINS = ("bench-so-pin", "bench-user-pin")

Baselines = dict[str, float]


def _baselines(seconds: float) -> Baselines:
    """OpenSSL's rates for the same operations, measured now."""
    whole = max(1, round(seconds))
    p256 = openssl_speed.sign_rates("ecdsap256", seconds=whole)
    sm2 = openssl_speed.sign_rates("sm2", seconds=whole)
    return {
        "ES256": p256.sign_per_s,
        "SM2-SM3": sm2.sign_per_s,
        "P-256": openssl_speed.ecdh_rate("ecdhp256", seconds=whole),
        "SM2": ec_ceiling_rates(max(0.5, seconds))["sm2_ecdh"],
    }


def _sign_result(
    machine: CryptoMachine, backend: str, alg: SignatureAlg, seconds: float, base: Baselines
) -> BenchResult:
    key = machine.generate_signing_key(f"bench-{alg.name}", alg)
    value = rate(lambda: key.sign(_MSG), seconds)
    return BenchResult(f"HSM {backend} {alg.name} sign", value, "ops/s", base[alg.name])


def _ecdh_result(
    machine: CryptoMachine, backend: str, curve: DhCurve, seconds: float, base: Baselines
) -> BenchResult:
    key = machine.generate_dh_key(f"bench-dh-{curve.name}", curve)
    peer = curve.generate(os.urandom).public_key
    value = rate(lambda: key.exchange(peer), seconds)
    return BenchResult(f"HSM {backend} ECDH {curve.name}", value, "ops/s", base[curve.name])


def _measure(
    machine: CryptoMachine,
    backend: str,
    algorithms: tuple[tuple[SignatureAlg, DhCurve], ...],
    seconds: float,
    base: Baselines,
) -> list[BenchResult]:
    results = []
    for alg, curve in algorithms:
        results.append(_sign_result(machine, backend, alg, seconds, base))
        results.append(_ecdh_result(machine, backend, curve, seconds, base))
    return results


def software_results(seconds: float, base: Baselines) -> list[BenchResult]:
    """P-256 and SM2 through a temporary software keystore."""
    with tempfile.TemporaryDirectory(prefix="meterseal-bench-hsm-") as tmp:
        kek = kek_from_passphrase("bench", TEST_SCRYPT)
        with SoftwareKeystore(Path(tmp) / "bench.msks", kek, create=True) as machine:
            pairs = ((ES256, P256), (SM2_SIGNATURE, SM2_CURVE))
            return _measure(machine, "software", pairs, seconds, base)


@contextmanager
def _restored_softhsm_conf() -> Iterator[None]:
    previous = os.environ.get("SOFTHSM2_CONF")
    try:
        yield
    finally:
        if previous is None:
            os.environ.pop("SOFTHSM2_CONF", None)
        else:
            os.environ["SOFTHSM2_CONF"] = previous


def pkcs11_results(seconds: float, base: Baselines) -> list[BenchResult]:
    """P-256 on a throw-away SoftHSM2 token; HsmError if SoftHSM2 cannot be used."""
    try:
        from meterseal.hsm.factory import open_crypto_machine  # noqa: PLC0415
        from meterseal.hsm.softhsm import init_softhsm_token  # noqa: PLC0415
    except ImportError as exc:
        raise HsmError(f"python-pkcs11 is not installed: {exc}") from exc
    with (
        tempfile.TemporaryDirectory(prefix="meterseal-bench-softhsm-") as tmp,
        _restored_softhsm_conf(),
    ):
        config = init_softhsm_token(tmp, "meterseal-bench", *_BENCH_PINS)
        with open_crypto_machine(config) as machine:
            return _measure(machine, "PKCS#11 (SoftHSM2)", ((ES256, P256),), seconds, base)


def run(
    seconds: float, *, baselines: Callable[[float], Baselines] = _baselines
) -> list[BenchResult]:
    """Every crypto machine benchmark, software first, then PKCS#11 if available."""
    base = baselines(seconds)
    results = software_results(seconds, base)
    try:
        results += pkcs11_results(seconds, base)
    except HsmError as exc:
        last = results[-1]
        note = f"PKCS#11 rows left out: {exc}"
        results[-1] = BenchResult(last.name, last.value, last.unit, last.baseline, None, note)
    return results
