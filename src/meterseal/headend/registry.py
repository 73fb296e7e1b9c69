"""Which meters may connect: credential lookup in the store's registry, with a small cache.

docs/protocol.md section 5 step 4: the kid of ID_CRED_I is the meter id in ASCII. A meter
the store does not know is refused with EDHOC ERR_CODE 3; a meter whose state is not
``registered`` (revoked, or any other inactive state) with ERR_CODE 1 and no detail. The
stored credential is a CCS or a DER X.509 certificate, exactly as registered; a
registered meter whose stored credential or suite cannot be used is refused like an
inactive one (and logged, since that is an operator's problem).

The cache keeps parsed registrations for ``ttl`` seconds, at most ``size`` of them
(least recently used out first). :meth:`MeterRegistry.revoke` writes the new state and
drops the entry at once. Unknown meters are not cached, so a meter registered a moment
ago can connect at once.

Revocation by the security server (another process: ``meterseal ca revoke``) reaches
every worker through the signed revocation list (:mod:`meterseal.pki.revocation`): each
worker's core calls :meth:`MeterRegistry.refresh` about once a second, one cheap query
for the latest list number; when it changed, the registry reads the new list, drops its
whole cache, and from then on refuses (ERR_CODE 1, like an inactive meter) any
registration whose credential serial (the CCS's cti claim) is on the list. The core then
closes the open sessions of revoked meters. Given the CA's root public keys (``roots``,
per suite, of root generation ``root_generation``), the registry verifies the list's
signature, issuer, freshness and that its number never goes back, and keeps the previous
list when a check fails; without them it reads the list from its own store unverified,
the store it already trusts for the credentials themselves.
"""

from __future__ import annotations

import logging
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import cast

from meterseal.crypto.suites import CipherSuite, get_suite
from meterseal.edhoc import Credential
from meterseal.errors import MeterSealError
from meterseal.headend.events import CloseReason
from meterseal.headend.runner import StoreRunner
from meterseal.pki.revocation import (
    RevocationList,
    RevocationListRejectedError,
    read_revocation_list,
    verify_revocation_list,
)
from meterseal.pki.serials import ccs_serial
from meterseal.store import STATE_REGISTERED, STATE_REVOKED, MeterRecord, Store
from meterseal.store.security import RevocationListRow, SecurityStore

log = logging.getLogger("meterseal.headend")

REVOCATION_POLL_INTERVAL = 1.0
"""Seconds between two checks of the revocation list number (the bound on how long a
revocation written by another process takes to reach every worker)."""


@dataclass(frozen=True, slots=True)
class RegisteredMeter:
    """An active meter: its registration, its EDHOC credential and its data-key suite."""

    record: MeterRecord
    credential: Credential
    suite: CipherSuite
    serial: int | None = None  # the credential's serial (cti); None if not CA-issued

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


def credential_serial(stored: bytes) -> int | None:
    """The serial of a stored credential: a CA-issued CCS's cti; None otherwise."""
    return None if stored[:1] == b"\x30" else ccs_serial(stored)


def admit(
    record: MeterRecord | None, meter_id: str, revoked: frozenset[int] = frozenset()
) -> Lookup:
    """The registry's verdict on one stored registration (None: not registered), given
    the serials on the current revocation list."""
    if record is None:
        return Refusal(CloseReason.UNKNOWN_METER, f"meter {meter_id} is not registered")
    if record.state != STATE_REGISTERED:
        return Refusal(CloseReason.INACTIVE_METER, f"meter {meter_id} is {record.state}")
    try:
        credential = parse_credential(record.identity_credential)
        suite = get_suite(record.suite)
        serial = credential_serial(record.identity_credential)
    except MeterSealError as exc:
        detail = f"meter {meter_id}: unusable registration ({exc})"
        return Refusal(CloseReason.INACTIVE_METER, detail)
    if serial is not None and serial in revoked:
        detail = f"meter {meter_id}: credential {serial} is revoked"
        return Refusal(CloseReason.INACTIVE_METER, detail)
    return RegisteredMeter(record, credential, suite, serial)


def _security(store: Store) -> SecurityStore | None:
    """The store's security records, if this store keeps them."""
    return cast(SecurityStore, store) if hasattr(store, "revocation_number") else None


def _list_number(store: Store) -> int:
    security = _security(store)
    return 0 if security is None else security.revocation_number()


def _latest_list(store: Store) -> tuple[RevocationListRow | None, frozenset[str]]:
    security = _security(store)
    if security is None:
        return None, frozenset()
    return security.revocation_list(), security.inactive_meters()


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
        roots: Mapping[int, bytes] | None = None,
        root_generation: int = 1,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        self._reader, self._writer = reader, writer
        self._size, self._ttl, self._clock = size, ttl, clock
        self._cache: OrderedDict[str, tuple[float, Lookup]] = OrderedDict()
        self._roots, self._root_generation, self._wall_clock = roots, root_generation, wall_clock
        self._list_number = 0
        self._revoked: frozenset[int] = frozenset()
        self._inactive: frozenset[str] = frozenset()
        self._admitted: OrderedDict[str, int | None] = OrderedDict()

    @property
    def revoked_serials(self) -> frozenset[int]:
        """The serials on the revocation list this registry enforces."""
        return self._revoked

    @property
    def inactive_meters(self) -> frozenset[str]:
        """The meters whose state was not ``registered`` when the list last changed."""
        return self._inactive

    @property
    def list_number(self) -> int:
        """The number of the revocation list this registry enforces (0: none)."""
        return self._list_number

    async def refresh(self) -> bool:
        """Check the latest revocation list number; on a change, adopt the new list and
        drop the whole cache. True if the list changed (see the module docstring)."""
        number = await self._reader.call(_list_number)
        if number == self._list_number:
            return False
        row, inactive = await self._reader.call(_latest_list)
        if row is None:
            return False
        try:
            content = self._read(row)
        except MeterSealError as exc:
            log.error("revocation list %d refused: %s", row.number, exc)  # noqa: TRY400
            return False
        self._list_number, self._revoked = content.number, content.serials
        self._inactive = inactive
        self._cache.clear()
        return True

    def _read(self, row: RevocationListRow) -> RevocationList:
        content = self._checked(row)
        if content.number != row.number:
            raise RevocationListRejectedError(f"list {content.number} filed as {row.number}")
        return content

    def _checked(self, row: RevocationListRow) -> RevocationList:
        if self._roots is None:
            return read_revocation_list(row.signed_list)
        root = self._roots.get(row.suite)
        if root is None:
            raise RevocationListRejectedError(f"no CA root of suite {row.suite} to check with")
        return verify_revocation_list(
            row.signed_list,
            get_suite(row.suite),
            root,
            now=int(self._wall_clock()),
            min_number=self._list_number,
            generation=self._root_generation,
        )

    async def lookup(self, meter_id: str) -> Lookup:
        """The meter's registration, or why it may not connect."""
        verdict = self._cached(meter_id)
        if verdict is None:
            record = await self._reader.call(lambda store: store.get_meter(meter_id))
            verdict = admit(record, meter_id, self._revoked)
            if record is not None:
                self._remember(meter_id, verdict)
        if isinstance(verdict, RegisteredMeter):
            self._note_admitted(meter_id, verdict.serial)
        return verdict

    def _note_admitted(self, meter_id: str, serial: int | None) -> None:
        self._admitted[meter_id] = serial
        self._admitted.move_to_end(meter_id)
        while len(self._admitted) > self._size:  # handshakes that never finished
            self._admitted.popitem(last=False)

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

    def admitted_serial(self, meter_id: str) -> int | None:
        """The credential serial of the meter's latest admission, forgotten once asked
        (None if not CA-issued): what the session that just authenticated used. Kept
        apart from the cache, so that a list change between the lookup and the end of
        the handshake cannot lose it."""
        return self._admitted.pop(meter_id, None)

    def is_revoked(self, meter_id: str, serial: int | None) -> bool:
        """Whether the current list revokes ``serial`` or the meter is inactive."""
        return meter_id in self._inactive or (serial is not None and serial in self._revoked)

    def invalidate(self, meter_id: str) -> None:
        """Forget the cached registration of ``meter_id`` (its state changed)."""
        self._cache.pop(meter_id, None)

    async def revoke(self, meter_id: str) -> None:
        """Mark the meter revoked in the store and drop it from the cache.

        :class:`~meterseal.store.UnknownMeterError` if it is not registered.
        """
        await self._writer.call(lambda store: store.set_meter_state(meter_id, STATE_REVOKED))
        self.invalidate(meter_id)
