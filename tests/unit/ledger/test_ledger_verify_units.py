"""The pure parts of ``ledger verify``: fingerprints, the leaf fast path, the log check,
findings, and the offline proof checks."""

from __future__ import annotations

import functools
import random
from collections.abc import Iterator, Sequence

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from meterseal.crypto.international import ED25519
from meterseal.errors import VerificationError
from meterseal.headend.ingest import interval_columns
from meterseal.headend.testing import electricity_batch, volume_batch
from meterseal.ledger.checkpoint import Cosigner
from meterseal.ledger.errors import MalformedLeafError
from meterseal.ledger.leaves import (
    AuthenticationResult,
    AuthReason,
    BatchAccepted,
    leaf_data,
    parse_leaf,
)
from meterseal.ledger.verify_findings import Finding, FindingKind, ReadingDiff, Tally
from meterseal.ledger.verify_fingerprint import (
    PRIME_HIGH,
    PRIME_LOW,
    FingerprintKey,
    is_prime,
)
from meterseal.ledger.verify_log import checkpoint_time, fast_batch_leaf, read_log
from meterseal.ledger.verify_proof import (
    ProofFileError,
    TrustedKeys,
    check_consistency,
    check_inclusion,
    read_proof,
)
from meterseal.ledger.verify_store import signed_rows
from meterseal.ledger.verify_testing import MemoryLedger
from meterseal.store import verify_queries as q
from meterseal.store.sqlite import SqliteStore

Columns = list[list[int] | None]


def _rng(seed: int) -> Iterator[bytes]:
    generator = random.Random(seed)  # noqa: S311 - deterministic test secrets
    while True:
        yield generator.randbytes(32)


@functools.cache
def key(seed: int = 1) -> FingerprintKey:
    source = _rng(seed)
    return FingerprintKey.draw(lambda n: next(source)[:n])


# --- fingerprints ---------------------------------------------------------------------


def test_is_prime_matches_trial_division() -> None:
    def slow(n: int) -> bool:
        return n > 1 and all(n % d for d in range(2, int(n**0.5) + 1))

    assert [n for n in range(2000) if is_prime(n)] == [n for n in range(2000) if slow(n)]
    picker = random.Random(5)  # noqa: S311 - which numbers to test
    sample = [picker.randrange(PRIME_LOW, PRIME_HIGH) | 1 for _ in range(60)]
    sample += [536_870_909, 268_435_399]  # primes near both ends of the range
    assert [is_prime(n) for n in sample] == [slow(n) for n in sample]
    assert any(is_prime(n) for n in sample)


def test_a_key_is_drawn_from_rng_within_its_ranges() -> None:
    first, again, other = key(1), key(1), key(2)
    assert first == again
    assert first != other
    assert PRIME_LOW <= first.prime < PRIME_HIGH
    assert is_prime(first.prime)
    assert all(0 < u < first.prime for u in first.column_weights)
    weights = first.index_weights()
    assert len(weights) == 65536
    assert all(0 < w < first.prime for w in weights)
    assert len(set(weights)) > 65000


START, STEP = 1_736_121_600, 900


@functools.cache
def _all_weights(fk: FingerprintKey) -> list[int]:
    return fk.index_weights()


@functools.cache
def _weighted_store(fk: FingerprintKey) -> SqliteStore:
    """One in-memory store per key, its weights loaded once (the tests reuse it)."""
    store = SqliteStore(":memory:")
    store.migrate()
    q.prepare_weights(store, _all_weights(fk))
    return store


def _sql_fingerprint(fk: FingerprintKey, index: Sequence[int], columns: Columns) -> int:
    """The database's side: the verifier's own query over real SQLite rows."""
    store = _weighted_store(fk)
    ends = [START + (i + 1) * STEP for i in index]
    rows = [
        (1, at, 0, *(None if column is None else column[n] for column in columns))
        for n, at in enumerate(ends)
    ]
    with store._writing() as query:
        query.run("DELETE FROM interval_readings")
        for row in rows:
            query.run("INSERT INTO interval_readings VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", row)
    where = [(0, ends[0], ends[-1], START, STEP)]
    [(count, total)] = q.range_fingerprints(
        store, 1, where, fk.row_term_sql(), fk.index_weights()
    ).values()
    assert count == len(index)
    return total % fk.prime


def _python_fingerprint(fk: FingerprintKey, index: Sequence[int], columns: Columns) -> int:
    return fk.expected([fk.weight(i) for i in index], columns)


values = st.integers(min_value=-(2**63), max_value=2**63 - 1)


@st.composite
def readings(draw: st.DrawFn) -> tuple[list[int], Columns]:
    count = draw(st.integers(1, 12))
    ends = sorted(draw(st.sets(st.integers(0, 65535), min_size=count, max_size=count)))
    present = draw(st.lists(st.booleans(), min_size=6, max_size=6))
    columns: Columns = [
        draw(st.lists(values, min_size=count, max_size=count)) if on else None for on in present
    ]
    return ends, columns


@settings(max_examples=60, deadline=None)
@given(readings())
def test_sql_and_python_compute_the_same_fingerprint(data: tuple[list[int], Columns]) -> None:
    ends, columns = data
    fk = key(3)
    assert _sql_fingerprint(fk, ends, columns) == _python_fingerprint(fk, ends, columns)


@settings(max_examples=60, deadline=None)
@given(readings(), st.data())
def test_any_change_swap_or_null_changes_the_fingerprint(
    data: tuple[list[int], Columns], choice: st.DataObject
) -> None:
    ends, columns = data
    fk = key(4)
    before = _python_fingerprint(fk, ends, columns)
    present = [i for i, column in enumerate(columns) if column is not None]
    altered = [None if column is None else list(column) for column in columns]
    how = choice.draw(st.sampled_from(["value", "swap", "null", "time"]))
    if how == "time" or not present:
        moved = list(ends)
        moved[-1] += choice.draw(st.integers(1, 1000))
        assert _python_fingerprint(fk, moved, columns) != before
        return
    c = choice.draw(st.sampled_from(present))
    column = altered[c]
    assert column is not None
    i = choice.draw(st.integers(0, len(ends) - 1))
    if how == "value":
        column[i] += choice.draw(st.integers(1, 2**64).map(lambda d: d if d % 2 else -d))
    elif how == "swap":
        j = choice.draw(st.integers(0, len(ends) - 1))
        if column[i] == column[j]:
            return
        column[i], column[j] = column[j], column[i]
    else:
        altered[c] = None
    assert _python_fingerprint(fk, ends, altered) != before


def test_signed_rows_are_what_ingest_stores() -> None:
    for batch in (electricity_batch("M-1", 3, 10), volume_batch("W-1", 2)):
        ends, columns = signed_rows(batch)
        stored = interval_columns(batch)
        assert list(ends) == list(stored.ends)
        assert [None if c is None else list(c) for c in columns] == [
            None if c is None else list(c) for c in stored.columns
        ]


# --- the leaf fast path -----------------------------------------------------------------

meter_ids = st.from_regex(r"[A-Za-z0-9._:-]{1,64}", fullmatch=True)


@settings(max_examples=200, deadline=None)
@given(meter_ids, st.integers(0, 2**63 - 1), st.binary(min_size=32, max_size=32))
def test_the_fast_path_reads_every_canonical_batch_leaf(
    meter_id: str, seq: int, digest: bytes
) -> None:
    data = leaf_data(BatchAccepted(meter_id, seq, digest))
    assert fast_batch_leaf(data) == (meter_id, seq, digest)


@settings(max_examples=300, deadline=None)
@given(
    meter_ids,
    st.integers(0, 2**63 - 1),
    st.binary(min_size=32, max_size=32),
    st.integers(0, 200),
    st.integers(0, 255),
)
def test_the_fast_path_never_accepts_what_parse_leaf_refuses(
    meter_id: str, seq: int, digest: bytes, position: int, byte: int
) -> None:
    data = bytearray(leaf_data(BatchAccepted(meter_id, seq, digest)))
    data[position % len(data)] = byte
    fast = fast_batch_leaf(bytes(data))
    if fast is None:
        return
    leaf = parse_leaf(bytes(data))  # must not raise
    assert isinstance(leaf, BatchAccepted)
    assert (leaf.meter_id, leaf.batch_seq, leaf.batch_hash) == fast


def test_the_fast_path_leaves_non_canonical_and_other_kinds_to_parse_leaf() -> None:
    canonical = leaf_data(BatchAccepted("M", 5, bytes(32)))
    long_seq = canonical.replace(b"\x02\x05", b"\x02\x18\x05")  # 5 in two bytes
    assert fast_batch_leaf(long_seq) is None
    with pytest.raises(MalformedLeafError):
        parse_leaf(long_seq)
    other = leaf_data(AuthenticationResult(b"kid", True, AuthReason.OK, 1))
    assert fast_batch_leaf(other) is None


# --- the log --------------------------------------------------------------------------


class _LyingLedger(MemoryLedger):
    """Serves entries other than those it signed."""

    def entries(self, start: int, end: int) -> Iterator[bytes]:
        served = list(super().entries(start, end))
        served[0] = leaf_data(BatchAccepted("M", 99, bytes(32)))
        return iter(served)


def _batch_leaves(*keys: tuple[str, int]) -> list[bytes]:
    return [leaf_data(BatchAccepted(m, s, bytes([s]) * 32)) for m, s in keys]


def test_read_log_indexes_batch_leaves_and_skips_other_kinds() -> None:
    ledger = MemoryLedger.with_test_key()
    other = leaf_data(AuthenticationResult(b"kid", False, AuthReason.TIMEOUT, 7))
    ledger.submit([*_batch_leaves(("A", 0), ("A", 1)), other, *_batch_leaves(("B", 4))])
    tally = Tally(10)
    index = read_log(ledger, ledger.verifiers, tally)
    assert tally.total == 0
    assert index.trusted
    assert index.tree_size == 4
    assert index.batches == {"A": {0: bytes(32), 1: bytes([1]) * 32}, "B": {4: bytes([4]) * 32}}


def test_read_log_reports_duplicates_malformed_leaves_and_a_lying_log() -> None:
    ledger = MemoryLedger.with_test_key()
    ledger.submit([*_batch_leaves(("A", 0), ("A", 0)), b"\x82\x01\xa0", *_batch_leaves(("A", 1))])
    tally = Tally(10)
    read_log(ledger, ledger.verifiers, tally)
    assert tally.by_kind == {"DUPLICATE_IN_LOG": 1, "MALFORMED_LEAF": 1}
    liar = _LyingLedger.with_test_key()
    liar.submit(_batch_leaves(("A", 0), ("A", 1)))
    lied = Tally(10)
    assert not read_log(liar, liar.verifiers, lied).trusted
    assert lied.by_kind == {"LOG_MISMATCH": 1}


def test_read_log_refuses_a_checkpoint_signed_by_another_key() -> None:
    ledger = MemoryLedger.with_test_key()
    stranger = MemoryLedger.with_test_key("other.test/log")
    tally = Tally(10)
    index = read_log(ledger, stranger.verifiers, tally)
    assert not index.trusted
    assert tally.by_kind == {"LOG_SIGNATURE": 1}


def test_the_checkpoint_time_is_the_latest_verified_cosignature() -> None:
    ledger = MemoryLedger.with_test_key()
    ledger.submit(_batch_leaves(("A", 0)))
    note = ledger.checkpoint()
    text = note.split(b"\n\n")[0] + b"\n"
    witness = Cosigner("w.test", ED25519.from_private_bytes(bytes(range(32))))
    cosigned = note + witness.cosign(text, 1_700_000_123).line.encode()
    assert checkpoint_time(cosigned, [*ledger.verifiers, witness.verifier]) == 1_700_000_123
    assert checkpoint_time(note, ledger.verifiers) is None


# --- findings -----------------------------------------------------------------------


def test_findings_print_as_one_line_and_tallies_merge_under_a_limit() -> None:
    finding = Finding(FindingKind.ALTERED, "M-1", 7, "detail")
    assert finding.line() == "ALTERED M-1 7 detail"
    assert Finding(FindingKind.LOG_MISMATCH, None, None, "x").line() == "LOG_MISMATCH - - x"
    left, right = Tally(3), Tally(3)
    for _ in range(2):
        left.add(finding)
    for _ in range(4):
        right.add(Finding(FindingKind.SEQUENCE_GAP, "M-2", 1, "gap"))
    left.merge(right)
    assert left.total == 6
    assert len(left.findings) == 3
    assert left.by_kind == {"ALTERED": 2, "SEQUENCE_GAP": 4}


def test_reading_differences_are_altered_missing_or_extra() -> None:
    assert ReadingDiff("M", 1, 900, 1, 5, 6).finding().kind is FindingKind.ALTERED_READING
    assert ReadingDiff("M", 1, 900, 1, None, 6).finding().kind is FindingKind.MISSING_READING
    assert ReadingDiff("M", 1, 900, 3, 5, None).finding().kind is FindingKind.EXTRA_READING


# --- offline proofs -------------------------------------------------------------------


def test_proof_files_are_base64_hashes_one_a_line() -> None:
    assert read_proof("\n" + "A" * 43 + "=\n\n") == [bytes(32)]
    with pytest.raises(ProofFileError):
        read_proof("AAAA\n")


def test_offline_inclusion_and_consistency() -> None:
    ledger = MemoryLedger.with_test_key()
    empty = ledger.checkpoint()
    ledger.submit([b"a", b"b", b"c"])
    keys = TrustedKeys(tuple(ledger.verifiers))
    note = ledger.checkpoint()
    assert "leaf 2" in check_inclusion(note, keys, b"c", 2, ledger.inclusion_proof(2, 3))
    with pytest.raises(VerificationError):
        check_inclusion(note, keys, b"x", 2, ledger.inclusion_proof(2, 3))
    assert "extends" in check_consistency(note, empty, keys, [])
    with pytest.raises(VerificationError):
        check_consistency(note, empty, keys, [bytes(32)])
