"""``/api/ledger``: the latest checkpoint, its witness cosignatures, inclusion proofs.

Programmed against :class:`~meterseal.api.context.LedgerView`, the read part of the
:class:`~meterseal.ledger.interface.Ledger` protocol; without a ledger the status says
``configured: false`` and proofs answer 503. The checkpoint's signature lines are listed
as they are in the note (c2sp.org/signed-note): the line whose key name is the
checkpoint's origin is the log's, every other line a witness cosignature
(c2sp.org/tlog-cosignature). They are shown, not verified, here: verification against
trusted keys is ``meterseal ledger verify``'s job.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query

from meterseal.api.auth import Principal
from meterseal.api.context import Context, LedgerView, require
from meterseal.api.errors import BadRequestError, ServiceUnavailableError
from meterseal.api.roles import Action
from meterseal.api.schemas import (
    ERROR_RESPONSES,
    LedgerStatus,
    ProofOut,
    SignatureOut,
    VerificationOut,
)
from meterseal.api.verification import verification_out
from meterseal.ledger.checkpoint import parse_checkpoint
from meterseal.ledger.errors import LedgerUnavailableError, NoteError, TreeRangeError
from meterseal.ledger.note import parse_note
from meterseal.store import AccountStore

router = APIRouter(prefix="/api", tags=["ledger"], responses=ERROR_RESPONSES)

LedgerReader = Annotated[Principal, Depends(require(Action.LEDGER_READ))]


def last_verification(store: AccountStore) -> VerificationOut | None:
    """The newest recorded verification run, or None."""
    runs = store.verification_runs(1)
    return verification_out(runs[0]) if runs else None


def ledger_status(ledger: LedgerView | None, store: AccountStore) -> LedgerStatus:
    """What the ledger page and ``GET /api/ledger`` show."""
    verification = last_verification(store)
    if ledger is None:
        return LedgerStatus(configured=False, last_verification=verification)
    try:
        note = parse_note(ledger.checkpoint())
        checkpoint = parse_checkpoint(note.text)
    except NoteError as exc:
        raise ServiceUnavailableError(f"the ledger's checkpoint is malformed: {exc}") from exc
    signatures = [
        SignatureOut(
            name=line.name,
            key_id=f"{line.key_id:08x}",
            role="log" if line.name == checkpoint.origin else "witness",
        )
        for line in note.signatures
    ]
    return LedgerStatus(
        configured=True,
        origin=checkpoint.origin,
        tree_size=checkpoint.size,
        root_hash=checkpoint.root_hash.hex(),
        signatures=signatures,
        witness_cosignatures=sum(s.role == "witness" for s in signatures),
        last_verification=verification,
    )


@router.get("/ledger")
def status(context: Context, _: LedgerReader) -> LedgerStatus:
    """The latest signed checkpoint: origin, size, root, log and witness signatures."""
    return ledger_status(context.ledger, context.store)


@router.get("/ledger/verifications")
def verifications(
    context: Context, _: LedgerReader, limit: Annotated[int, Query(ge=1, le=100)] = 10
) -> list[VerificationOut]:
    """Recorded ``ledger verify`` runs, newest first, with the findings each kept."""
    return [verification_out(run) for run in context.store.verification_runs(limit)]


@router.get("/ledger/proof")
def inclusion_proof(
    context: Context,
    _: LedgerReader,
    index: Annotated[int, Query(ge=0, le=2**62)],
    tree_size: Annotated[int, Query(ge=1, le=2**62)],
) -> ProofOut:
    """RFC 9162 section 2.1.3 inclusion proof of leaf ``index`` in a tree of ``tree_size``."""
    if context.ledger is None:
        raise ServiceUnavailableError("no ledger is configured for this console")
    if index >= tree_size:
        raise BadRequestError("index must be below tree_size")
    try:
        hashes = context.ledger.inclusion_proof(index, tree_size)
    except TreeRangeError as exc:
        raise BadRequestError(str(exc)) from exc
    except LedgerUnavailableError as exc:
        raise ServiceUnavailableError(str(exc)) from exc
    return ProofOut(index=index, tree_size=tree_size, hashes=[h.hex() for h in hashes])
