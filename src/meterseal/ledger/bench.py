"""``meterseal bench ledger``: batched appends beside hashlib, and proof times.

DESIGN.md goals: leaves appended per second, batched, at least 0.1 of hashlib computing
the same leaf hashes and at least 100,000/s; an inclusion proof at 10^7 leaves in 2 ms or
less. The proof figures are medians over many random leaves of a tree built in memory
(the stored tiles add one indexed query per proof; see the integration tests). The
store row runs the sequencer into a SQLite ledger store in a temporary directory.
"""

from __future__ import annotations

import hashlib
import os
import random
import statistics
import tempfile
import time
from pathlib import Path

from meterseal.bench.report import BenchResult
from meterseal.crypto.international import ED25519
from meterseal.ledger import verify_bench
from meterseal.ledger.keys import Ed25519NoteSigner
from meterseal.ledger.merkle import SHA256_HASHER, verify_inclusion
from meterseal.ledger.sequencer import Sequencer
from meterseal.ledger.storage_sqlite import SqliteLedgerStorage
from meterseal.ledger.tiles import MemoryTiles

BATCH = 4096
PROOF_SAMPLES = 200


def _entries(count: int) -> list[bytes]:
    """Leaf data the size of a batch leaf: meter id, sequence and a 32-byte hash."""
    return [b"DEMO-ELEC-%06d/%08d/" % (i % 1000, i) + os.urandom(32) for i in range(count)]


def _hashlib_rate(entries: list[bytes]) -> float:
    sha256 = hashlib.sha256
    start = time.perf_counter()
    for entry in entries:
        sha256(b"\x00" + entry).digest()
    return len(entries) / (time.perf_counter() - start)


def _append_rate(entries: list[bytes]) -> float:
    tiles = MemoryTiles()
    start = time.perf_counter()
    for offset in range(0, len(entries), BATCH):
        tiles.append_leaves(entries[offset : offset + BATCH])
    return len(entries) / (time.perf_counter() - start)


def _store_append_rate(entries: list[bytes]) -> float:
    """Leaves/s through the sequencer into a SQLite ledger store (WAL, synchronous=FULL):
    each batch of 4096 is one transaction with its tiles, bundles and signed checkpoint."""
    signer = Ed25519NoteSigner("bench/ledger", ED25519.from_private_bytes(os.urandom(32)))
    with tempfile.TemporaryDirectory(prefix="meterseal-ledger-bench-") as directory:
        storage = SqliteLedgerStorage(Path(directory) / "ledger.db")
        try:
            sequencer = Sequencer(storage, [signer], origin="bench/ledger")
            start = time.perf_counter()
            for offset in range(0, len(entries), BATCH):
                sequencer.submit(entries[offset : offset + BATCH])
            return len(entries) / (time.perf_counter() - start)
        finally:
            storage.close()


def _proof_times_ms(size: int) -> tuple[float, float]:
    """Median milliseconds to generate and to verify an inclusion proof at ``size``."""
    tiles = MemoryTiles()
    leaves = [i.to_bytes(8, "big") for i in range(size)]
    for offset in range(0, size, 1 << 16):
        tiles.append_leaves(leaves[offset : offset + (1 << 16)])
    root = tiles.root()
    picker = random.Random(size)  # noqa: S311 - which leaves to prove, not a secret
    generate, verify = [], []
    for _ in range(PROOF_SAMPLES):
        index = picker.randrange(size)
        start = time.perf_counter()
        proof = tiles.inclusion_proof(index)
        middle = time.perf_counter()
        verify_inclusion(SHA256_HASHER.hash_leaf(leaves[index]), index, size, proof, root)
        generate.append(middle - start)
        verify.append(time.perf_counter() - middle)
    return statistics.median(generate) * 1e3, statistics.median(verify) * 1e3


def run(seconds: float = 1.0) -> list[BenchResult]:
    """Appends (scaled by ``seconds``) and proofs at 10^6 leaves, and 10^7 at --seconds >= 5."""
    entries = _entries(max(BATCH, int(400_000 * seconds)))
    appended = _append_rate(entries)
    baseline = _hashlib_rate(entries)
    stored = _store_append_rate(entries)
    results = [
        BenchResult(
            "ledger leaves appended, batches of 4096, SHA-256",
            appended,
            "leaves/s",
            baseline,
            0.1,
            note=f"baseline: hashlib SHA-256 of the same leaves; absolute goal >= 100,000/s "
            f"{'met' if appended >= 100_000 else 'MISSED'}; in-memory tiles",
        ),
        BenchResult(
            "ledger leaves appended through the SQLite store",
            stored,
            "leaves/s",
            baseline,
            0.1,
            note="batches of 4096, one transaction each (tiles, bundles, Ed25519 checkpoint; "
            f"WAL, synchronous=FULL); absolute goal >= 100,000/s "
            f"{'met' if stored >= 100_000 else 'MISSED'}",
        ),
    ]
    for size in (10**6, 10**7) if seconds >= 5 else (10**6,):
        generate_ms, verify_ms = _proof_times_ms(size)
        results.append(
            BenchResult(
                f"inclusion proof at {size:,} leaves, generate",
                generate_ms,
                "ms",
                note=f"median of {PROOF_SAMPLES}; goal <= 2 ms at 10^7 leaves; verify "
                f"{verify_ms:.3f} ms",
            )
        )
    results += verify_bench.run(seconds)
    return results
