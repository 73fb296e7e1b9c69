"""``/api/audit``: the append-only audit log, newest first (admin and auditor)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query

from meterseal.api.auth import Principal
from meterseal.api.context import Context, require
from meterseal.api.roles import Action
from meterseal.api.schemas import ERROR_RESPONSES, AuditOut
from meterseal.store.accounts import AuditRow

router = APIRouter(prefix="/api", tags=["audit"], responses=ERROR_RESPONSES)

AuditReader = Annotated[Principal, Depends(require(Action.AUDIT_READ))]


def audit_out(row: AuditRow) -> AuditOut:
    """The API form of an audit row."""
    return AuditOut(
        audit_id=row.audit_id,
        at=row.at,
        actor=row.actor,
        action=row.action,
        target=row.target,
        detail=dict(row.detail),
        outcome=row.outcome,
    )


@router.get("/audit")
def audit_log(
    context: Context,
    _: AuditReader,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    before: Annotated[int | None, Query(ge=1, le=2**62, description="ids below this")] = None,
) -> list[AuditOut]:
    """Audit entries, newest first; page with ``before`` = the last id seen."""
    return [audit_out(row) for row in context.store.list_audit(limit=limit, before=before)]
