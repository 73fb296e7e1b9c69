"""``/api/fleet`` and ``/api/meters``: the registry, latest state and credential status."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query

from meterseal.api import views
from meterseal.api.auth import Principal
from meterseal.api.context import Context, require
from meterseal.api.roles import Action
from meterseal.api.schemas import (
    ERROR_RESPONSES,
    Alarm,
    CredentialStatus,
    FleetOverview,
    MeterDetail,
    MeterEventOut,
    MeterSummary,
    PublicKeys,
)

router = APIRouter(prefix="/api", tags=["meters"], responses=ERROR_RESPONSES)

MAX_PAGE = 5000
"""Most meters or alarms one request returns."""

MetersReader = Annotated[Principal, Depends(require(Action.METERS_READ))]
KeysReader = Annotated[Principal, Depends(require(Action.KEYS_READ))]


@router.get("/fleet")
def fleet(context: Context, _: MetersReader) -> FleetOverview:
    """Counts by meter type, suite and state, and the alarm list (with its rule)."""
    settings = context.settings
    return views.fleet_overview(
        context.store, context.now(), settings.reading_interval, settings.alarm_days
    )


Offset = Annotated[int, Query(ge=0, le=2**31)]


@router.get("/alarms")
def alarms(
    context: Context,
    _: MetersReader,
    offset: Offset = 0,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 500,
) -> list[Alarm]:
    """Every alarm, in meter order, a page at a time (the rule: ``GET /api/fleet``)."""
    settings = context.settings
    found = views.fleet_alarms(
        context.store, context.now(), settings.reading_interval, settings.alarm_days
    )
    return found[offset : offset + limit]


@router.get("/meters")
def list_meters(
    context: Context,
    _: MetersReader,
    *,
    meter_type: Annotated[str | None, Query(alias="type", max_length=32)] = None,
    suite: Annotated[int | None, Query(ge=-65536, le=65535)] = None,
    state: Annotated[str | None, Query(max_length=32)] = None,
    offset: Offset = 0,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 1000,
) -> list[MeterSummary]:
    """Registered meters by ID, filtered by type, suite and state, a page at a time."""
    meters = views.meter_summaries(context.store, meter_type=meter_type, suite=suite, state=state)
    return meters[offset : offset + limit]


@router.get("/meters/{meter_id}")
def get_meter(context: Context, _: MetersReader, meter_id: str) -> MeterDetail:
    """One meter: registration state, suite, last seen, latest register values."""
    return views.meter_detail(context.store, meter_id)


Time = Annotated[int | None, Query(ge=0, le=2**62)]

EVENT_WINDOW = 30 * 86_400
"""The default window of ``GET /api/meters/{meter_id}/events``: the last 30 days."""


@router.get("/meters/{meter_id}/events")
def events(
    context: Context,
    _: MetersReader,
    meter_id: str,
    start: Time = None,
    end: Time = None,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 1000,
) -> list[MeterEventOut]:
    """The meter's events with ``start <= at < end`` (unix seconds by the meter's clock;
    default: the last 30 days, and one day ahead for a clock that runs fast), oldest
    first, as signed by the meter."""
    now = context.now()
    low = now - EVENT_WINDOW if start is None else start
    high = now + 86_400 if end is None else end
    return views.meter_events(context.store, meter_id, low, high, limit)


@router.get("/meters/{meter_id}/credential")
def credential(context: Context, _: MetersReader, meter_id: str) -> CredentialStatus:
    """The meter's credential status (a hash of the credential; no key material)."""
    return views.credential_status(context.store, meter_id)


@router.get("/meters/{meter_id}/keys")
def keys(context: Context, _: KeysReader, meter_id: str) -> PublicKeys:
    """The meter's public keys (admin and auditor only). Private keys never leave the
    meter's secure element, and no endpoint could return one."""
    return views.public_keys(context.store, meter_id)
