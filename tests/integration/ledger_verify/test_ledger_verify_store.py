"""``ledger verify`` against real SQLite and PostgreSQL stores tampered with in plain SQL."""

from __future__ import annotations

import os

import pytest
from ledger_verify_support import Filled, filled_store, kinds, meter_id, only

from meterseal.crypto.hashes import SM3
from meterseal.ledger.merkle import SM3_HASHER
from meterseal.ledger.verify import StoreOpener, verify_ledger
from meterseal.ledger.verify_findings import FindingKind
from meterseal.ledger.verify_testing import MemoryLedger, fill_store
from meterseal.store.rows import Register

pytest_plugins = ["ledger_verify_fixtures"]  # opener (SQLite, PostgreSQL), small

FIRST_END = 1_736_121_600 + 900  # interval end 0 of batch 0 (T0 + one interval)


def _end(batch: int, interval: int, intervals: int = 8) -> int:
    """The interval end of ``interval`` in batch ``batch`` of ``intervals`` intervals."""
    return 1_736_121_600 + batch * intervals * 900 + (interval + 1) * 900


def test_a_clean_store_has_no_findings(small: Filled) -> None:
    report = small.verify()
    assert report.clean, [f.line() for f in report.tally.findings]
    assert report.tally.batches == 24
    assert report.tally.intervals == 24 * 8
    assert report.tally.log_batches == 24
    assert report.tree_size == 24


@pytest.mark.slow
def test_one_altered_reading_among_thousands_is_named_exactly(opener: StoreOpener) -> None:
    filled = filled_store(opener, 20, 100)  # 2,000 batches, 192,000 interval readings
    at = 1_736_121_600 + 57 * 96 * 900 + 41 * 900
    changed = filled.sql(
        "UPDATE interval_readings SET current_ma = current_ma + 1"
        " WHERE meter_ref = ? AND batch_seq = 57 AND at = ?",
        (filled.ref(13), at),
    )
    assert changed == 1
    report = filled.verify(workers=2)
    assert report.tally.batches == 2000
    assert kinds(report) == {"ALTERED_READING": 1}
    [finding] = report.tally.findings
    assert (finding.meter_id, finding.batch_seq) == (meter_id(13), 57)
    assert f"interval end {at} register {int(Register.CURRENT_MA)}:" in finding.detail
    stored, signed = (int(part.split()[-1]) for part in finding.detail.split(": ")[1].split(", "))
    assert stored == signed + 1


def test_values_swapped_between_rows_are_caught(small: Filled) -> None:
    ref = small.ref(2)
    small.sql(
        "UPDATE interval_readings SET power_w = CASE at WHEN ? THEN ? ELSE ? END"
        " WHERE meter_ref = ? AND batch_seq = 3 AND at IN (?, ?)",
        (_end(3, 1), -7777, 8888, ref, _end(3, 1), _end(3, 2)),
    )
    original = small.verify()
    assert kinds(original) == {"ALTERED_READING": 2}
    swap_ref = small.ref(1)
    small.sql(  # swap two real values of one row's columns: export and power
        "UPDATE interval_readings SET energy_export_wh = power_w, power_w = energy_export_wh"
        " WHERE meter_ref = ? AND batch_seq = 0 AND at = ?",
        (swap_ref, _end(0, 4)),
    )
    report = small.verify()
    swapped = [f for f in only(report, FindingKind.ALTERED_READING) if f.meter_id == meter_id(1)]
    assert {f.batch_seq for f in swapped} == {0}
    assert len(swapped) == 2


def test_deleted_and_added_rows_and_values(small: Filled) -> None:
    ref = small.ref(0)
    small.sql(
        "DELETE FROM interval_readings WHERE meter_ref = ? AND batch_seq = 2 AND at = ?",
        (ref, _end(2, 5)),
    )
    small.sql(
        "INSERT INTO interval_readings (meter_ref, at, batch_seq, energy_import_wh)"
        " VALUES (?, ?, 4, 1)",
        (ref, _end(4, 7) + 900),
    )
    small.sql(
        "UPDATE interval_readings SET volume_dl = 5"
        " WHERE meter_ref = ? AND batch_seq = 5 AND at = ?",
        (ref, _end(5, 0)),
    )
    report = small.verify()
    missing = only(report, FindingKind.MISSING_READING)
    assert {(f.meter_id, f.batch_seq) for f in missing} == {(meter_id(0), 2)}
    assert len(missing) == 5  # the five electricity registers of the deleted interval
    extra = only(report, FindingKind.EXTRA_READING)
    assert {(f.batch_seq, f.detail.split(":")[0]) for f in extra} == {
        (4, f"interval end {_end(4, 7) + 900} register {int(Register.ENERGY_IMPORT_WH)}"),
        (5, f"interval end {_end(5, 0)} register {int(Register.VOLUME_DL)}"),
    }
    assert kinds(report) == {"MISSING_READING": 5, "EXTRA_READING": 2}


def test_altered_signed_bytes_and_hash_column(small: Filled) -> None:
    ref = small.ref(3)
    store = small.opener()
    try:
        with store._reading() as query:
            row = query.one(
                "SELECT signed_batch FROM batches WHERE meter_ref = ? AND batch_seq = 1", (ref,)
            )
    finally:
        store.close()
    assert row is not None
    signed = bytearray(row[0])
    signed[-1] ^= 1  # one bit of the signature
    small.sql(
        "UPDATE batches SET signed_batch = ? WHERE meter_ref = ? AND batch_seq = 1",
        (bytes(signed), ref),
    )
    small.sql(
        "UPDATE batches SET batch_hash = ? WHERE meter_ref = ? AND batch_seq = 4",
        (bytes(32), ref),
    )
    report = small.verify()
    altered = only(report, FindingKind.ALTERED)
    assert {(f.meter_id, f.batch_seq) for f in altered} == {(meter_id(3), 1), (meter_id(3), 4)}
    assert any("logged" in f.detail for f in altered if f.batch_seq == 1)
    assert any("batch_hash" in f.detail for f in altered if f.batch_seq == 4)
    assert set(kinds(report)) == {"ALTERED"}


def test_unlogged_batches_and_the_grace_period(small: Filled) -> None:
    logged = small.leaves[:-1]  # the last batch of the last meter never reached the log
    report = small.verify(small.ledger(logged))
    [finding] = only(report, FindingKind.MISSING_FROM_LOG)
    assert (finding.meter_id, finding.batch_seq) == (meter_id(3), 5)
    assert "received_at 1000005" in finding.detail
    assert "its leaf is queued in the outbox" in finding.detail  # ingest queued it
    assert kinds(report) == {"MISSING_FROM_LOG": 1}
    small.sql("DELETE FROM ledger_outbox WHERE leaf = ?", (small.leaves[-1],))
    [lost] = only(small.verify(small.ledger(logged)), FindingKind.MISSING_FROM_LOG)
    assert "its leaf is not in the outbox" in lost.detail
    pending = small.verify(small.ledger(logged), grace=2_000_000_000 - 1_000_005)
    assert pending.clean
    assert pending.tally.pending == 1


def test_batches_missing_from_the_store_and_sequence_gaps(small: Filled) -> None:
    ref = small.ref(1)
    for seq in (2, 3):
        small.sql("DELETE FROM interval_readings WHERE meter_ref = ? AND batch_seq = ?", (ref, seq))
        small.sql("DELETE FROM batches WHERE meter_ref = ? AND batch_seq = ?", (ref, seq))
    report = small.verify()
    assert {(f.meter_id, f.batch_seq) for f in only(report, FindingKind.MISSING_FROM_STORE)} == {
        (meter_id(1), 2),
        (meter_id(1), 3),
    }
    assert kinds(report) == {"MISSING_FROM_STORE": 2}
    without = [leaf for i, leaf in enumerate(small.leaves) if i not in (6 + 2, 6 + 3)]
    gapped = small.verify(small.ledger(without))
    [gap] = only(gapped, FindingKind.SEQUENCE_GAP)
    assert (gap.meter_id, gap.batch_seq) == (meter_id(1), 2)
    assert "2..3 missing (2)" in gap.detail
    assert kinds(gapped) == {"SEQUENCE_GAP": 1}


def test_rows_that_belong_to_no_batch(small: Filled) -> None:
    small.sql(
        "INSERT INTO interval_readings (meter_ref, at, batch_seq, power_w) VALUES (?, ?, 99, 1)",
        (small.ref(2), FIRST_END),
    )
    small.sql(
        "INSERT INTO interval_readings (meter_ref, at, batch_seq, power_w) VALUES (9999, ?, 0, 1)",
        (FIRST_END,),
    )
    report = small.verify(workers=2)
    extra = {(f.meter_id, f.batch_seq) for f in only(report, FindingKind.EXTRA_ROWS)}
    assert extra == {(meter_id(2), 99), ("#9999", 0)}
    assert kinds(report) == {"EXTRA_ROWS": 2}


def test_altered_batch_columns(small: Filled) -> None:
    small.sql(
        "UPDATE batches SET interval_start = interval_start + 900 WHERE meter_ref = ?"
        " AND batch_seq = 0",
        (small.ref(0),),
    )
    report = small.verify()
    [finding] = report.tally.findings
    assert finding.kind is FindingKind.ALTERED_METADATA
    assert (finding.meter_id, finding.batch_seq) == (meter_id(0), 0)


def test_findings_are_counted_beyond_the_ones_kept(small: Filled) -> None:
    small.sql("UPDATE interval_readings SET voltage_dv = 1")
    ledger = small.ledger()
    report = small.verify(ledger)
    assert report.tally.total == 24 * 8
    capped = verify_ledger(
        ledger,
        small.opener,
        ledger.verifiers,
        rng=os.urandom,
        now=0,
        max_findings=10,
    )
    assert capped.tally.total == 24 * 8
    assert len(capped.tally.findings) == 10


def test_a_row_moved_out_of_its_batch_range_is_named_once(small: Filled) -> None:
    small.sql(
        "UPDATE interval_readings SET at = at + 86400 * 365"
        " WHERE meter_ref = ? AND batch_seq = 1 AND at = ?",
        (small.ref(3), _end(1, 2)),
    )
    report = small.verify()
    assert kinds(report) == {"MISSING_READING": 5, "EXTRA_READING": 5}
    assert {(f.meter_id, f.batch_seq) for f in report.tally.findings} == {(meter_id(3), 1)}


def test_a_row_moved_off_the_interval_grid_inside_its_range(small: Filled) -> None:
    small.sql(
        "UPDATE interval_readings SET at = at + 1 WHERE meter_ref = ? AND batch_seq = 2 AND at = ?",
        (small.ref(1), _end(2, 3)),
    )
    report = small.verify()
    assert kinds(report) == {"MISSING_READING": 5, "EXTRA_READING": 5}


def test_a_gm_log_hashes_batches_with_sm3(opener: StoreOpener) -> None:
    store = opener()
    try:
        leaves = fill_store(store, 2, 3, intervals=4, hash_alg=SM3)
    finally:
        store.close()
    ledger = MemoryLedger.with_test_key(hasher=SM3_HASHER)
    ledger.submit(leaves)
    clean = verify_ledger(ledger, opener, ledger.verifiers, rng=os.urandom, now=0, hash_alg=SM3)
    assert clean.clean, [f.line() for f in clean.tally.findings]
    assert clean.tally.batches == 6
    wrong = verify_ledger(ledger, opener, ledger.verifiers, rng=os.urandom, now=0)  # SHA-256
    assert kinds(wrong) == {"LOG_MISMATCH": 1}


def test_a_fractional_value_is_an_altered_reading(small: Filled) -> None:
    small.sql(  # SQLite keeps the REAL; PostgreSQL rounds it into the bigint column
        "UPDATE interval_readings SET energy_export_wh = energy_export_wh + 0.75"
        " WHERE meter_ref = ? AND batch_seq = 4 AND at = ?",
        (small.ref(2), _end(4, 6)),
    )
    report = small.verify()
    [finding] = report.tally.findings
    assert finding.kind is FindingKind.ALTERED_READING
    assert (finding.meter_id, finding.batch_seq) == (meter_id(2), 4)
    assert f"interval end {_end(4, 6)} register {int(Register.ENERGY_EXPORT_WH)}" in finding.detail
