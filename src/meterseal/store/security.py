"""The security server's records: credentials by serial, signed revocation lists, key events.

Three tables (schema version 7, :mod:`meterseal.store.migrations`):

* ``credentials``: every credential the CA issued (a CWT, RFC 8392), keyed by its serial
  (the CWT's cti claim), with its subject (a meter id or a head-end name), suite,
  validity and state: ``active``, ``superseded`` (replaced by a rotation and still valid
  until ``grace_until``) or ``revoked`` (with the time and the reason code);
* ``revocation_lists``: each signed revocation list, one COSE_Sign1 per (number, suite);
  numbers only grow (a list whose number is not above the current one is refused);
* ``key_events``: the append-only audit trail of every generation, issuance, rotation,
  revocation and refused registration (UPDATE and DELETE are refused by triggers).

Every operation that changes a credential writes its key events in the SAME transaction
(:func:`_record_key_events`), so the trail cannot miss a change that committed; the ledger
leaves an event carries (:mod:`meterseal.pki.events` builds them) enter the ledger outbox
(:mod:`meterseal.store.outbox`) in that transaction too, so the ledger anchors each one. A
revocation marks the credentials, signs the next list (through the caller's ``sign``,
given the new number and every revoked entry) and stores it, all in one transaction: a
revocation that committed is in the list, and the list number the head-end polls
(:meth:`SecurityQueries.revocation_number`) changes with it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any, Protocol

from meterseal.store.errors import DuplicateMeterError, StoreError, UnknownMeterError
from meterseal.store.outbox import insert_leaves
from meterseal.store.rows import STATE_REVOKED, MeterRecord

CREDENTIAL_ACTIVE = "active"
CREDENTIAL_SUPERSEDED = "superseded"
CREDENTIAL_REVOKED = "revoked"
CREDENTIAL_STATES = (CREDENTIAL_ACTIVE, CREDENTIAL_SUPERSEDED, CREDENTIAL_REVOKED)

SUBJECT_METER = "meter"
SUBJECT_HEADEND = "headend"

EVENT_GENERATION = "generation"
EVENT_ISSUANCE = "issuance"
EVENT_ROTATION = "rotation"
EVENT_REVOCATION = "revocation"
EVENT_REFUSED_REGISTRATION = "refused_registration"
KEY_EVENT_KINDS = (
    EVENT_GENERATION,
    EVENT_ISSUANCE,
    EVENT_ROTATION,
    EVENT_REVOCATION,
    EVENT_REFUSED_REGISTRATION,
)


class CredentialStateError(StoreError):
    """A credential is not in the state the operation needs (or does not exist)."""


class StaleRevocationListError(StoreError):
    """A revocation list whose number is not above the current one."""


@dataclass(frozen=True, slots=True)
class CredentialRow:
    """One issued credential and its state."""

    serial: int
    subject_kind: str  # SUBJECT_METER or SUBJECT_HEADEND
    subject: str  # the meter id, or the head-end's name
    suite: int
    credential: bytes  # the CWT (COSE_Sign1) byte for byte
    credential_hash: bytes  # SHA-256 of ``credential``
    not_before: int
    not_after: int
    state: str  # one of CREDENTIAL_STATES
    issued_at: int
    grace_until: int | None = None  # superseded: valid until then
    revoked_at: int | None = None
    reason: int | None = None  # a RevocationReason code


@dataclass(frozen=True, slots=True)
class RevokedEntry:
    """One line of a revocation list: which serial, since when, why."""

    serial: int
    revoked_at: int
    reason: int


@dataclass(frozen=True, slots=True)
class RevocationListRow:
    """One signed revocation list of one suite."""

    number: int
    suite: int
    this_update: int
    next_update: int
    signed_list: bytes  # the COSE_Sign1, byte for byte


@dataclass(frozen=True, slots=True)
class KeyEvent:
    """A key event to record (the store assigns its id), and the leaf data it queues for
    the ledger (RFC 9162 leaves of :mod:`meterseal.ledger.leaves`; may be empty)."""

    at: int
    kind: str  # one of KEY_EVENT_KINDS
    subject: str
    serial: int | None
    detail: str
    leaves: tuple[bytes, ...] = ()


@dataclass(frozen=True, slots=True)
class KeyEventRow:
    """A recorded key event, with its position in the trail."""

    event_id: int
    at: int
    kind: str
    subject: str
    serial: int | None
    detail: str


SignLists = Callable[[int, Sequence[RevokedEntry]], Sequence[RevocationListRow]]
"""Given the new list number and every revoked entry, the signed list of each suite."""


class _Query(Protocol):
    def one(self, sql: str, params: Sequence[object] = ()) -> tuple[Any, ...] | None: ...

    def all(self, sql: str, params: Sequence[object] = ()) -> list[tuple[Any, ...]]: ...

    def run(self, sql: str, params: Sequence[object] = ()) -> int: ...


_CREDENTIAL_COLUMNS = (
    "serial, subject_kind, subject, suite, credential, credential_hash, not_before,"
    " not_after, state, issued_at, grace_until, revoked_at, reason"
)
_SELECT_CREDENTIALS = f"SELECT {_CREDENTIAL_COLUMNS} FROM credentials"  # noqa: S608
_INSERT_CREDENTIAL = (
    f"INSERT INTO credentials ({_CREDENTIAL_COLUMNS})"  # noqa: S608 - constant columns
    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
_INSERT_EVENT = "INSERT INTO key_events (at, kind, subject, serial, detail) VALUES (?, ?, ?, ?, ?)"
_ADD_METER = (
    "INSERT INTO meters (meter_id, meter_type, suite, owner, public_key, identity_credential,"
    " state, registered_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (meter_id) DO NOTHING"
)
_SUPERSEDE = (
    "UPDATE credentials SET state = 'superseded', grace_until = ?"
    " WHERE serial = ? AND state = 'active'"
)
_REVOKE = (
    "UPDATE credentials SET state = 'revoked', revoked_at = ?, reason = ?"
    " WHERE serial = ? AND state <> 'revoked'"
)
_REVOKED = (
    "SELECT serial, revoked_at, reason FROM credentials WHERE state = 'revoked' ORDER BY serial"
)
_LIST_COLUMNS = "number, suite, this_update, next_update, signed_list"
_INSERT_LIST = f"INSERT INTO revocation_lists ({_LIST_COLUMNS}) VALUES (?, ?, ?, ?, ?)"  # noqa: S608
_LATEST_LIST = (
    f"SELECT {_LIST_COLUMNS} FROM revocation_lists"  # noqa: S608 - constant columns
    " WHERE suite = ? ORDER BY number DESC LIMIT 1"
)
_LATEST_ANY = (
    f"SELECT {_LIST_COLUMNS} FROM revocation_lists"  # noqa: S608 - constant columns
    " ORDER BY number DESC, suite LIMIT 1"
)
_EVENTS = (
    "SELECT event_id, at, kind, subject, serial, detail FROM key_events"
    " WHERE event_id > ? ORDER BY event_id LIMIT ?"
)


def _credential(row: tuple[Any, ...]) -> CredentialRow:
    serial, kind, subject, suite, credential, digest, not_before, not_after, *rest = row
    state, issued_at, grace_until, revoked_at, reason = rest
    return CredentialRow(
        serial,
        kind,
        subject,
        suite,
        bytes(credential),
        bytes(digest),
        not_before,
        not_after,
        state,
        issued_at,
        grace_until,
        revoked_at,
        reason,
    )


def _list(row: tuple[Any, ...]) -> RevocationListRow:
    return RevocationListRow(row[0], row[1], row[2], row[3], bytes(row[4]))


def _credential_params(row: CredentialRow) -> tuple[object, ...]:
    return (
        row.serial,
        row.subject_kind,
        row.subject,
        row.suite,
        row.credential,
        row.credential_hash,
        row.not_before,
        row.not_after,
        row.state,
        row.issued_at,
        row.grace_until,
        row.revoked_at,
        row.reason,
    )


def _record_key_events(query: _Query, events: Sequence[KeyEvent]) -> None:
    """Append ``events`` to the trail inside the caller's transaction.

    This is the one place a key event is written, and where each event's ledger leaves
    enter the outbox, in the same transaction.
    """
    for event in events:
        if event.kind not in KEY_EVENT_KINDS:
            raise StoreError(f"unknown key event kind {event.kind!r}")
        query.run(_INSERT_EVENT, (event.at, event.kind, event.subject, event.serial, event.detail))
        insert_leaves(query, event.leaves, event.at)


class SecurityStore(Protocol):
    """What the security server needs of a store (both SQL backends implement it)."""

    def register_meter(
        self, meter: MeterRecord, credential: CredentialRow, events: Sequence[KeyEvent]
    ) -> None:
        """File a meter, its first credential and their key events in one transaction."""
        ...

    def add_credential(self, credential: CredentialRow, events: Sequence[KeyEvent]) -> None:
        """File a credential (a head-end's, say) and its key events."""
        ...

    def rotate_credential(
        self,
        old_serial: int,
        new: CredentialRow,
        *,
        ccs: bytes,
        grace_until: int,
        sign: SignLists,
        events: Sequence[KeyEvent],
    ) -> list[RevocationListRow]:
        """Supersede ``old_serial`` until ``grace_until``, file ``new``, point the meter at
        ``ccs``, publish the next list; :class:`CredentialStateError` unless the old one
        is active."""
        ...

    def revoke_credentials(
        self,
        serials: Sequence[int],
        *,
        at: int,
        reason: int,
        sign: SignLists,
        events: Sequence[KeyEvent],
        meter_id: str | None = None,
    ) -> list[RevocationListRow]:
        """Revoke ``serials``, publish the next signed list; see the module docstring."""
        ...

    def publish_revocation_list(self, sign: SignLists) -> list[RevocationListRow]:
        """Sign and store the next list with no new revocation (a fresh next_update)."""
        ...

    def get_credential(self, serial: int) -> CredentialRow | None:
        """The credential with this serial, or None."""
        ...

    def credentials(self, subject: str | None = None) -> list[CredentialRow]:
        """Every credential (of ``subject``), ordered by issue time and serial."""
        ...

    def superseded_due(self, now: int) -> list[CredentialRow]:
        """Superseded credentials whose grace period ended at or before ``now``."""
        ...

    def revoked_entries(self) -> list[RevokedEntry]:
        """Every revoked serial, ordered by serial."""
        ...

    def revocation_number(self) -> int:
        """The number of the latest revocation list (0: none yet). One cheap query."""
        ...

    def inactive_meters(self) -> frozenset[str]:
        """The ids of registered meters whose state is not ``registered`` (revoked)."""
        ...

    def revocation_list(self, suite: int | None = None) -> RevocationListRow | None:
        """The latest signed list of ``suite`` (None: of any suite), or None."""
        ...

    def record_key_events(self, events: Sequence[KeyEvent]) -> None:
        """Append events that change no credential (a refused registration)."""
        ...

    def key_events(self, after: int = 0, limit: int = 1000) -> list[KeyEventRow]:
        """Key events with id above ``after``, in the order they were recorded."""
        ...


class SecurityQueries:
    """The :class:`SecurityStore` methods of both SQL backends (mixed into ``SqlStore``)."""

    def _reading(self) -> AbstractContextManager[_Query]:
        raise NotImplementedError  # pragma: no cover - provided by SqlStore

    def _writing(self) -> AbstractContextManager[_Query]:
        raise NotImplementedError  # pragma: no cover - provided by SqlStore

    # --- issuing --------------------------------------------------------------------------

    def register_meter(
        self, meter: MeterRecord, credential: CredentialRow, events: Sequence[KeyEvent]
    ) -> None:
        """File a meter, its first credential and their key events in one transaction;
        :class:`DuplicateMeterError` (and nothing written) if the meter is known."""
        params = (
            meter.meter_id,
            meter.meter_type,
            meter.suite,
            meter.owner,
            meter.public_key,
            meter.identity_credential,
            meter.state,
            meter.registered_at,
        )
        with self._writing() as query:
            if query.run(_ADD_METER, params) == 0:
                raise DuplicateMeterError(f"meter {meter.meter_id!r} is already registered")
            query.run(_INSERT_CREDENTIAL, _credential_params(credential))
            _record_key_events(query, events)

    def add_credential(self, credential: CredentialRow, events: Sequence[KeyEvent]) -> None:
        """File a credential and its key events in one transaction."""
        with self._writing() as query:
            query.run(_INSERT_CREDENTIAL, _credential_params(credential))
            _record_key_events(query, events)

    def rotate_credential(
        self,
        old_serial: int,
        new: CredentialRow,
        *,
        ccs: bytes,
        grace_until: int,
        sign: SignLists,
        events: Sequence[KeyEvent],
    ) -> list[RevocationListRow]:
        """Supersede the active ``old_serial`` until ``grace_until``, file ``new``, make
        ``ccs`` the meter's registered credential and publish the next revocation list,
        with the events, in one transaction. The new list revokes nothing more; its new
        number tells every head-end worker to drop its cached registrations, so that the
        new credential is used at once (:mod:`meterseal.headend.registry`)."""
        with self._writing() as query:
            if query.run(_SUPERSEDE, (grace_until, old_serial)) == 0:
                raise CredentialStateError(f"credential {old_serial} is not active")
            query.run(_INSERT_CREDENTIAL, _credential_params(new))
            if new.subject_kind == SUBJECT_METER:
                changed = query.run(
                    "UPDATE meters SET identity_credential = ? WHERE meter_id = ?",
                    (ccs, new.subject),
                )
                if changed == 0:
                    raise UnknownMeterError(f"meter {new.subject!r} is not registered")
            _record_key_events(query, events)
            return _publish(query, sign)

    # --- revoking -------------------------------------------------------------------------

    def revoke_credentials(
        self,
        serials: Sequence[int],
        *,
        at: int,
        reason: int,
        sign: SignLists,
        events: Sequence[KeyEvent],
        meter_id: str | None = None,
    ) -> list[RevocationListRow]:
        """Revoke ``serials`` (and mark ``meter_id`` revoked, if given), then sign and store
        the next revocation list, all in one transaction.

        :class:`CredentialStateError` if a serial is unknown or already revoked.
        """
        with self._writing() as query:
            for serial in serials:
                if query.run(_REVOKE, (at, reason, serial)) == 0:
                    raise CredentialStateError(f"credential {serial} is unknown or revoked")
            if meter_id is not None:
                changed = query.run(
                    "UPDATE meters SET state = ? WHERE meter_id = ?", (STATE_REVOKED, meter_id)
                )
                if changed == 0:
                    raise UnknownMeterError(f"meter {meter_id!r} is not registered")
            _record_key_events(query, events)
            return _publish(query, sign)

    def publish_revocation_list(self, sign: SignLists) -> list[RevocationListRow]:
        """Sign and store the next list with no new revocation (a fresh next_update)."""
        with self._writing() as query:
            return _publish(query, sign)

    # --- reading --------------------------------------------------------------------------

    def get_credential(self, serial: int) -> CredentialRow | None:
        """The credential with this serial, or None."""
        with self._reading() as query:
            row = query.one(_SELECT_CREDENTIALS + " WHERE serial = ?", (serial,))
        return None if row is None else _credential(row)

    def credentials(self, subject: str | None = None) -> list[CredentialRow]:
        """Every credential (of ``subject``), ordered by issue time and serial."""
        order = " ORDER BY issued_at, serial"
        with self._reading() as query:
            if subject is None:
                rows = query.all(_SELECT_CREDENTIALS + order)
            else:
                rows = query.all(_SELECT_CREDENTIALS + " WHERE subject = ?" + order, (subject,))
        return [_credential(row) for row in rows]

    def superseded_due(self, now: int) -> list[CredentialRow]:
        """Superseded credentials whose grace period ended at or before ``now``."""
        sql = _SELECT_CREDENTIALS + " WHERE state = 'superseded' AND grace_until <= ?"
        with self._reading() as query:
            rows = query.all(sql + " ORDER BY serial", (now,))
        return [_credential(row) for row in rows]

    def revoked_entries(self) -> list[RevokedEntry]:
        """Every revoked serial, ordered by serial."""
        with self._reading() as query:
            rows = query.all(_REVOKED)
        return [RevokedEntry(*row) for row in rows]

    def revocation_number(self) -> int:
        """The number of the latest revocation list (0: none yet). One cheap query."""
        with self._reading() as query:
            row = query.one("SELECT max(number) FROM revocation_lists")
        return 0 if row is None or row[0] is None else int(row[0])

    def inactive_meters(self) -> frozenset[str]:
        """The ids of registered meters whose state is not ``registered`` (revoked)."""
        with self._reading() as query:
            rows = query.all("SELECT meter_id FROM meters WHERE state <> 'registered'")
        return frozenset(row[0] for row in rows)

    def revocation_list(self, suite: int | None = None) -> RevocationListRow | None:
        """The latest signed list of ``suite`` (None: of any suite), or None."""
        sql, params = (_LATEST_ANY, ()) if suite is None else (_LATEST_LIST, (suite,))
        with self._reading() as query:
            row = query.one(sql, params)
        return None if row is None else _list(row)

    def record_key_events(self, events: Sequence[KeyEvent]) -> None:
        """Append events that change no credential (a refused registration)."""
        with self._writing() as query:
            _record_key_events(query, events)

    def key_events(self, after: int = 0, limit: int = 1000) -> list[KeyEventRow]:
        """Key events with id above ``after``, in the order they were recorded."""
        with self._reading() as query:
            rows = query.all(_EVENTS, (after, limit))
        return [KeyEventRow(*row) for row in rows]


def _publish(query: _Query, sign: SignLists) -> list[RevocationListRow]:
    """Number the next list, have it signed for each suite, store it (same transaction)."""
    row = query.one("SELECT max(number) FROM revocation_lists")
    number = 1 if row is None or row[0] is None else int(row[0]) + 1
    revoked = [RevokedEntry(*entry) for entry in query.all(_REVOKED)]
    lists = list(sign(number, revoked))
    for signed in lists:
        if signed.number != number:
            raise StaleRevocationListError(
                f"revocation list {signed.number} offered where {number} is next"
            )
        params = (signed.number, signed.suite, signed.this_update, signed.next_update)
        query.run(_INSERT_LIST, (*params, signed.signed_list))
    return lists
