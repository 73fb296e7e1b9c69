"""``meterseal ledger verify``: the collection store checked against the ledger, record by record.

The ledger and the collection store touch only here (DESIGN.md, "Ledger"). A run:

1. verifies the log (:mod:`~meterseal.ledger.verify_log`): the checkpoint's signature
   against the configured verifier keys, the RFC 9162 root of every entry the log serves
   against the checkpoint's root, and every leaf's format; it indexes the BatchAccepted
   leaves by (meter id, batch sequence);
2. checks each registered meter's stored batches and reading rows against that index
   (:mod:`~meterseal.ledger.verify_store`), the meters split between ``workers`` processes
   (each with its own store connection and its own share of the index);
3. reports reading rows under meter references no registered meter has, and logged
   batches of meters the store does not know.

The findings (:mod:`~meterseal.ledger.verify_findings`) name the meter id and batch
sequence of every altered, missing or extra record. The secrets of the reading
fingerprints are drawn from ``rng`` once per run. The design and its soundness argument
are in docs/ledger.md, "Verification".
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from contextlib import closing
from dataclasses import dataclass

from meterseal.crypto.hashes import SHA_256, OpenSslHash
from meterseal.crypto.interfaces import Rng
from meterseal.ledger.merkle import SHA256_HASHER, TreeHasher
from meterseal.ledger.note import NoteVerifier
from meterseal.ledger.verify_findings import Tally, VerifyReport
from meterseal.ledger.verify_fingerprint import FingerprintKey
from meterseal.ledger.verify_log import LogIndex, LogSource, read_log
from meterseal.ledger.verify_store import MeterChecker
from meterseal.store import verify_queries as q

StoreOpener = Callable[[], q.VerifiableStore]
"""Opens a new connection to the store (picklable, for worker processes)."""

DEFAULT_MAX_FINDINGS = 1000


@dataclass(frozen=True, slots=True)
class _Share:
    """One worker's part: its meters and their logged sequences."""

    opener: StoreOpener
    key: FingerprintKey
    meters: list[tuple[int, str]]
    logged: dict[str, dict[int, bytes]]
    hash_alg: OpenSslHash
    pending_after: int | None
    limit: int


def verify_ledger(
    ledger: LogSource,
    opener: StoreOpener,
    verifiers: Sequence[NoteVerifier],
    *,
    rng: Rng,
    now: int,
    grace: int | None = None,
    workers: int = 1,
    max_findings: int = DEFAULT_MAX_FINDINGS,
    hash_alg: OpenSslHash = SHA_256,
) -> VerifyReport:
    """Verify the log, then every stored batch and reading against it.

    ``now`` stands in for the checkpoint's time when no witness cosignature gives one;
    batches received within ``grace`` seconds before it and not yet logged count as
    pending, not as findings. ``workers`` > 1 splits the meters between processes.
    """
    started = time.perf_counter()
    tally = Tally(max_findings)
    log = read_log(ledger, verifiers, tally, hasher=_hasher(hash_alg))
    if log.trusted:
        reference = log.checkpoint_time if log.checkpoint_time is not None else now
        pending_after = None if grace is None else reference - grace
        key = FingerprintKey.draw(rng)
        _check_store(
            opener,
            log,
            key,
            tally,
            hash_alg=hash_alg,
            pending_after=pending_after,
            workers=workers,
        )
    elapsed = time.perf_counter() - started
    return VerifyReport(log.tree_size, log.origin, tally, elapsed, log.trusted)


def _hasher(hash_alg: OpenSslHash) -> TreeHasher:
    return SHA256_HASHER if hash_alg is SHA_256 else TreeHasher.from_hash(hash_alg)


def _check_store(
    opener: StoreOpener,
    log: LogIndex,
    key: FingerprintKey,
    tally: Tally,
    *,
    hash_alg: OpenSslHash,
    pending_after: int | None,
    workers: int,
) -> None:
    with closing(opener()) as store:
        meters = q.meters(store)
        known = {ref for ref, _ in meters}
        unregistered = [ref for ref in q.reading_meter_refs(store) if ref not in known]
        checker = MeterChecker(store, key, tally, hash_alg=hash_alg, pending_after=pending_after)
        for ref in unregistered:
            checker.extra_rows(ref)
        registered = {meter_id for _, meter_id in meters}
        for meter_id in sorted(log.batches.keys() - registered):
            checker.log_only(meter_id, log.batches[meter_id], set())
    shares = [
        _Share(
            opener,
            key,
            part,
            {m: log.batches.get(m, {}) for _, m in part},
            hash_alg,
            pending_after,
            tally.limit,
        )
        for part in _split(meters, max(1, workers))
    ]
    for result in _run(shares):
        tally.merge(result)


def _split(meters: list[tuple[int, str]], parts: int) -> list[list[tuple[int, str]]]:
    """Meters dealt round-robin into ``parts`` shares (similar sizes when meters are alike)."""
    return [meters[i::parts] for i in range(parts) if meters[i::parts]]


def _run(shares: list[_Share]) -> list[Tally]:
    if len(shares) <= 1:
        return [check_share(share) for share in shares]
    with ProcessPoolExecutor(max_workers=len(shares)) as pool:
        return list(pool.map(check_share, shares))


def check_share(share: _Share) -> Tally:
    """One worker: open its own connection and check its meters."""
    tally = Tally(share.limit)
    with closing(share.opener()) as store:
        checker = MeterChecker(
            store, share.key, tally, hash_alg=share.hash_alg, pending_after=share.pending_after
        )
        for ref, meter_id in share.meters:
            checker.check(ref, meter_id, share.logged.get(meter_id, {}))
    return tally
