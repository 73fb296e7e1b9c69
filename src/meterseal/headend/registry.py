"""Which meters may connect: credential lookup in the store's registry, with a small cache.

docs/protocol.md section 5 step 4: the kid of ID_CRED_I is the meter id in ASCII. A meter
the store does not know is refused with EDHOC ERR_CODE 3; a meter whose state is not
``registered`` (revoked, or any other inactive state) with ERR_CODE 1 and no detail. The
stored credential is a CCS or a DER X.509 certificate, exactly as registered; a
registered meter whose stored credential or suite cannot be used is refused like an
inactive one (and logged, since that is an operator's problem).

The cache keeps parsed registrations for ``ttl`` seconds, at most ``size`` of them
(least recently used out first). :meth:`MeterRegistry.revoke` writes the new state and
drops the entry at once; a revocation written by another process reaches this cache
within ``ttl`` (the multi-process head-end forwards its own revocations to every worker).
Unknown meters are not cached, so a meter registered a moment ago can connect at once.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

from meterseal.crypto.suites import CipherSuite, get_suite
from meterseal.edhoc import Credential
from meterseal.errors import MeterSealError
from meterseal.headend.events import CloseReason
from meterseal.headend.runner import StoreRunner
from meterseal.store import STATE_REGISTERED, STATE_REVOKED, MeterRecord


@dataclass(frozen=True, slots=True)
class RegisteredMeter:
    """An active meter: its registration, its EDHOC credential and its data-key suite."""

    record: MeterRecord
    credential: Credential
    suite: CipherSuite

    @property
    def meter_id(self) -> str:
        """The meter id."""
        return self.record.meter_id


@dataclass(frozen=True, slots=True)
class Refusal:
    """Why a meter may not connect: UNKNOWN_METER or INACTIVE_METER, and the detail."""

    reason: CloseReason
    detail: str


Lookup = RegisteredMeter | Refusal


def parse_credential(stored: bytes) -> Credential:
    """The registered credential: a CCS (a CBOR map), or a DER X.509 certificate."""
    if stored[:1] == b"\x30":  # a DER SEQUENCE: a certificate; a CCS starts with a map
        return Credential.from_x509(stored)
    return Credential.from_ccs(stored)


def admit(record: MeterRecord | None, meter_id: str) -> Lookup:
    """The registry's verdict on one stored registration (None: not registered)."""
    if record is None:
        return Refusal(CloseReason.UNKNOWN_METER, f"meter {meter_id} is not registered")
    if record.state != STATE_REGISTERED:
        return Refusal(CloseReason.INACTIVE_METER, f"meter {meter_id} is {record.state}")
    try:
        credential = parse_credential(record.identity_credential)
        suite = get_suite(record.suite)
    except MeterSealError as exc:
        detail = f"meter {meter_id}: unusable registration ({exc})"
        return Refusal(CloseReason.INACTIVE_METER, detail)
    return RegisteredMeter(record, credential, suite)


class MeterRegistry:
    """Looks meters up through a store runner and caches what it found."""

    def __init__(
        self,
        reader: StoreRunner,
        writer: StoreRunner,
        *,
        size: int = 100_000,
        ttl: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._reader, self._writer = reader, writer
        self._size, self._ttl, self._clock = size, ttl, clock
        self._cache: OrderedDict[str, tuple[float, Lookup]] = OrderedDict()

    async def lookup(self, meter_id: str) -> Lookup:
        """The meter's registration, or why it may not connect."""
        cached = self._cached(meter_id)
        if cached is not None:
            return cached
        record = await self._reader.call(lambda store: store.get_meter(meter_id))
        verdict = admit(record, meter_id)
        if record is not None:
            self._remember(meter_id, verdict)
        return verdict

    def _cached(self, meter_id: str) -> Lookup | None:
        entry = self._cache.get(meter_id)
        if entry is None:
            return None
        expires, verdict = entry
        if expires <= self._clock():
            del self._cache[meter_id]
            return None
        self._cache.move_to_end(meter_id)
        return verdict

    def _remember(self, meter_id: str, verdict: Lookup) -> None:
        self._cache[meter_id] = (self._clock() + self._ttl, verdict)
        self._cache.move_to_end(meter_id)
        while len(self._cache) > self._size:
            self._cache.popitem(last=False)

    def invalidate(self, meter_id: str) -> None:
        """Forget the cached registration of ``meter_id`` (its state changed)."""
        self._cache.pop(meter_id, None)

    async def revoke(self, meter_id: str) -> None:
        """Mark the meter revoked in the store and drop it from the cache.

        :class:`~meterseal.store.UnknownMeterError` if it is not registered.
        """
        await self._writer.call(lambda store: store.set_meter_state(meter_id, STATE_REVOKED))
        self.invalidate(meter_id)
