"""``/api/session``, ``/api/users`` and ``/api/tokens``: logging in, accounts, API tokens.

Logging in sets the session cookie (HttpOnly, SameSite=Strict, Path=/, Secure and
``__Host-`` prefixed unless ``insecure_http``) and returns the session's CSRF token.
Account and token changes are admin-only and audited; reading them is admin and auditor.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response

from meterseal.api.auth import Authenticator, NewSession, Principal
from meterseal.api.context import ApiContext, Caller, Context, cookie_name, require
from meterseal.api.errors import ApiError, NotFoundError
from meterseal.api.roles import PERMISSIONS, Action
from meterseal.api.schemas import (
    ERROR_RESPONSES,
    LoginIn,
    SessionOut,
    TokenCreate,
    TokenCreated,
    TokenOut,
    UserCreate,
    UserOut,
    UserUpdate,
)
from meterseal.store.accounts import TokenRow, UserRow

router = APIRouter(prefix="/api", tags=["users"], responses=ERROR_RESPONSES)

UsersReader = Annotated[Principal, Depends(require(Action.USERS_READ))]
UsersManager = Annotated[Principal, Depends(require(Action.USERS_MANAGE))]


def client_address(request: Request) -> str:
    """The peer's address (the throttle key); ``unknown`` if the server did not say."""
    return request.client.host if request.client is not None else "unknown"


def user_out(user: UserRow) -> UserOut:
    """The API form of an account (no password hash)."""
    return UserOut(
        name=user.name, role=user.role, created_at=user.created_at, disabled=user.disabled
    )


def token_out(row: TokenRow) -> TokenOut:
    """The API form of a token record (prefix only)."""
    return TokenOut(
        token_id=row.token_id,
        prefix=row.prefix,
        user_name=row.user_name,
        role_cap=row.role_cap,
        label=row.label,
        created_at=row.created_at,
        last_used=row.last_used,
        revoked_at=row.revoked_at,
    )


def set_session_cookie(response: Response, context: ApiContext, session: NewSession) -> None:
    """Give the browser its session cookie, with the attributes docs/console.md lists."""
    response.set_cookie(
        cookie_name(context.settings),
        session.cookie,
        max_age=context.settings.session_ttl,
        path="/",
        secure=not context.settings.insecure_http,
        httponly=True,
        samesite="strict",
    )


def login(context: ApiContext, name: str, password: str, client: str) -> NewSession:
    """Log in (throttled), auditing the outcome."""
    try:
        session = context.auth.login(name, password, client)
    except ApiError as exc:
        outcome = "denied" if exc.status == 429 else "failed"
        context.audit(
            "anonymous", "session.login", name, {"client": client, "why": exc.code}, outcome
        )
        raise
    context.audit(name, "session.login", name, {"client": client})
    return session


def session_out(principal: Principal) -> SessionOut:
    """Who the caller is and what they may do."""
    session = principal.session
    return SessionOut(
        name=principal.name,
        role=principal.role,
        permissions=sorted(action.value for action in principal.allowed),
        csrf_token=None if session is None else session.csrf_token,
        expires_at=None if session is None else session.expires_at,
    )


@router.post("/session", status_code=201)
def create_session(
    request: Request, response: Response, context: Context, body: LoginIn
) -> SessionOut:
    """Log in with name and password: sets the session cookie, returns the CSRF token."""
    session = login(context, body.name, body.password, client_address(request))
    set_session_cookie(response, context, session)
    principal = context.auth.session(session.cookie)
    return session_out(principal)


@router.get("/session")
def whoami(principal: Caller) -> SessionOut:
    """The caller, their role and permissions, and the session's CSRF token."""
    return session_out(principal)


@router.delete("/session", status_code=204)
def logout(response: Response, context: Context, principal: Caller) -> None:
    """End the session (CSRF token required) and clear the cookie."""
    context.auth.logout(principal)
    context.audit(principal.name, "session.logout", principal.name)
    response.delete_cookie(cookie_name(context.settings), path="/")


@router.get("/roles")
def roles(_: Caller) -> dict[str, list[str]]:
    """The permission table: what each role may do (see docs/console.md)."""
    return {role.value: sorted(a.value for a in allowed) for role, allowed in PERMISSIONS.items()}


@router.get("/users")
def list_users(context: Context, _: UsersReader) -> list[UserOut]:
    """Every account and its role (never a password hash)."""
    return [user_out(user) for user in context.store.list_users()]


@router.post("/users", status_code=201)
def add_user(context: Context, principal: UsersManager, body: UserCreate) -> UserOut:
    """Create an account (admin)."""
    try:
        user = context.auth.add_user(body.name, body.password, body.role)
    except ApiError as exc:
        context.audit(principal.name, "user.add", body.name, {"why": exc.code}, "failed")
        raise
    context.audit(principal.name, "user.add", user.name, {"role": user.role})
    return user_out(user)


@router.patch("/users/{name}")
def update_user(context: Context, principal: UsersManager, name: str, body: UserUpdate) -> UserOut:
    """Change an account's role or disable it (admin); its sessions end."""
    user = update(context.auth, name, body)
    detail = body.model_dump(exclude_none=True)
    context.audit(principal.name, "user.update", user.name, detail)
    return user_out(user)


def update(auth: Authenticator, name: str, body: UserUpdate) -> UserRow:
    """Apply a :class:`UserUpdate`."""
    return auth.update_user(name, role=body.role, disabled=body.disabled)


@router.get("/users/{name}/tokens")
def list_tokens(context: Context, _: UsersReader, name: str) -> list[TokenOut]:
    """A user's API tokens (prefixes only)."""
    if context.store.get_user(name) is None:
        raise NotFoundError(f"no user {name!r}")
    return [token_out(row) for row in context.store.list_tokens(name)]


@router.post("/users/{name}/tokens", status_code=201)
def issue_token(
    context: Context, principal: UsersManager, name: str, body: TokenCreate
) -> TokenCreated:
    """Issue an API token for ``name`` (admin); the token is in this answer only."""
    token, row = context.auth.issue_token(name, body.role_cap, body.label)
    detail = {"token_id": row.token_id, "role_cap": row.role_cap, "prefix": row.prefix}
    context.audit(principal.name, "token.issue", name, detail)
    return TokenCreated(token=token, record=token_out(row))


@router.delete("/tokens/{token_id}", status_code=204)
def revoke_token(context: Context, principal: UsersManager, token_id: int) -> None:
    """Revoke an API token (admin); it stops working at once."""
    row = context.store.get_token(token_id) if 0 < token_id < 2**62 else None
    if row is None or not context.store.revoke_token(token_id, context.now()):
        raise NotFoundError(f"no unrevoked token {token_id}")
    context.audit(principal.name, "token.revoke", row.user_name, {"token_id": token_id})
