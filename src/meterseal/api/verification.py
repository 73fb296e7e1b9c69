"""Verification runs for the ledger page: recorded by ``ledger verify``, read by the API.

:func:`record_verification` files a :class:`~meterseal.ledger.verify_findings.VerifyReport`
in the collection store's ``verification_runs`` (schema version 6): the counts by finding
kind and the findings the run kept (its ``--max-findings``), so the console can show the
last run and name every tampered, missing or extra record it kept.
"""

from __future__ import annotations

from typing import Any, Protocol

from meterseal.api.schemas import FindingOut, VerificationOut
from meterseal.ledger.verify_findings import Finding, VerifyReport
from meterseal.store.accounts import VerificationRunRow


class RunStore(Protocol):
    """Where verification runs are kept (both SQL stores)."""

    def add_verification_run(self, run: VerificationRunRow) -> VerificationRunRow:
        """Record a run."""
        ...


def _finding(finding: Finding) -> dict[str, Any]:
    return {
        "kind": finding.kind.value,
        "meter_id": finding.meter_id,
        "batch_seq": finding.batch_seq,
        "detail": finding.detail,
    }


def record_verification(store: RunStore, report: VerifyReport, now: int) -> VerificationRunRow:
    """File ``report`` as the store's newest verification run, made at ``now``."""
    tally = report.tally
    run = VerificationRunRow(
        run_id=0,
        at=now,
        origin=report.origin,
        tree_size=report.tree_size,
        batches=tally.batches,
        findings=tally.total,
        summary={"by_kind": dict(tally.by_kind), "elapsed_s": round(report.elapsed_s, 3)},
        sample=[_finding(finding) for finding in tally.findings],
    )
    return store.add_verification_run(run)


def verification_out(run: VerificationRunRow) -> VerificationOut:
    """The API form of a recorded run."""
    by_kind = {str(kind): int(count) for kind, count in run.summary.get("by_kind", {}).items()}
    return VerificationOut(
        run_id=run.run_id,
        at=run.at,
        origin=run.origin,
        tree_size=run.tree_size,
        batches=run.batches,
        findings=run.findings,
        clean=run.findings == 0,
        by_kind=by_kind,
        sample=[FindingOut(**item) for item in run.sample],
    )
