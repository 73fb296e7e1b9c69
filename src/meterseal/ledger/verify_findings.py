"""What ``meterseal ledger verify`` reports: typed findings and the run's summary.

A *finding* is one discrepancy between the collection store and the ledger (or inside
either), named by meter id and batch sequence so that an operator can find the record.
Findings are data, not exceptions: verification collects every one of them and the
command exits non-zero when there is any. Kinds (docs/ledger.md, "Verification"):

======================  ===================================================================
kind                    meaning
======================  ===================================================================
LOG_SIGNATURE           the checkpoint does not verify against the configured keys
LOG_MISMATCH            the log serves entries whose Merkle root is not the checkpoint's
MALFORMED_LEAF          an entry of the log is not a MeterSeal leaf in canonical encoding
DUPLICATE_IN_LOG        two BatchAccepted leaves name the same (meter, sequence)
ALTERED                 stored signed bytes (or their stored hash) differ from the log
MISSING_FROM_LOG        a stored batch was never logged (``received_at`` in the detail)
MISSING_FROM_STORE      a logged batch is not in the store
SEQUENCE_GAP            a meter's batch sequences skip numbers between lowest and highest
ALTERED_READING         a stored register value differs from the signed batch
MISSING_READING         an interval of the signed batch has no stored row
EXTRA_READING           a stored row or register value that the signed batch does not have
EXTRA_ROWS              stored reading rows that belong to no stored batch
ALTERED_METADATA        a batch row's interval or count columns differ from the signed batch
UNDECODABLE_BATCH       stored signed bytes that do not decode as a reading batch
ALTERED_EVENT           a stored event row differs from, is missing from, or is not in the
                        signed batch (``meter_events``, schema version 8)
======================  ===================================================================
"""

from __future__ import annotations

import enum
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any


class FindingKind(enum.StrEnum):
    """The kinds of discrepancy verification reports."""

    LOG_SIGNATURE = "LOG_SIGNATURE"
    LOG_MISMATCH = "LOG_MISMATCH"
    MALFORMED_LEAF = "MALFORMED_LEAF"
    DUPLICATE_IN_LOG = "DUPLICATE_IN_LOG"
    ALTERED = "ALTERED"
    MISSING_FROM_LOG = "MISSING_FROM_LOG"
    MISSING_FROM_STORE = "MISSING_FROM_STORE"
    SEQUENCE_GAP = "SEQUENCE_GAP"
    ALTERED_READING = "ALTERED_READING"
    MISSING_READING = "MISSING_READING"
    EXTRA_READING = "EXTRA_READING"
    EXTRA_ROWS = "EXTRA_ROWS"
    ALTERED_METADATA = "ALTERED_METADATA"
    UNDECODABLE_BATCH = "UNDECODABLE_BATCH"
    ALTERED_EVENT = "ALTERED_EVENT"


@dataclass(frozen=True, slots=True)
class Finding:
    """One discrepancy: its kind, the meter and batch sequence it concerns, and details.

    ``meter_id`` and ``batch_seq`` are None where the finding concerns the log as a whole
    (or a leaf index, given in ``detail``).
    """

    kind: FindingKind
    meter_id: str | None
    batch_seq: int | None
    detail: str

    def line(self) -> str:
        """``KIND meter seq detail``, the CLI's one line per finding."""
        meter = self.meter_id if self.meter_id is not None else "-"
        seq = str(self.batch_seq) if self.batch_seq is not None else "-"
        return f"{self.kind.value} {meter} {seq} {self.detail}"


@dataclass(frozen=True, slots=True)
class ReadingDiff:
    """The precise form of an ALTERED_READING finding: which value, stored and signed."""

    meter_id: str
    batch_seq: int
    at: int
    register: int
    stored: int | None
    signed: int | None

    def finding(self) -> Finding:
        """The finding this difference is reported as."""
        kind = FindingKind.ALTERED_READING
        if self.signed is None:
            kind = FindingKind.EXTRA_READING
        elif self.stored is None:
            kind = FindingKind.MISSING_READING
        detail = (
            f"interval end {self.at} register {self.register}: "
            f"stored {_value(self.stored)}, signed {_value(self.signed)}"
        )
        return Finding(kind, self.meter_id, self.batch_seq, detail)


EventValues = tuple[Any, ...]
"""``(at, kind, detail)`` of one event: as signed, or as stored (any type SQLite kept)."""


def event_findings(
    meter_id: str, seq: int, signed: Sequence[EventValues], stored: dict[int, EventValues]
) -> list[Finding]:
    """ALTERED_EVENT for each event position where the stored rows (by ``idx``) and the
    signed batch's events disagree: altered, deleted, or added."""
    findings = []
    for idx in sorted(set(range(len(signed))) | stored.keys()):
        want = signed[idx] if 0 <= idx < len(signed) else None
        have = stored.get(idx)
        if want != have:
            detail = f"event {idx} (at, kind, detail): stored {_event(have)}, signed {_event(want)}"
            findings.append(Finding(FindingKind.ALTERED_EVENT, meter_id, seq, detail))
    return findings


def _event(values: EventValues | None) -> str:
    return "none" if values is None else "(" + ", ".join(map(repr, values)) + ")"


def _value(value: int | None) -> str:
    return "none" if value is None else str(value)


@dataclass(slots=True)
class Tally:
    """Counts and the first ``limit`` findings of a (part of a) verification run."""

    limit: int
    findings: list[Finding] = field(default_factory=list)
    by_kind: dict[str, int] = field(default_factory=dict)
    batches: int = 0
    intervals: int = 0
    pending: int = 0
    log_batches: int = 0

    @property
    def total(self) -> int:
        """Every finding counted, kept or not."""
        return sum(self.by_kind.values())

    def add(self, finding: Finding) -> None:
        """Count ``finding``; keep it while fewer than ``limit`` are kept."""
        self.by_kind[finding.kind.value] = self.by_kind.get(finding.kind.value, 0) + 1
        if len(self.findings) < self.limit:
            self.findings.append(finding)

    def merge(self, other: Tally) -> None:
        """Add another tally's counts and (up to the limit) its findings."""
        for kind, count in other.by_kind.items():
            self.by_kind[kind] = self.by_kind.get(kind, 0) + count
        room = max(0, self.limit - len(self.findings))
        self.findings.extend(other.findings[:room])
        self.batches += other.batches
        self.intervals += other.intervals
        self.pending += other.pending
        self.log_batches += other.log_batches


@dataclass(frozen=True, slots=True)
class VerifyReport:
    """The outcome of a verification run."""

    tree_size: int
    origin: str
    tally: Tally
    elapsed_s: float
    log_trusted: bool = True

    @property
    def clean(self) -> bool:
        """True when nothing was found."""
        return self.tally.total == 0

    def summary(self) -> str:
        """One human line: what was checked and how many findings of each kind."""
        tally = self.tally
        kinds = ", ".join(f"{k} {n}" for k, n in sorted(tally.by_kind.items())) or "none"
        if not self.log_trusted:
            return (
                f"the log did not verify, so the store was not compared with it; "
                f"{tally.total} findings ({kinds}) in {self.elapsed_s:.1f} s"
            )
        return (
            f"checked {tally.batches} stored batches ({tally.intervals} interval readings) "
            f"against {tally.log_batches} logged batches of {self.origin} at tree size "
            f"{self.tree_size}; {tally.pending} pending; {tally.total} findings ({kinds}) "
            f"in {self.elapsed_s:.1f} s"
        )

    def as_json(self) -> str:
        """The summary as one JSON object (the CLI's last line with ``--json``)."""
        tally = self.tally
        return json.dumps(
            {
                "clean": self.clean,
                "log_trusted": self.log_trusted,
                "origin": self.origin,
                "tree_size": self.tree_size,
                "batches": tally.batches,
                "intervals": tally.intervals,
                "log_batches": tally.log_batches,
                "pending": tally.pending,
                "findings": tally.total,
                "by_kind": dict(sorted(tally.by_kind.items())),
                "shown": len(tally.findings),
                "elapsed_s": round(self.elapsed_s, 3),
            },
            sort_keys=True,
        )
