"""Head-end counters: handshakes, batches, readings, connections, commands.

Each worker process keeps one :class:`HeadendStats`; the parent sums the workers'
snapshots (:meth:`HeadendStats.merge`) so ``serve`` and the demo can print fleet totals.
Every rejection is counted under its reason; the reasons are the lower-case names of the
close reasons and batch reject reasons. ``workers_alive`` is summed like the rest (each
serving process counts 1); ``worker_restarts`` and ``workers_abandoned`` are the parent's
(:mod:`meterseal.headend.supervisor`).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field, fields
from typing import Any

_REASONED = ("handshakes_failed_by", "batches_rejected_by", "connections_closed_by")


@dataclass
class HeadendStats:
    """Counters of one head-end (or the sum over workers)."""

    connections: int = 0  # open now
    connections_total: int = 0
    handshakes_ok: int = 0
    handshakes_failed: int = 0
    batches_accepted: int = 0
    batches_duplicate: int = 0
    batches_rejected: int = 0
    batches_unavailable: int = 0  # store failures: nothing was acknowledged
    readings_stored: int = 0  # register values newly stored (5 per electricity interval)
    intervals_stored: int = 0  # interval readings newly stored (interval_readings rows)
    store_calls: int = 0  # store_batches transactions
    record_failures: int = 0
    commands_queued: int = 0
    commands_sent: int = 0
    command_acks: int = 0
    auth_results_logged: int = 0  # AuthenticationResult leaves collected for the ledger
    workers_alive: int = 0  # head-end processes serving (each counts itself)
    worker_restarts: int = 0  # worker processes started to replace a dead one (parent)
    workers_abandoned: int = 0  # worker slots given up after a crash loop (parent)
    handshakes_failed_by: Counter[str] = field(default_factory=Counter)
    batches_rejected_by: Counter[str] = field(default_factory=Counter)
    connections_closed_by: Counter[str] = field(default_factory=Counter)

    def handshake_failed(self, reason: str) -> None:
        """Count a failed handshake under ``reason``."""
        self.handshakes_failed += 1
        self.handshakes_failed_by[reason] += 1

    def batch_rejected(self, reason: str) -> None:
        """Count a rejected batch under ``reason``."""
        self.batches_rejected += 1
        self.batches_rejected_by[reason] += 1

    def snapshot(self) -> dict[str, Any]:
        """The counters as plain data (for pipes, JSON and printing)."""
        return {
            item.name: dict(value) if isinstance(value, Counter) else value
            for item in fields(self)
            for value in (getattr(self, item.name),)
        }

    @classmethod
    def from_snapshot(cls, data: dict[str, Any]) -> HeadendStats:
        """Rebuild counters from :meth:`snapshot`'s output."""
        stats = cls()
        stats.merge_snapshot(data)
        return stats

    def merge_snapshot(self, data: dict[str, Any]) -> None:
        """Add another head-end's counters to these."""
        for name, value in data.items():
            if name in _REASONED:
                getattr(self, name).update(value)
            else:
                setattr(self, name, getattr(self, name) + value)

    @classmethod
    def merge(cls, parts: list[HeadendStats]) -> HeadendStats:
        """The sum of several head-ends' counters."""
        total = cls()
        for part in parts:
            total.merge_snapshot(part.snapshot())
        return total
