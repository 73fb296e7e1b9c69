"""What the collection side may ask of the ledger service, and nothing more.

The ledger runs as its own service with its own store and its own signing key (see
docs/ledger.md). The collection side (head-end, security server, console, verifier)
reaches it through this one interface, whose implementations are the in-process
:class:`~meterseal.ledger.local.LocalLedger` (the embedded demo: still its own database
file and key) and the HTTP client :class:`~meterseal.ledger.client.LedgerClient`.

Everything here is leaf *data* as :func:`~meterseal.ledger.leaves.leaf_data` encodes it,
signed checkpoint notes as C2SP signed-note text, and proofs as lists of node hashes.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True, slots=True)
class Submitted:
    """Where a submission landed: entries ``first_index .. first_index + count - 1``.

    When :meth:`Ledger.submit` returns, the entries are integrated and durable in the
    ledger's own store, and ``checkpoint`` (a signed note) commits to a tree of
    ``tree_size >= first_index + count`` leaves that includes them.
    """

    first_index: int
    count: int
    tree_size: int
    checkpoint: bytes


class Ledger(Protocol):
    """The ledger service as the collection side sees it.

    Every method raises :class:`~meterseal.ledger.errors.LedgerError` subclasses only; a
    ledger that cannot be reached is ``LedgerUnavailableError``.
    """

    def submit(self, entries: Sequence[bytes]) -> Submitted:
        """Append leaf data entries, in order, in one transaction, and sign a checkpoint."""
        ...

    def checkpoint(self) -> bytes:
        """The latest signed checkpoint note (with any witness cosignatures it has)."""
        ...

    def entries(self, start: int, end: int) -> Iterator[bytes]:
        """Leaf data of entries ``start <= index < end`` in order (``end`` at most the
        latest checkpoint's size), fetched bundle by bundle."""
        ...

    def inclusion_proof(self, index: int, tree_size: int) -> list[bytes]:
        """RFC 9162 section 2.1.3 inclusion proof of leaf ``index`` in tree ``tree_size``."""
        ...

    def consistency_proof(self, old_size: int, new_size: int) -> list[bytes]:
        """RFC 9162 section 2.1.4 consistency proof between two tree sizes."""
        ...

    def close(self) -> None:
        """Release the connection or database; later calls raise."""
        ...


class WitnessPort(Protocol):
    """One witness as the ledger service reaches it (C2SP tlog-witness add-checkpoint).

    Implementations: the HTTP client :class:`~meterseal.ledger.witness_client.WitnessClient`
    and, in process, :class:`~meterseal.ledger.witness_client.LocalWitness` (the
    embedded demo: the witness still keeps its own state file and key).
    """

    def add_checkpoint(self, old_size: int, proof: Sequence[bytes], checkpoint: bytes) -> bytes:
        """Ask the witness to cosign ``checkpoint`` (a signed note), given the consistency
        proof from ``old_size``, the size the ledger believes the witness last cosigned.

        Returns the cosignature lines (``"\\u2014 name base64\\n"`` each) to append to
        the note. Raises :class:`~meterseal.ledger.errors.WitnessConflictError` (whose
        ``witness_size`` tells the ledger the right old size to retry with), another
        :class:`~meterseal.ledger.errors.WitnessError` for a refusal, or
        :class:`~meterseal.ledger.errors.LedgerUnavailableError` when unreachable.
        """
        ...
