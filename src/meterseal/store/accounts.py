"""Console accounts and the audit log: users, sessions, API tokens, login failures.

Schema version 6 (:mod:`meterseal.store.migrations`). What is kept, and what is not:

* ``users``: name, role, the argon2id password hash (RFC 9106; the PHC string, with its
  salt and parameters), creation time, disabled flag. Users are never deleted, so audit
  rows and tokens always name an account that existed.
* ``sessions`` and ``api_tokens``: only the SHA-256 of the random secret the browser or
  the integration holds (256 bits of randomness, so a plain hash suffices: there is
  nothing to brute-force), never the secret itself. A token keeps a short ``prefix`` so
  an operator can tell tokens apart, and a ``role_cap``: it acts with the lower of its
  cap and its user's current role.
* ``login_failures``: one row per failed login per throttle key (``user:NAME``,
  ``ip:ADDRESS``); a successful login clears its user key.
* ``audit_log``: append-only (database triggers refuse UPDATE and DELETE): who did what to
  what, when, the detail as canonical JSON and the outcome.
* ``verification_runs``: each ``ledger verify`` run's time, log, tree size, counts, its
  summary (JSON) and the findings it kept (JSON), for the console's ledger page.

The API layer (:mod:`meterseal.api`) decides what these rows mean; the store only keeps
them. Times are unix seconds, passed in by the caller.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any, Protocol

from meterseal.store.errors import InvalidRowError, StoreError

ROLES = ("admin", "operator", "auditor", "readonly")
"""The roles the schema accepts (a CHECK constraint in both backends)."""

OUTCOMES = ("ok", "denied", "failed")
"""Audit outcomes: done, refused by policy, attempted and failed."""


class UnknownUserError(StoreError):
    """A user name that is not in ``users``."""


class DuplicateUserError(StoreError):
    """``add_user`` for a name that is already taken."""


@dataclass(frozen=True, slots=True)
class UserRow:
    """A console account. ``password_hash`` is the argon2id PHC string: never shown."""

    name: str
    role: str
    password_hash: str
    created_at: int
    disabled: bool


@dataclass(frozen=True, slots=True)
class SessionRow:
    """A browser session, found by the SHA-256 of its cookie value."""

    session_hash: bytes
    user_name: str
    csrf_token: str
    created_at: int
    expires_at: int
    last_seen: int


@dataclass(frozen=True, slots=True)
class TokenRow:
    """An API token, found by the SHA-256 of the token; ``prefix`` is safe to show."""

    token_id: int
    prefix: str
    user_name: str
    role_cap: str
    label: str
    created_at: int
    last_used: int | None
    revoked_at: int | None


@dataclass(frozen=True, slots=True)
class AuditRow:
    """One audit log entry; ``detail`` is a JSON object (kept as canonical JSON)."""

    audit_id: int
    at: int
    actor: str
    action: str
    target: str
    detail: Mapping[str, Any]
    outcome: str


@dataclass(frozen=True, slots=True)
class VerificationRunRow:
    """One verification run: ``summary`` counts by kind, ``sample`` the findings kept."""

    run_id: int
    at: int
    origin: str
    tree_size: int
    batches: int
    findings: int
    summary: Mapping[str, Any]
    sample: Sequence[Mapping[str, Any]]


def canonical_json(detail: Mapping[str, Any]) -> str:
    """The one JSON text of ``detail``: sorted keys, no spaces, ASCII only."""
    return json.dumps(detail, sort_keys=True, separators=(",", ":"), ensure_ascii=True)


class _Query(Protocol):
    def one(self, sql: str, params: Sequence[object] = ()) -> tuple[Any, ...] | None: ...

    def all(self, sql: str, params: Sequence[object] = ()) -> list[tuple[Any, ...]]: ...

    def run(self, sql: str, params: Sequence[object] = ()) -> int: ...


class AccountStore(Protocol):
    """What the console and REST API need beyond :class:`~meterseal.store.Store`."""

    def add_user(self, user: UserRow) -> None: ...

    def get_user(self, name: str) -> UserRow | None: ...

    def list_users(self) -> list[UserRow]: ...

    def update_user(
        self, name: str, *, role: str | None = None, disabled: bool | None = None
    ) -> UserRow: ...

    def set_password_hash(self, name: str, password_hash: str) -> None: ...

    def add_session(self, session: SessionRow) -> None: ...

    def get_session(self, session_hash: bytes) -> SessionRow | None: ...

    def touch_session(self, session_hash: bytes, now: int) -> None: ...

    def delete_session(self, session_hash: bytes) -> None: ...

    def delete_user_sessions(self, name: str) -> int: ...

    def add_token(
        self, token_hash: bytes, prefix: str, user_name: str, *, role_cap: str, label: str, now: int
    ) -> TokenRow: ...

    def find_token(self, token_hash: bytes) -> TokenRow | None: ...

    def get_token(self, token_id: int) -> TokenRow | None: ...

    def list_tokens(self, user_name: str | None = None) -> list[TokenRow]: ...

    def touch_token(self, token_id: int, now: int) -> None: ...

    def revoke_token(self, token_id: int, now: int) -> bool: ...

    def add_login_failure(self, throttle_key: str, at: int) -> None: ...

    def login_failures(self, throttle_key: str, since: int) -> tuple[int, int | None]: ...

    def clear_login_failures(self, throttle_key: str) -> None: ...

    def append_audit(
        self,
        at: int,
        actor: str,
        action: str,
        target: str,
        *,
        detail: Mapping[str, Any],
        outcome: str,
    ) -> AuditRow: ...

    def list_audit(self, *, limit: int = 100, before: int | None = None) -> list[AuditRow]: ...

    def add_verification_run(self, run: VerificationRunRow) -> VerificationRunRow: ...

    def verification_runs(self, limit: int = 10) -> list[VerificationRunRow]: ...


_USER = "SELECT name, role, password_hash, created_at, disabled FROM users"
_SESSION = (
    "SELECT session_hash, user_name, csrf_token, created_at, expires_at, last_seen FROM sessions"
)
_API_ROWS = (
    "SELECT token_id, prefix, user_name, role_cap, label, created_at, last_used, revoked_at"
    " FROM api_tokens"
)
_RUNS = (
    "SELECT run_id, at, origin, tree_size, batches, findings, summary, sample"
    " FROM verification_runs ORDER BY run_id DESC LIMIT ?"
)
_ADD_RUN = (
    "INSERT INTO verification_runs (at, origin, tree_size, batches, findings, summary, sample)"
    " VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING run_id"
)
_AUDIT = "SELECT audit_id, at, actor, action, target, detail, outcome FROM audit_log"
_ADD_USER = (
    "INSERT INTO users (name, role, password_hash, created_at, disabled)"
    " VALUES (?, ?, ?, ?, ?) ON CONFLICT (name) DO NOTHING"
)
_ADD_SESSION = (
    "INSERT INTO sessions (session_hash, user_name, csrf_token, created_at, expires_at,"
    " last_seen) VALUES (?, ?, ?, ?, ?, ?)"
)
_INSERT_API_ROW = (
    "INSERT INTO api_tokens (token_hash, prefix, user_name, role_cap, label, created_at)"
    " VALUES (?, ?, ?, ?, ?, ?) RETURNING token_id"
)
_ADD_AUDIT = (
    "INSERT INTO audit_log (at, actor, action, target, detail, outcome)"
    " VALUES (?, ?, ?, ?, ?, ?) RETURNING audit_id"
)


def _user(row: tuple[Any, ...]) -> UserRow:
    return UserRow(row[0], row[1], row[2], row[3], bool(row[4]))


def _session(row: tuple[Any, ...]) -> SessionRow:
    return SessionRow(bytes(row[0]), *row[1:])


def _token(row: tuple[Any, ...]) -> TokenRow:
    return TokenRow(*row)


def _audit(row: tuple[Any, ...]) -> AuditRow:
    return AuditRow(row[0], row[1], row[2], row[3], row[4], json.loads(row[5]), row[6])


def _run(row: tuple[Any, ...]) -> VerificationRunRow:
    run_id, at, origin, tree_size, batches, findings, summary, sample = row
    return VerificationRunRow(
        run_id, at, origin, tree_size, batches, findings, json.loads(summary), json.loads(sample)
    )


def _check_role(role: str) -> None:
    if role not in ROLES:
        raise InvalidRowError(f"unknown role {role!r}; roles are {', '.join(ROLES)}")


class AccountQueries:
    """The :class:`AccountStore` methods of both SQL backends (mixed into ``SqlStore``)."""

    def _reading(self) -> AbstractContextManager[_Query]:
        raise NotImplementedError  # pragma: no cover - provided by SqlStore

    def _writing(self) -> AbstractContextManager[_Query]:
        raise NotImplementedError  # pragma: no cover - provided by SqlStore

    # --- users ----------------------------------------------------------------------

    def add_user(self, user: UserRow) -> None:
        """Create an account; :class:`DuplicateUserError` if the name is taken."""
        _check_role(user.role)
        params = (user.name, user.role, user.password_hash, user.created_at, user.disabled)
        with self._writing() as query:
            if query.run(_ADD_USER, params) == 0:
                raise DuplicateUserError(f"user {user.name!r} already exists")

    def get_user(self, name: str) -> UserRow | None:
        """The account, or None."""
        with self._reading() as query:
            row = query.one(_USER + " WHERE name = ?", (name,))
        return None if row is None else _user(row)

    def list_users(self) -> list[UserRow]:
        """Every account, ordered by name."""
        with self._reading() as query:
            rows = query.all(_USER + " ORDER BY name")
        return [_user(row) for row in rows]

    def update_user(
        self, name: str, *, role: str | None = None, disabled: bool | None = None
    ) -> UserRow:
        """Change an account's role and/or disabled flag; returns the account as it is now."""
        if role is not None:
            _check_role(role)
        with self._writing() as query:
            if role is not None:
                query.run("UPDATE users SET role = ? WHERE name = ?", (role, name))
            if disabled is not None:
                query.run("UPDATE users SET disabled = ? WHERE name = ?", (disabled, name))
            row = query.one(_USER + " WHERE name = ?", (name,))
        if row is None:
            raise UnknownUserError(f"no user {name!r}")
        return _user(row)

    def set_password_hash(self, name: str, password_hash: str) -> None:
        """Replace an account's password hash (a rehash or a new password)."""
        with self._writing() as query:
            changed = query.run(
                "UPDATE users SET password_hash = ? WHERE name = ?", (password_hash, name)
            )
        if changed == 0:
            raise UnknownUserError(f"no user {name!r}")

    # --- sessions -------------------------------------------------------------------

    def add_session(self, session: SessionRow) -> None:
        """Store a new session (its hash, never the cookie value)."""
        with self._writing() as query:
            query.run(
                _ADD_SESSION,
                (
                    session.session_hash,
                    session.user_name,
                    session.csrf_token,
                    session.created_at,
                    session.expires_at,
                    session.last_seen,
                ),
            )

    def get_session(self, session_hash: bytes) -> SessionRow | None:
        """The session with this hash, or None."""
        with self._reading() as query:
            row = query.one(_SESSION + " WHERE session_hash = ?", (session_hash,))
        return None if row is None else _session(row)

    def touch_session(self, session_hash: bytes, now: int) -> None:
        """Record activity on the session (its idle timeout counts from here)."""
        with self._writing() as query:
            query.run(
                "UPDATE sessions SET last_seen = ? WHERE session_hash = ?", (now, session_hash)
            )

    def delete_session(self, session_hash: bytes) -> None:
        """End a session (logout, expiry)."""
        with self._writing() as query:
            query.run("DELETE FROM sessions WHERE session_hash = ?", (session_hash,))

    def delete_user_sessions(self, name: str) -> int:
        """End every session of a user (disabled, role changed); returns how many."""
        with self._writing() as query:
            return query.run("DELETE FROM sessions WHERE user_name = ?", (name,))

    # --- API tokens -----------------------------------------------------------------

    def add_token(
        self, token_hash: bytes, prefix: str, user_name: str, *, role_cap: str, label: str, now: int
    ) -> TokenRow:
        """Store a new token's hash for ``user_name``; :class:`UnknownUserError` if none."""
        _check_role(role_cap)
        with self._writing() as query:
            if query.one("SELECT 1 FROM users WHERE name = ?", (user_name,)) is None:
                raise UnknownUserError(f"no user {user_name!r}")
            row = query.one(_INSERT_API_ROW, (token_hash, prefix, user_name, role_cap, label, now))
        if row is None:  # pragma: no cover - RETURNING always yields the row
            raise StoreError("token insert returned nothing")
        return TokenRow(int(row[0]), prefix, user_name, role_cap, label, now, None, None)

    def find_token(self, token_hash: bytes) -> TokenRow | None:
        """The token with this hash (revoked or not), or None."""
        with self._reading() as query:
            row = query.one(_API_ROWS + " WHERE token_hash = ?", (token_hash,))
        return None if row is None else _token(row)

    def get_token(self, token_id: int) -> TokenRow | None:
        """The token with this id, or None."""
        with self._reading() as query:
            row = query.one(_API_ROWS + " WHERE token_id = ?", (token_id,))
        return None if row is None else _token(row)

    def list_tokens(self, user_name: str | None = None) -> list[TokenRow]:
        """Tokens (all, or one user's), oldest first."""
        with self._reading() as query:
            if user_name is None:
                rows = query.all(_API_ROWS + " ORDER BY token_id")
            else:
                rows = query.all(_API_ROWS + " WHERE user_name = ? ORDER BY token_id", (user_name,))
        return [_token(row) for row in rows]

    def touch_token(self, token_id: int, now: int) -> None:
        """Record that the token was used."""
        with self._writing() as query:
            query.run("UPDATE api_tokens SET last_used = ? WHERE token_id = ?", (now, token_id))

    def revoke_token(self, token_id: int, now: int) -> bool:
        """Revoke a token; False if there is no such token or it was already revoked."""
        with self._writing() as query:
            changed = query.run(
                "UPDATE api_tokens SET revoked_at = ? WHERE token_id = ? AND revoked_at IS NULL",
                (now, token_id),
            )
        return changed == 1

    # --- login throttling -----------------------------------------------------------

    def add_login_failure(self, throttle_key: str, at: int) -> None:
        """Count one failed login against ``throttle_key``."""
        with self._writing() as query:
            query.run(
                "INSERT INTO login_failures (throttle_key, at) VALUES (?, ?)", (throttle_key, at)
            )

    def login_failures(self, throttle_key: str, since: int) -> tuple[int, int | None]:
        """How many failures ``throttle_key`` has at or after ``since``, and the latest."""
        with self._reading() as query:
            row = query.one(
                "SELECT count(*), max(at) FROM login_failures WHERE throttle_key = ? AND at >= ?",
                (throttle_key, since),
            )
        return (0, None) if row is None else (int(row[0]), row[1])

    def clear_login_failures(self, throttle_key: str) -> None:
        """Forget ``throttle_key``'s failures (after a successful login)."""
        with self._writing() as query:
            query.run("DELETE FROM login_failures WHERE throttle_key = ?", (throttle_key,))

    # --- audit log ------------------------------------------------------------------

    def append_audit(
        self,
        at: int,
        actor: str,
        action: str,
        target: str,
        *,
        detail: Mapping[str, Any],
        outcome: str,
    ) -> AuditRow:
        """Append one audit entry and return it with its id."""
        if outcome not in OUTCOMES:
            raise InvalidRowError(f"unknown audit outcome {outcome!r}")
        text = canonical_json(detail)
        with self._writing() as query:
            row = query.one(_ADD_AUDIT, (at, actor, action, target, text, outcome))
        if row is None:  # pragma: no cover - RETURNING always yields the row
            raise StoreError("audit insert returned nothing")
        return AuditRow(int(row[0]), at, actor, action, target, json.loads(text), outcome)

    def list_audit(self, *, limit: int = 100, before: int | None = None) -> list[AuditRow]:
        """The newest audit entries first, ``limit`` of them, with ids below ``before``."""
        with self._reading() as query:
            if before is None:
                rows = query.all(_AUDIT + " ORDER BY audit_id DESC LIMIT ?", (limit,))
            else:
                rows = query.all(
                    _AUDIT + " WHERE audit_id < ? ORDER BY audit_id DESC LIMIT ?", (before, limit)
                )
        return [_audit(row) for row in rows]

    # --- verification runs ----------------------------------------------------------

    def add_verification_run(self, run: VerificationRunRow) -> VerificationRunRow:
        """Record a verification run (its ``run_id`` is assigned here)."""
        summary = canonical_json(run.summary)
        sample = json.dumps(list(run.sample), sort_keys=True, separators=(",", ":"))
        params = (run.at, run.origin, run.tree_size, run.batches, run.findings, summary, sample)
        with self._writing() as query:
            row = query.one(_ADD_RUN, params)
        if row is None:  # pragma: no cover - RETURNING always yields the row
            raise StoreError("verification run insert returned nothing")
        return _run((int(row[0]), *params))

    def verification_runs(self, limit: int = 10) -> list[VerificationRunRow]:
        """The latest ``limit`` runs, newest first."""
        with self._reading() as query:
            rows = query.all(_RUNS, (limit,))
        return [_run(row) for row in rows]
