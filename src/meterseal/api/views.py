"""Read models shared by the REST API and the console pages: fleet, meters, credentials.

What an *alarm* is, today, from what the store records: a meter whose registration is
not ``registered`` (revoked), a meter that never sent a reading, and a meter whose last
reading is more than two reading intervals old (silent). Tamper and other meter events
are not stored yet; when they are, they become alarms here.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Sequence
from typing import Protocol

from meterseal.api.errors import NotFoundError
from meterseal.api.schemas import (
    Alarm,
    CredentialStatus,
    FleetOverview,
    IssuedCredential,
    MeterDetail,
    MeterSummary,
    PublicKeys,
    RegisterValue,
)
from meterseal.store import STATE_REGISTERED, MeterLatest, MeterRecord, Register, Store
from meterseal.store.security import CredentialRow

ALARM_RULE = (
    "An alarm is a meter that is not in the registered state, that never sent a reading, "
    "or whose last reading is older than two reading intervals. Tamper events are not "
    "stored yet, so they do not raise alarms here."
)


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


def alarms(meters: Sequence[MeterSummary], now: int, interval: int) -> list[Alarm]:
    """The alarms of ``meters``, in meter order (see :data:`ALARM_RULE`)."""
    return [alarm for meter in meters if (alarm := _alarm(meter, now, interval)) is not None]


def fleet_overview(store: Store, now: int, interval: int) -> FleetOverview:
    """Counts by type, suite and state, and the first :data:`ALARMS_SHOWN` alarms."""
    meters = meter_summaries(store)
    found = alarms(meters, now, interval)
    return FleetOverview(
        meters=len(meters),
        by_type=dict(sorted(Counter(m.meter_type for m in meters).items())),
        by_suite={str(k): v for k, v in sorted(Counter(m.suite for m in meters).items())},
        by_state=dict(sorted(Counter(m.state for m in meters).items())),
        alarm_total=len(found),
        alarms=found[:ALARMS_SHOWN],
        alarm_rule=ALARM_RULE,
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
