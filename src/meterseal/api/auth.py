"""Authentication: argon2id passwords, sessions with CSRF tokens, API tokens, throttling.

* Passwords: argon2id (RFC 9106) through argon2-cffi, parameters in
  :class:`~meterseal.api.settings.ConsoleSettings`; a hash made with weaker parameters is
  replaced at the next successful login. An unknown user name costs one verification of
  a fixed dummy hash, so timing does not tell which names exist.
* Sessions: the cookie holds 256 random bits; the store keeps only their SHA-256. Each
  session has its own CSRF token (synchronizer token pattern, OWASP CSRF cheat sheet),
  which every state-changing request made with the cookie must echo (header
  ``X-CSRF-Token`` for the API, form field ``csrf_token`` for the console).
* API tokens (``Authorization: Bearer mst_...``, RFC 6750): 256 random bits, kept as
  their SHA-256, shown once; a token acts with the permissions of both its role cap and
  its user's current role, and stops working when revoked or when its user is disabled.
* Throttling: failures count per user name and per client address separately; after
  ``throttle_free`` failures the key is locked for an exponentially growing time.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from typing import Final

from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError

from meterseal.api.errors import (
    BadRequestError,
    ConflictError,
    ForbiddenError,
    NotAuthenticatedError,
    NotFoundError,
    ThrottledError,
)
from meterseal.api.roles import Action, Role, permissions
from meterseal.api.settings import ConsoleSettings
from meterseal.store.accounts import (
    AccountStore,
    DuplicateUserError,
    SessionRow,
    TokenRow,
    UnknownUserError,
    UserRow,
)

USER_NAME_PATTERN: Final = re.compile(r"[A-Za-z0-9._@:-]{1,64}")
"""An account name (the ledger's operator-name pattern, so audit leaves can name it)."""

TOKEN_PREFIX: Final = "mst_"  # noqa: S105 - a marker, not a secret
"""Every API token starts with this, so secret scanners can find leaked ones."""

SHOWN_PREFIX_LENGTH: Final = 12
"""Characters of a token kept in clear to tell tokens apart (``mst_`` and 8 more)."""

TOUCH_EVERY: Final = 60
"""Seconds between writes of a session's ``last_seen`` (its idle clock)."""

MAX_PASSWORD_LENGTH: Final = 1024


def secret_hash(secret: str) -> bytes:
    """SHA-256 of a session cookie value or API token: what the store keeps."""
    return hashlib.sha256(secret.encode()).digest()


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is making the request, and what they may do."""

    name: str
    role: str
    allowed: frozenset[Action]
    session: SessionRow | None = None
    token_id: int | None = None

    def can(self, action: Action) -> bool:
        """True if this caller may do ``action``."""
        return action in self.allowed


@dataclass(frozen=True, slots=True)
class NewSession:
    """A session just opened: the cookie value (secret, given to the browser once)."""

    cookie: str
    row: SessionRow


class Authenticator:
    """Accounts, sessions and tokens over an :class:`AccountStore`."""

    def __init__(self, store: AccountStore, settings: ConsoleSettings) -> None:
        self._store, self._settings = store, settings
        self._hasher = PasswordHasher(
            time_cost=settings.argon2_time_cost,
            memory_cost=settings.argon2_memory_kib,
            parallelism=settings.argon2_parallelism,
            type=Type.ID,
        )
        self._dummy = self._hasher.hash(secrets.token_urlsafe(16))

    # --- accounts -------------------------------------------------------------------

    def check_password(self, password: str) -> None:
        """Refuse a password too short or too long to be a sensible one."""
        if not self._settings.min_password_length <= len(password) <= MAX_PASSWORD_LENGTH:
            raise BadRequestError(
                f"a password has {self._settings.min_password_length} to "
                f"{MAX_PASSWORD_LENGTH} characters"
            )

    def add_user(self, name: str, password: str, role: str) -> UserRow:
        """Create an account with an argon2id hash of ``password``."""
        if not USER_NAME_PATTERN.fullmatch(name):
            raise BadRequestError("a user name is 1-64 of A-Z a-z 0-9 . _ @ : -")
        if role not in set(Role):
            raise BadRequestError(f"unknown role {role!r}")
        self.check_password(password)
        user = UserRow(name, role, self._hasher.hash(password), self._settings.now(), False)
        try:
            self._store.add_user(user)
        except DuplicateUserError as exc:
            raise ConflictError(f"user {name!r} already exists") from exc
        return user

    def update_user(self, name: str, *, role: str | None, disabled: bool | None) -> UserRow:
        """Change a role or the disabled flag; ends the user's sessions when it does."""
        if role is not None and role not in set(Role):
            raise BadRequestError(f"unknown role {role!r}")
        try:
            user = self._store.update_user(name, role=role, disabled=disabled)
        except UnknownUserError as exc:
            raise NotFoundError(f"no user {name!r}") from exc
        self._store.delete_user_sessions(name)
        return user

    # --- login and sessions ---------------------------------------------------------

    def login(self, name: str, password: str, client: str) -> NewSession:
        """Check the password (throttled) and open a session.

        :class:`ThrottledError` while the name or the address is locked out,
        :class:`NotAuthenticatedError` for a wrong name, password or a disabled account.
        """
        now = self._settings.now()
        keys = (f"user:{name[:64]}", f"ip:{client}")
        self._check_throttle(keys, now)
        user = self._store.get_user(name)
        if not self._verify(user, password) or user is None or user.disabled:
            for key in keys:
                self._store.add_login_failure(key, now)
            raise NotAuthenticatedError("wrong user name or password")
        self._store.clear_login_failures(keys[0])
        self._rehash_if_needed(user, password)
        return self._open_session(user.name, now)

    def _verify(self, user: UserRow | None, password: str) -> bool:
        try:
            return self._hasher.verify(
                self._dummy if user is None else user.password_hash, password
            )
        except (VerificationError, InvalidHashError):
            return False

    def _rehash_if_needed(self, user: UserRow, password: str) -> None:
        if self._hasher.check_needs_rehash(user.password_hash):
            self._store.set_password_hash(user.name, self._hasher.hash(password))

    def lockout(self, key: str, now: int, free: int) -> int:
        """Seconds ``key`` stays locked out (0: not locked) after ``free`` free failures."""
        settings = self._settings
        count, last = self._store.login_failures(key, now - settings.throttle_window)
        excess = count - free - 1
        if excess < 0 or last is None:
            return 0
        lock = min(settings.throttle_base << min(excess, 32), settings.throttle_cap)
        return max(0, last + lock - now)

    def _check_throttle(self, keys: tuple[str, str], now: int) -> None:
        user_key, address_key = keys
        wait = max(
            self.lockout(user_key, now, self._settings.throttle_free),
            self.lockout(address_key, now, self._settings.throttle_free_address),
        )
        if wait > 0:
            raise ThrottledError(f"too many failed logins; try again in {wait} s", wait)

    def _open_session(self, name: str, now: int) -> NewSession:
        cookie = secrets.token_urlsafe(32)
        row = SessionRow(
            secret_hash(cookie),
            name,
            secrets.token_urlsafe(32),
            now,
            now + self._settings.session_ttl,
            now,
        )
        self._store.add_session(row)
        return NewSession(cookie, row)

    def session(self, cookie: str) -> Principal:
        """The caller behind a session cookie; :class:`NotAuthenticatedError` if none."""
        now = self._settings.now()
        row = self._store.get_session(secret_hash(cookie))
        if row is None:
            raise NotAuthenticatedError("no session; log in")
        if now >= row.expires_at or now - row.last_seen >= self._settings.idle_timeout:
            self._store.delete_session(row.session_hash)
            raise NotAuthenticatedError("the session has expired; log in again")
        user = self._active_user(row.user_name)
        if now - row.last_seen >= TOUCH_EVERY:
            self._store.touch_session(row.session_hash, now)
        return Principal(user.name, user.role, permissions(user.role), session=row)

    def logout(self, principal: Principal) -> None:
        """End the caller's session (nothing to do for a token)."""
        if principal.session is not None:
            self._store.delete_session(principal.session.session_hash)

    @staticmethod
    def check_csrf(principal: Principal, presented: str | None) -> None:
        """A cookie-authenticated state change must echo the session's CSRF token."""
        if principal.session is None:
            return  # bearer tokens are not sent by browsers on their own
        expected = principal.session.csrf_token.encode()
        if presented is None or not hmac.compare_digest(presented.encode(), expected):
            raise ForbiddenError("missing or wrong CSRF token")

    def _active_user(self, name: str) -> UserRow:
        user = self._store.get_user(name)
        if user is None or user.disabled:
            raise NotAuthenticatedError("the account is disabled")
        return user

    # --- API tokens -----------------------------------------------------------------

    def issue_token(self, user_name: str, role_cap: str, label: str) -> tuple[str, TokenRow]:
        """A new token for ``user_name``; the token string is returned only here."""
        if role_cap not in set(Role):
            raise BadRequestError(f"unknown role {role_cap!r}")
        token = TOKEN_PREFIX + secrets.token_urlsafe(32)
        try:
            row = self._store.add_token(
                secret_hash(token),
                token[:SHOWN_PREFIX_LENGTH],
                user_name,
                role_cap=role_cap,
                label=label,
                now=self._settings.now(),
            )
        except UnknownUserError as exc:
            raise NotFoundError(f"no user {user_name!r}") from exc
        return token, row

    def bearer(self, token: str) -> Principal:
        """The caller behind an API token; :class:`NotAuthenticatedError` if none."""
        row = self._store.find_token(secret_hash(token))
        if row is None or row.revoked_at is not None:
            raise NotAuthenticatedError("unknown or revoked API token")
        user = self._active_user(row.user_name)
        now = self._settings.now()
        if row.last_used is None or now - row.last_used >= TOUCH_EVERY:
            self._store.touch_token(row.token_id, now)
        allowed = permissions(user.role, row.role_cap)
        return Principal(user.name, user.role, allowed, token_id=row.token_id)
