"""Keyed fingerprints of a batch's reading rows: computed by the database, checked in Python.

An attacker who edits a value in ``interval_readings`` leaves the signed batch untouched,
so verification must compare the stored rows with the signed batch. Doing it value by
value in Python for 10^6 batches of 96 readings is too slow; instead the database computes,
per batch, a *keyed fingerprint* of its rows with integer arithmetic, Python computes the
same fingerprint from the decoded signed batch, and only a batch whose fingerprints differ
is compared row by row (to name the value).

The fingerprint (secrets drawn once per run from ``rng``, never stored)::

    F(batch) = sum over rows r, columns c of  W(i_r) * u_c * x_rc   (mod p)

* ``p``: a random prime in [2^28, 2^29);
* ``u_c``: a random non-zero weight per register column;
* ``W(i)``: a random non-zero weight per interval index ``i`` (0..65535) of the batch,
  BLAKE2b keyed with the run's key (a PRF), handed to the database in a temporary table;
  the database maps a row to its index with the *signed* batch's ``interval_start`` and
  ``interval_seconds`` (``at = start + (i + 1) * seconds``), so a row's weight depends on
  where the meter put it, never on stored batch columns;
* ``x_rc``: the column's value, or the column's secret marker ``N_c`` where it is NULL.

Soundness. For a fixed ``p``, F is a polynomial of degree at most 3 in independent uniform
secrets (``u_c``, ``W(i)``, ``N_c``) whose coefficients are the stored values; any change
of a value, a NULL, an interval end, or a swap of values between rows or columns changes
a coefficient, so the fingerprints then agree with probability at most 3/p < 2^-26
(Schwartz-Zippel). A coefficient change is invisible mod ``p`` only if ``p`` divides it;
a change of a 64-bit value has at most two prime factors in [2^28, 2^29), out of about
1.4 * 10^7 primes there, so this adds less than 2^-22. The database sums, per batch, the
rows with its ``batch_seq`` whose interval end lies in the signed batch's range; a row
there that is off the batch's interval grid gets no weight but still counts in the row
count, which is compared too. Rows outside every range are caught by comparing the
meter's total row count with the sum of the in-range counts.

Overflow. SQLite raises on 64-bit overflow in ``sum()`` and PostgreSQL in any bigint
arithmetic, so every term stays below 2^62: ``x mod p`` is below 2^29 in absolute value,
times ``u_c`` below 2^58, six of them below 2^61, reduced mod ``p`` again before the
product with ``W``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from operator import mul

from meterseal.crypto.interfaces import Rng
from meterseal.messages.readings import MAX_INDEX
from meterseal.store.rows import REGISTER_COLUMNS

PRIME_LOW = 1 << 28
PRIME_HIGH = 1 << 29
MARKER_BITS = 62
"""NULL markers are below 2^62, so SQL's ``coalesce`` keeps them as 64-bit integers."""

COLUMN_NAMES = tuple(column for _, column in REGISTER_COLUMNS)
"""The register columns of ``interval_readings``, in register-code order."""

_MR_BASES = (2, 3, 5, 7)
"""Miller-Rabin with these bases is exact below 3,215,031,751."""


def is_prime(n: int) -> bool:
    """Deterministic Miller-Rabin for ``n`` below 3.2 * 10^9."""
    if n < 2:
        return False
    for small in _MR_BASES:
        if n % small == 0:
            return n == small
    d, s = n - 1, 0
    while d % 2 == 0:
        d, s = d // 2, s + 1
    return all(_passes(n, a, d, s) for a in _MR_BASES)


def _passes(n: int, a: int, d: int, s: int) -> bool:
    x = pow(a, d, n)
    if x in (1, n - 1):
        return True
    for _ in range(s - 1):
        x = x * x % n
        if x == n - 1:
            return True
    return False


@dataclass(frozen=True, slots=True)
class FingerprintKey:
    """The secrets of one verification run: ``p``, column weights and NULL markers.

    Picklable (worker processes receive it); ``weight(i)`` derives ``W(i)`` from the
    run's BLAKE2b key, so every process computes the same weights.
    """

    key: bytes
    prime: int
    column_weights: tuple[int, ...]
    null_markers: tuple[int, ...]

    @classmethod
    def draw(cls, rng: Rng) -> FingerprintKey:
        """Fresh secrets from ``rng`` (32 bytes of key)."""
        key = rng(32)
        start = PRIME_LOW + _prf(key, b"prime") % (PRIME_HIGH - PRIME_LOW)
        prime = next(n for n in _candidates(start) if is_prime(n))
        weights = tuple(1 + _prf(key, b"u%d" % i) % (prime - 1) for i in range(len(COLUMN_NAMES)))
        markers = tuple(
            _prf(key, b"n%d" % i) % (1 << MARKER_BITS) for i in range(len(COLUMN_NAMES))
        )
        return cls(key, prime, weights, markers)

    def weight(self, index: int) -> int:
        """W(index): the secret weight of a batch's interval ``index``, in 1..p-1."""
        return 1 + _prf(self.key, b"w%d" % index) % (self.prime - 1)

    def index_weights(self) -> list[int]:
        """W(0) .. W(MAX_INDEX): every interval index a batch can carry."""
        return [self.weight(index) for index in range(MAX_INDEX + 1)]

    def row_term_sql(self, alias: str = "r", weight: str = "w.w") -> str:
        """The SQL of one row's term, ``W(i) * sum(u_c * x_c) mod p`` (its sign unreduced).

        Built from this key's integers only (never from input), so it is safe to splice.
        """
        p = self.prime
        parts = [
            f"(coalesce({alias}.{name}, {marker}) % {p}) * {u}"
            for name, u, marker in zip(
                COLUMN_NAMES, self.column_weights, self.null_markers, strict=True
            )
        ]
        return f"(({' + '.join(parts)}) % {p}) * {weight} % {p}"

    def expected(self, weights: Sequence[int], columns: Sequence[Sequence[int] | None]) -> int:
        """F of a signed batch's readings: ``W`` of each reading's interval index and the
        register columns in :data:`COLUMN_NAMES` order (None: NULL in every row)."""
        total = 0
        for u, marker, column in zip(self.column_weights, self.null_markers, columns, strict=True):
            if column is None:
                total += u * marker * sum(weights)
            else:
                total += u * sum(map(mul, weights, column))
        return total % self.prime

    def reduce(self, stored: int | None) -> int:
        """A database sum of row terms, reduced mod p (0 for a batch without rows)."""
        return 0 if stored is None else int(stored) % self.prime


def _candidates(start: int) -> Iterable[int]:
    """Odd numbers from ``start`` upwards within [2^28, 2^29), then wrapping around."""
    start |= 1
    yield from range(start, PRIME_HIGH, 2)
    yield from range(PRIME_LOW + 1, start, 2)


def _prf(key: bytes, message: bytes) -> int:
    """A 64-bit keyed BLAKE2b value (RFC 7693 keyed mode: a PRF)."""
    return int.from_bytes(hashlib.blake2b(message, key=key, digest_size=8).digest(), "big")
