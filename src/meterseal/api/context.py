"""What every request handler reaches: the store, the ledger, the command queue, the caller.

:class:`ApiContext` lives on ``app.state`` (made by :func:`~meterseal.api.app.create_app`);
the FastAPI dependencies here resolve the caller (:func:`require`) and check the role
table and, for cookie sessions, the CSRF token. Every state change is recorded with
:meth:`ApiContext.audit`, which appends to the store's audit log and hands the row to the
``on_audit`` hook (the ledger outbox).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Annotated, Any, Final, Protocol

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from meterseal.api.auth import USER_NAME_PATTERN, Authenticator, Principal
from meterseal.api.errors import ForbiddenError, NotAuthenticatedError
from meterseal.api.roles import Action
from meterseal.api.settings import ConsoleSettings
from meterseal.errors import MeterSealError
from meterseal.ledger.leaves import TARGET_PATTERN
from meterseal.messages import CommandParams
from meterseal.store import AccountStore, CommandRow, Store
from meterseal.store.accounts import AccountQueries, AuditRow
from meterseal.store.events import EventQueries, EventStore
from meterseal.store.security import SecurityQueries, SecurityStore

SAFE_METHODS: Final = frozenset({"GET", "HEAD", "OPTIONS"})
CSRF_HEADER: Final = "X-CSRF-Token"


class ConsoleStore(Store, AccountStore, SecurityStore, EventStore, Protocol):
    """A store with the console's accounts, the security server's credentials and the
    meters' event rows (both SQL backends are one)."""


class LedgerView(Protocol):
    """What the console reads of the ledger: a part of
    :class:`~meterseal.ledger.interface.Ledger` that a read-only
    :class:`~meterseal.ledger.local.LedgerReader` has too."""

    def checkpoint(self) -> bytes:
        """The latest signed checkpoint note, with any witness cosignatures."""
        ...

    def inclusion_proof(self, index: int, tree_size: int) -> list[bytes]:
        """RFC 9162 section 2.1.3 inclusion proof of leaf ``index`` in tree ``tree_size``."""
        ...


class NoAccountsError(MeterSealError):
    """The store has no console accounts (it is not one of the SQL backends)."""


def console_store(store: Store) -> ConsoleStore:
    """``store`` as a :class:`ConsoleStore`; :class:`NoAccountsError` if it is not one."""
    if not (
        isinstance(store, AccountQueries)
        and isinstance(store, SecurityQueries)
        and isinstance(store, EventQueries)
    ):
        raise NoAccountsError(f"{type(store).__name__} keeps no console accounts")
    return store


class CommandQueue(Protocol):
    """Where the API queues commands.

    The head-end (:class:`~meterseal.headend.core.HeadendCore` has this method), or a
    store-only queue (:class:`~meterseal.api.routes_commands.StoreCommandQueue`).
    """

    async def queue_command(
        self,
        meter_id: str,
        params: CommandParams,
        ttl: int | None = None,
        *,
        operator: str = ...,
    ) -> CommandRow:
        """Sign and queue a command for ``meter_id``; its ``OperatorCommand`` ledger leaf
        names ``operator``."""
        ...


def cookie_name(settings: ConsoleSettings) -> str:
    """The session cookie's name: ``__Host-`` prefixed when it is Secure (RFC 6265bis)."""
    return "meterseal_session" if settings.insecure_http else "__Host-meterseal_session"


def audit_target(text: str) -> str:
    """``text`` as an audit target (printable ASCII, cut to 128 characters)."""
    text = text[:128]
    return text if TARGET_PATTERN.fullmatch(text) else "(unprintable)"


def audit_actor(name: str) -> str:
    """``name`` as an audit actor: an account name, else ``anonymous``."""
    return name if USER_NAME_PATTERN.fullmatch(name) else "anonymous"


@dataclass(frozen=True, slots=True)
class ApiContext:
    """The process-wide parts a request may use."""

    store: ConsoleStore
    settings: ConsoleSettings
    auth: Authenticator
    ledger: LedgerView | None = None
    commands: CommandQueue | None = None

    def now(self) -> int:
        """The current time, unix seconds (from the settings' clock)."""
        return self.settings.now()

    def audit(
        self,
        actor: str,
        action: str,
        target: str,
        detail: Mapping[str, Any] | None = None,
        outcome: str = "ok",
    ) -> AuditRow:
        """Append an audit row and pass it to the ``on_audit`` hook."""
        row = self.store.append_audit(
            self.now(),
            audit_actor(actor),
            action,
            audit_target(target),
            detail=detail or {},
            outcome=outcome,
        )
        if self.settings.on_audit is not None:
            self.settings.on_audit(row)
        return row


def get_context(request: Request) -> ApiContext:
    """The application's :class:`ApiContext`."""
    context: ApiContext = request.app.state.context
    return context


_BEARER = HTTPBearer(auto_error=False, description="an API token: Bearer mst_...")

Context = Annotated[ApiContext, Depends(get_context)]


def current_principal(
    request: Request,
    context: Context,
    bearer: Annotated[HTTPAuthorizationCredentials | None, Depends(_BEARER)],
) -> Principal:
    """The caller, by API token or session cookie (CSRF-checked for state changes)."""
    if bearer is not None:
        return context.auth.bearer(bearer.credentials)
    cookie = request.cookies.get(cookie_name(context.settings))
    if cookie is None:
        raise NotAuthenticatedError("log in, or send an API token")
    principal = context.auth.session(cookie)
    if request.method not in SAFE_METHODS:
        context.auth.check_csrf(principal, request.headers.get(CSRF_HEADER))
    return principal


Caller = Annotated[Principal, Depends(current_principal)]


def require(action: Action) -> Callable[..., Principal]:
    """A dependency: the caller, who must be allowed ``action`` (else 403, audited if
    the request would have changed something)."""

    def check(request: Request, context: Context, principal: Caller) -> Principal:
        if not principal.can(action):
            if request.method not in SAFE_METHODS:
                context.audit(
                    principal.name, "access.denied", request.url.path, {"action": action}, "denied"
                )
            raise ForbiddenError(f"role {principal.role!r} may not {action.value}")
        return principal

    return check
