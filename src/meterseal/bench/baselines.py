"""C baselines for ``meterseal bench crypto``, each measured once per run and reused.

Several results share one baseline (``openssl speed ecdsap256`` is the baseline of ES256
sign and verify and part of suite 2's handshake ceiling), so :class:`Baselines` runs each
``openssl speed`` command and the C ceiling program (:mod:`meterseal.bench.ceiling`) on
first use and keeps the figure for the rest of the run.
"""

from __future__ import annotations

import enum
from collections.abc import Callable

from meterseal.bench import ceiling, openssl_speed


class Source(enum.Enum):
    """Where a per-operation C rate comes from."""

    SPEED_SIGN = "openssl speed, sign"
    SPEED_VERIFY = "openssl speed, verify"
    SPEED_ECDH = "openssl speed"
    CEILING = "ec_ceiling.c"


class Baselines:
    """``openssl speed`` and ``ec_ceiling`` figures of one run, measured on first use.

    Every command runs for ``max(1, round(seconds))`` seconds per figure.
    """

    def __init__(self, seconds: float) -> None:
        self.seconds = max(1, round(seconds))
        self._signs: dict[str, openssl_speed.SignRates] = {}
        self._rates: dict[tuple[str, ...], float] = {}
        self._ceiling: dict[str, float] = {}

    def sign_rates(self, algorithm: str) -> openssl_speed.SignRates:
        """``openssl speed ALGORITHM``: sign/s and verify/s (sm2, ecdsap256, ed25519)."""
        if algorithm not in self._signs:
            self._signs[algorithm] = openssl_speed.sign_rates(algorithm, seconds=self.seconds)
        return self._signs[algorithm]

    def ecdh_rate(self, algorithm: str) -> float:
        """``openssl speed ALGORITHM``: key agreements/s (ecdhp256, ecdhx25519)."""
        return self._once(
            ("ecdh", algorithm), lambda: openssl_speed.ecdh_rate(algorithm, seconds=self.seconds)
        )

    def ceiling_rate(self, operation: str) -> float:
        """Operations/s of ``operation`` in ``ec_ceiling.c`` (e.g. ``p256_keygen``)."""
        if not self._ceiling:
            self._ceiling = ceiling.ec_ceiling_rates(self.seconds)
        return self._ceiling[operation]

    def cipher_records_per_s(self, cipher: str, size: int) -> float:
        """``openssl speed -evp CIPHER -bytes SIZE`` as buffers/s (bytes/s ÷ SIZE)."""
        bytes_per_s = self._once(
            ("cipher", cipher, str(size)),
            lambda: openssl_speed.cipher_bytes_per_s(cipher, size, seconds=self.seconds),
        )
        return bytes_per_s / size

    def op_rate(self, source: Source, name: str) -> float:
        """One operation's C rate, from whichever program measures it."""
        if source is Source.SPEED_SIGN:
            return self.sign_rates(name).sign_per_s
        if source is Source.SPEED_VERIFY:
            return self.sign_rates(name).verify_per_s
        if source is Source.SPEED_ECDH:
            return self.ecdh_rate(name)
        return self.ceiling_rate(name)

    def _once(self, key: tuple[str, ...], measure: Callable[[], float]) -> float:
        if key not in self._rates:
            self._rates[key] = measure()
        return self._rates[key]
