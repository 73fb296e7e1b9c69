"""The web console: server-rendered pages over the same context and role table as the API.

Pages: login, fleet overview, meter, ledger, audit log, users. Every form POSTs the
session's CSRF token (synchronizer token); the login form, made before any session,
uses a double-submit cookie instead. A request without a valid session is sent to the
login page; one the role does not allow gets a 403 page. There is no script at all: the
charts are inline SVG made on the server (:mod:`meterseal.console.charts`).
"""

from __future__ import annotations

import hmac
import secrets
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any, Final

from fastapi import APIRouter, FastAPI, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from starlette.concurrency import run_in_threadpool

from meterseal.api import views
from meterseal.api.auth import Principal
from meterseal.api.context import ApiContext, Context, cookie_name, get_context
from meterseal.api.errors import (
    ApiError,
    ForbiddenError,
    NotAuthenticatedError,
)
from meterseal.api.roles import Action
from meterseal.api.routes_commands import queue_time_sync
from meterseal.api.routes_ledger import ledger_status
from meterseal.api.routes_users import client_address, login, set_session_cookie, user_out
from meterseal.api.schemas import MeterDetail
from meterseal.console.charts import daily_bars, line, load_profile

HERE: Final = Path(__file__).parent
LOGIN_CSRF_COOKIE: Final = "meterseal_login_csrf"
CHART_DAYS: Final = 14
AUDIT_PAGE: Final = 100
METERS_PER_PAGE: Final = 100
TIMELINE_DAYS: Final = 30
"""The meter page's event timeline covers this many days back (by the meter's clock)."""
TIMELINE_MAX: Final = 500

templates = Jinja2Templates(directory=HERE / "templates")
router = APIRouter(include_in_schema=False)

Field = Annotated[str, Form(max_length=1024)]


def _when(at: int | None) -> str:
    if at is None:
        return "never"
    return datetime.fromtimestamp(at, UTC).strftime("%Y-%m-%d %H:%M UTC")


templates.env.filters["when"] = _when


def mount(app: FastAPI) -> None:
    """Add the console's pages and its static files to ``app``."""
    app.include_router(router)
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")


def error_page(request: Request, exc: ApiError) -> Response:
    """A console answer to an error: the login page for 401, an error page otherwise."""
    if isinstance(exc, NotAuthenticatedError):
        return RedirectResponse("/login", status_code=303)
    return templates.TemplateResponse(
        request, "error.html", {"error": exc, "principal": None}, status_code=exc.status
    )


def _principal(request: Request, context: ApiContext, action: Action | None) -> Principal:
    cookie = request.cookies.get(cookie_name(context.settings))
    if cookie is None:
        raise NotAuthenticatedError("log in")
    principal = context.auth.session(cookie)
    if action is not None and not principal.can(action):
        raise ForbiddenError(f"your role ({principal.role}) may not {action.value}")
    return principal


def _page(request: Request, name: str, principal: Principal, **values: Any) -> HTMLResponse:
    csrf = None if principal.session is None else principal.session.csrf_token
    values.update(principal=principal, csrf=csrf, Action=Action)
    return templates.TemplateResponse(request, name, values)


def _changed(request: Request, action: Action, csrf_token: str) -> tuple[ApiContext, Principal]:
    """The caller of a form POST: allowed ``action``, with the right CSRF token."""
    context = get_context(request)
    principal = _principal(request, context, None)
    context.auth.check_csrf(principal, csrf_token)
    if not principal.can(action):
        path = request.url.path
        context.audit(principal.name, "access.denied", path, {"action": action}, "denied")
        raise ForbiddenError(f"your role ({principal.role}) may not {action.value}")
    return context, principal


# --- login ----------------------------------------------------------------------------


@router.get("/login")
def login_form(request: Request, context: Context) -> Response:
    """The login form, with a fresh double-submit CSRF value."""
    token = secrets.token_urlsafe(24)
    response = templates.TemplateResponse(
        request, "login.html", {"principal": None, "login_csrf": token, "failed": None}
    )
    response.set_cookie(
        LOGIN_CSRF_COOKIE,
        token,
        max_age=900,
        path="/",
        secure=not context.settings.insecure_http,
        httponly=True,
        samesite="strict",
    )
    return response


@router.post("/login")
def login_submit(
    request: Request, context: Context, name: Field, password: Field, csrf_token: Field
) -> Response:
    """Check the login form; on success set the session cookie and go to the fleet page."""
    expected = request.cookies.get(LOGIN_CSRF_COOKIE, "")
    if not expected or not hmac.compare_digest(expected.encode(), csrf_token.encode()):
        raise ForbiddenError("the login form expired; reload the page and try again")
    try:
        session = login(context, name, password, client_address(request))
    except ApiError as exc:
        return templates.TemplateResponse(
            request,
            "login.html",
            {"principal": None, "login_csrf": expected, "failed": exc.detail},
            status_code=exc.status,
        )
    response = RedirectResponse("/", status_code=303)
    set_session_cookie(response, context, session)
    response.delete_cookie(LOGIN_CSRF_COOKIE, path="/")
    return response


@router.post("/logout")
def logout(request: Request, csrf_token: Field) -> Response:
    """End the session and go to the login page."""
    context = get_context(request)
    principal = _principal(request, context, None)
    context.auth.check_csrf(principal, csrf_token)
    context.auth.logout(principal)
    context.audit(principal.name, "session.logout", principal.name)
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(cookie_name(context.settings), path="/")
    return response


# --- fleet and meters -----------------------------------------------------------------


@router.get("/")
def fleet(
    request: Request,
    context: Context,
    *,
    meter_type: Annotated[str, Query(alias="type", max_length=32)] = "",
    state: Annotated[str, Query(max_length=32)] = "",
    page: Annotated[int, Query(ge=0, le=2**20)] = 0,
) -> Response:
    """Fleet overview: counts by type, suite and state; alarms; the (filtered) meter list,
    :data:`METERS_PER_PAGE` at a time."""
    principal = _principal(request, context, Action.METERS_READ)
    settings = context.settings
    overview = views.fleet_overview(
        context.store, context.now(), settings.reading_interval, settings.alarm_days
    )
    meters = views.meter_summaries(
        context.store, meter_type=meter_type or None, state=state or None
    )
    start = page * METERS_PER_PAGE
    return _page(
        request,
        "fleet.html",
        principal,
        overview=overview,
        meters=meters[start : start + METERS_PER_PAGE],
        chosen={"type": meter_type, "state": state},
        previous=page - 1 if page > 0 else None,
        following=page + 1 if start + METERS_PER_PAGE < len(meters) else None,
    )


@router.get("/meters/{meter_id}")
def meter(request: Request, context: Context, meter_id: str) -> Response:
    """A meter: registration and credential state, consumption chart, load profile."""
    principal = _principal(request, context, Action.METERS_READ)
    detail = views.meter_detail(context.store, meter_id)
    credential = views.credential_status(context.store, meter_id)
    charts = _charts(context, detail) if principal.can(Action.READINGS_READ) else None
    queued = request.query_params.get("queued")
    now = context.now()
    timeline = views.meter_events(
        context.store, meter_id, now - TIMELINE_DAYS * 86_400, now + 86_400, TIMELINE_MAX
    )
    return _page(
        request,
        "meter.html",
        principal,
        meter=detail,
        credential=credential,
        charts=charts,
        queued=queued,
        timeline=timeline[::-1],
        timeline_days=TIMELINE_DAYS,
    )


def _charts(context: ApiContext, detail: MeterDetail) -> dict[str, Any]:
    if detail.last_seen is None:
        return {"days": [], "bars": None, "profile": None, "points": 0}
    last_day = datetime.fromtimestamp(detail.last_seen, UTC).date()
    start_day = last_day - timedelta(days=CHART_DAYS - 1)
    days = context.store.daily_consumption(detail.meter_id, start_day, last_day)
    unit = "Wh" if detail.meter_type == "electricity" else "dl"
    rows = context.store.readings(
        detail.meter_id, detail.last_seen - 86_400 + 1, detail.last_seen + 1
    )
    points, profile_unit = load_profile(rows, detail.meter_type)
    return {
        "days": days,
        "bars": daily_bars(days, unit),
        "profile": line(points, f"load profile of the last day, {profile_unit}"),
        "points": len(points),
        "unit": unit,
        "profile_unit": profile_unit,
    }


@router.post("/meters/{meter_id}/time-sync")
async def time_sync(request: Request, meter_id: str, csrf_token: Field) -> Response:
    """Queue a time-sync command for the meter, then show the meter page again."""
    context, principal = await run_in_threadpool(
        _changed, request, Action.COMMANDS_QUEUE, csrf_token
    )
    row = await queue_time_sync(context, principal, meter_id)
    return RedirectResponse(f"/meters/{meter_id}?queued={row.command_id}", status_code=303)


# --- ledger, audit, users ------------------------------------------------------------


@router.get("/ledger")
def ledger(request: Request, context: Context) -> Response:
    """Latest checkpoint, witness cosignatures, last verification run."""
    principal = _principal(request, context, Action.LEDGER_READ)
    status = ledger_status(context.ledger, context.store)
    return _page(request, "ledger.html", principal, ledger=status)


@router.get("/audit")
def audit(
    request: Request,
    context: Context,
    before: Annotated[int | None, Query(ge=1, le=2**62)] = None,
) -> Response:
    """Audit entries, newest first, a page of :data:`AUDIT_PAGE` at a time."""
    principal = _principal(request, context, Action.AUDIT_READ)
    rows = context.store.list_audit(limit=AUDIT_PAGE, before=before)
    older = rows[-1].audit_id if len(rows) == AUDIT_PAGE else None
    return _page(request, "audit.html", principal, rows=rows, older=older)


@router.get("/users")
def users(request: Request, context: Context) -> Response:
    """Accounts, their roles and tokens; forms to add and disable (admin)."""
    principal = _principal(request, context, Action.USERS_READ)
    accounts = [user_out(user) for user in context.store.list_users()]
    tokens = context.store.list_tokens()
    return _page(request, "users.html", principal, users=accounts, tokens=tokens, added=None)


@router.post("/users")
def add_user(
    request: Request, name: Field, password: Field, role: Field, csrf_token: Field
) -> Response:
    """Add an account (admin)."""
    context, principal = _changed(request, Action.USERS_MANAGE, csrf_token)
    try:
        user = context.auth.add_user(name, password, role)
    except ApiError as exc:
        context.audit(principal.name, "user.add", name, {"why": exc.code}, "failed")
        raise
    context.audit(principal.name, "user.add", user.name, {"role": user.role})
    return RedirectResponse("/users", status_code=303)


@router.post("/users/{name}/disabled")
def set_disabled(
    request: Request, name: str, disabled: Annotated[bool, Form()], csrf_token: Field
) -> Response:
    """Disable or enable an account (admin); its sessions end."""
    context, principal = _changed(request, Action.USERS_MANAGE, csrf_token)
    if name == principal.name:
        raise ForbiddenError("you cannot disable your own account")
    context.auth.update_user(name, role=None, disabled=disabled)
    context.audit(principal.name, "user.update", name, {"disabled": disabled})
    return RedirectResponse("/users", status_code=303)
