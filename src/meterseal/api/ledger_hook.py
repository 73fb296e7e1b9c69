"""Audit rows into the ledger: the one hook between the audit log and the ledger outbox.

Every audit row becomes an :class:`~meterseal.ledger.leaves.AuditEntry` leaf (kind 8):
actor, action, target, the log's hash of ``{"detail": detail, "outcome": outcome}`` in
canonical JSON (what the store keeps, plus the outcome) and its time.
:func:`audit_to_outbox` makes the ``on_audit`` callback of
:class:`~meterseal.api.settings.ConsoleSettings` that queues that leaf in the store's
ledger outbox (:mod:`meterseal.store.outbox`), from where the outbox worker submits it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Protocol, runtime_checkable

from meterseal.crypto.hashes import SHA_256, OpenSslHash
from meterseal.ledger.leaves import audit_entry, leaf_data
from meterseal.store.accounts import AuditRow, canonical_json


@runtime_checkable
class LeafOutbox(Protocol):
    """Where leaves wait for the ledger (the SQL stores' outbox)."""

    def enqueue_leaves(self, entries: Sequence[bytes], now: int) -> None:
        """Queue leaf data entries, in order, in one transaction."""
        ...


def audit_leaf(row: AuditRow, hash_alg: OpenSslHash = SHA_256) -> bytes:
    """The ledger leaf data of an audit row (kind 8, ``AuditEntry``)."""
    detail = canonical_json({"detail": row.detail, "outcome": row.outcome}).encode("ascii")
    entry = audit_entry(row.actor, row.action, row.target, detail, row.at, hash_alg=hash_alg)
    return leaf_data(entry)


def audit_to_outbox(
    outbox: LeafOutbox, hash_alg: OpenSslHash = SHA_256
) -> Callable[[AuditRow], None]:
    """The ``on_audit`` hook queueing every audit row's leaf in ``outbox``."""

    def enqueue(row: AuditRow) -> None:
        outbox.enqueue_leaves([audit_leaf(row, hash_alg)], row.at)

    return enqueue


def outbox_hook(
    store: object, hash_alg: OpenSslHash = SHA_256
) -> Callable[[AuditRow], None] | None:
    """:func:`audit_to_outbox` for a store with a ledger outbox, else None."""
    return audit_to_outbox(store, hash_alg) if isinstance(store, LeafOutbox) else None
