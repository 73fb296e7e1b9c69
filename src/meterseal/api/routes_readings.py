"""``/api/meters/{id}/readings`` and ``/consumption``: range queries over stored readings."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Annotated, Final

from fastapi import APIRouter, Depends, Query

from meterseal.api.auth import Principal
from meterseal.api.context import Context, require
from meterseal.api.errors import BadRequestError, NotFoundError
from meterseal.api.roles import Action
from meterseal.api.schemas import ERROR_RESPONSES, DayOut, ReadingOut
from meterseal.api.views import register_name

router = APIRouter(prefix="/api", tags=["readings"], responses=ERROR_RESPONSES)

MAX_READING_RANGE: Final = 31 * 86_400
"""Longest time range one readings request may ask for."""

MAX_DAYS: Final = 366
"""Most days one consumption request may ask for."""

MAX_TIME: Final = 2**53
"""Largest time the API accepts (unix seconds)."""

ReadingsReader = Annotated[Principal, Depends(require(Action.READINGS_READ))]


@router.get("/meters/{meter_id}/readings")
def readings(
    context: Context,
    _: ReadingsReader,
    meter_id: str,
    start: Annotated[int, Query(ge=0, le=MAX_TIME, description="unix seconds, inclusive")],
    end: Annotated[int, Query(ge=0, le=MAX_TIME, description="unix seconds, exclusive")],
) -> list[ReadingOut]:
    """Register values with ``start <= at < end`` (at most 31 days), by time and register."""
    if not 0 < end - start <= MAX_READING_RANGE:
        raise BadRequestError("end must be after start, at most 31 days later")
    if context.store.get_meter(meter_id) is None:
        raise NotFoundError(f"no meter {meter_id!r}")
    return [
        ReadingOut(
            at=row.at,
            register_code=row.register,
            name=register_name(row.register),
            value=row.value,
            batch_seq=row.batch_seq,
        )
        for row in context.store.readings(meter_id, start, end)
    ]


@router.get("/meters/{meter_id}/consumption")
def consumption(
    context: Context,
    _: ReadingsReader,
    meter_id: str,
    start_day: Annotated[date, Query(description="first UTC day, ISO 8601")],
    end_day: Annotated[date, Query(description="last UTC day, inclusive")],
) -> list[DayOut]:
    """Daily consumption (differences of the cumulative register) per UTC day."""
    if not timedelta(0) <= end_day - start_day < timedelta(days=MAX_DAYS):
        raise BadRequestError(f"end_day must be start_day or later, within {MAX_DAYS} days")
    if context.store.get_meter(meter_id) is None:
        raise NotFoundError(f"no meter {meter_id!r}")
    rows = context.store.daily_consumption(meter_id, start_day, end_day)
    return [DayOut(day=row.day, consumption=row.consumption) for row in rows]
