"""Read models shared by the REST API and the console pages: fleet, meters, events,
credentials.

What an *alarm* is, from what the store records: a meter whose registration is not
``registered`` (revoked), a meter that never sent a reading, a meter whose last reading is
more than two reading intervals old (silent), and each tamper event (cover or terminal
cover opened, magnetic interference, reverse flow, firmware read attempt, current bypass,
secure-element tamper: :data:`~meterseal.messages.events.TAMPER_KINDS`) a meter reported
in the last ``alarm_days`` days by its own clock.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Sequence
from typing import Final, Protocol

from meterseal.api.errors import NotFoundError
from meterseal.api.schemas import (
    Alarm,
    CredentialStatus,
    FleetOverview,
    IssuedCredential,
    MeterDetail,
    MeterEventOut,
    MeterSummary,
    PublicKeys,
    RegisterValue,
)
from meterseal.messages.events import TAMPER_KINDS, EventKind
from meterseal.store import STATE_REGISTERED, MeterLatest, MeterRecord, Register, Store
from meterseal.store.events import EventStore, StoredEvent
from meterseal.store.security import CredentialRow

TAMPER_NAMES: Final = ", ".join(
    sorted(kind.name.lower().replace("_", " ") for kind in TAMPER_KINDS)
)

ALARM_RULE = (
    "An alarm is a meter that is not in the registered state, that never sent a reading, "
    "or whose last reading is older than two reading intervals; and each tamper event ("
    + TAMPER_NAMES
    + ") that a meter reported in the last {days} days by its own clock."
)

TAMPER_ALARMS_MAX: Final = 1000
"""Most tamper-event alarms gathered (the newest)."""


class FleetStore(Store, EventStore, Protocol):
    """A store with the meters' event rows (both SQL backends are one)."""


ALARMS_SHOWN = 100
"""Alarms the fleet overview carries; ``GET /api/alarms`` pages through all of them."""


def register_name(code: int) -> str:
    """The register's name (unit included), or ``register N`` for an unknown code."""
    try:
        return Register(code).name.lower()
    except ValueError:
        return f"register {code}"


def _summary(meter: MeterRecord, latest: MeterLatest | None) -> MeterSummary:
    return MeterSummary(
        meter_id=meter.meter_id,
        meter_type=meter.meter_type,
        suite=meter.suite,
        state=meter.state,
        owner=meter.owner,
        registered_at=meter.registered_at,
        last_seen=None if latest is None else latest.last_reading_at,
        last_batch_seq=None if latest is None else latest.last_batch_seq,
    )


def meter_summaries(
    store: Store,
    *,
    meter_type: str | None = None,
    suite: int | None = None,
    state: str | None = None,
) -> list[MeterSummary]:
    """Every meter (filtered by type, suite and state when given), by meter ID."""
    latest = {row.meter_id: row for row in store.latest_state()}
    return [
        _summary(meter, latest.get(meter.meter_id))
        for meter in store.list_meters()
        if (meter_type is None or meter.meter_type == meter_type)
        and (suite is None or meter.suite == suite)
        and (state is None or meter.state == state)
    ]


def duration(seconds: int) -> str:
    """A rough, readable length of time: ``40 min``, ``5 h``, ``12 days``."""
    if seconds < 2 * 3600:
        return f"{seconds // 60} min"
    if seconds < 2 * 86_400:
        return f"{seconds // 3600} h"
    return f"{seconds // 86_400} days"


def _alarm(meter: MeterSummary, now: int, interval: int) -> Alarm | None:
    if meter.state != STATE_REGISTERED:
        return Alarm(meter_id=meter.meter_id, kind="revoked", detail=f"state is {meter.state}")
    if meter.last_seen is None:
        return Alarm(meter_id=meter.meter_id, kind="never_reported", detail="no reading stored")
    silent = now - meter.last_seen
    if silent > 2 * interval:
        detail = f"no reading for {duration(silent)}"
        return Alarm(meter_id=meter.meter_id, kind="silent", detail=detail, since=meter.last_seen)
    return None


def alarms(
    meters: Sequence[MeterSummary], now: int, interval: int, tamper: Sequence[Alarm] = ()
) -> list[Alarm]:
    """The alarms of ``meters`` and the ``tamper`` event alarms, in meter order (a meter's
    state alarm first, then its events newest first; see :data:`ALARM_RULE`)."""
    status = [alarm for meter in meters if (alarm := _alarm(meter, now, interval)) is not None]
    return sorted([*status, *tamper], key=_meter_of)


def _meter_of(alarm: Alarm) -> str:
    return alarm.meter_id


def event_kind_name(code: int) -> str:
    """The event kind's name in lower case, or ``event N`` for an unknown code."""
    try:
        return EventKind(code).name.lower()
    except ValueError:
        return f"event {code}"


def event_out(event: StoredEvent) -> MeterEventOut:
    """A stored event as the API shows it."""
    return MeterEventOut(
        meter_id=event.meter_id,
        batch_seq=event.batch_seq,
        index=event.index,
        at=event.at,
        kind=event_kind_name(event.kind),
        kind_code=event.kind,
        detail=event.detail,
        tamper=event.kind in TAMPER_KINDS,
    )


def meter_events(
    store: FleetStore, meter_id: str, start: int, end: int, limit: int
) -> list[MeterEventOut]:
    """The meter's events with ``start <= at < end``, oldest first; 404 if unknown."""
    _meter(store, meter_id)
    return [event_out(event) for event in store.events(meter_id, start, end, limit)]


def tamper_alarms(store: FleetStore, now: int, days: int) -> list[Alarm]:
    """One alarm per tamper event reported in the last ``days`` days, newest first."""
    found = store.recent_events(TAMPER_KINDS, now - days * 86_400, TAMPER_ALARMS_MAX)
    return [
        Alarm(
            meter_id=event.meter_id,
            kind="tamper",
            detail=f"{event_kind_name(event.kind).replace('_', ' ')} (detail {event.detail},"
            f" batch {event.batch_seq})",
            since=event.at,
        )
        for event in found
    ]


def fleet_alarms(store: FleetStore, now: int, interval: int, days: int) -> list[Alarm]:
    """Every alarm of the fleet (see :data:`ALARM_RULE`)."""
    return alarms(meter_summaries(store), now, interval, tamper_alarms(store, now, days))


def fleet_overview(store: FleetStore, now: int, interval: int, days: int = 7) -> FleetOverview:
    """Counts by type, suite and state, and the first :data:`ALARMS_SHOWN` alarms."""
    meters = meter_summaries(store)
    found = alarms(meters, now, interval, tamper_alarms(store, now, days))
    return FleetOverview(
        meters=len(meters),
        by_type=dict(sorted(Counter(m.meter_type for m in meters).items())),
        by_suite={str(k): v for k, v in sorted(Counter(m.suite for m in meters).items())},
        by_state=dict(sorted(Counter(m.state for m in meters).items())),
        alarm_total=len(found),
        alarms=found[:ALARMS_SHOWN],
        alarm_rule=ALARM_RULE.format(days=days),
    )


class CredentialReader(Store, Protocol):
    """A store that also keeps the CA's issued credentials."""

    def credentials(self, subject: str | None = None) -> list[CredentialRow]:
        """Issued credentials (all, or one subject's)."""


def _meter(store: Store, meter_id: str) -> MeterRecord:
    meter = store.get_meter(meter_id)
    if meter is None:
        raise NotFoundError(f"no meter {meter_id!r}")
    return meter


def meter_detail(store: Store, meter_id: str) -> MeterDetail:
    """One meter with its last reading time and latest register values."""
    meter = _meter(store, meter_id)
    latest = next((row for row in store.latest_state() if row.meter_id == meter_id), None)
    summary = _summary(meter, latest)
    values = [] if latest is None else latest.registers
    return MeterDetail(
        **summary.model_dump(),
        firmware=None,
        latest=[RegisterValue(register_code=r, name=register_name(r), value=v) for r, v in values],
    )


def _issued(row: CredentialRow) -> IssuedCredential:
    return IssuedCredential(
        serial=row.serial,
        suite=row.suite,
        state=row.state,
        not_before=row.not_before,
        not_after=row.not_after,
        issued_at=row.issued_at,
        grace_until=row.grace_until,
        revoked_at=row.revoked_at,
        revocation_reason=row.reason,
        credential_sha256=row.credential_hash.hex(),
    )


def credential_status(store: CredentialReader, meter_id: str) -> CredentialStatus:
    """The meter's credential state: hashes, sizes and validity, no key bytes."""
    meter = _meter(store, meter_id)
    issued = [_issued(row) for row in store.credentials(meter_id)]
    return CredentialStatus(
        meter_id=meter.meter_id,
        state=meter.state,
        suite=meter.suite,
        credential_sha256=hashlib.sha256(meter.identity_credential).hexdigest(),
        credential_bytes=len(meter.identity_credential),
        registered_at=meter.registered_at,
        issued=issued,
    )


def public_keys(store: Store, meter_id: str) -> PublicKeys:
    """The meter's public data key and identity credential (public data only)."""
    meter = _meter(store, meter_id)
    return PublicKeys(
        meter_id=meter.meter_id,
        data_public_key=meter.public_key.hex(),
        identity_credential=meter.identity_credential.hex(),
    )
