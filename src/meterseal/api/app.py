"""The application factory: REST API under ``/api``, web console at ``/``, one process.

``create_app(store, ledger=..., commands=..., settings=...)`` wires the routers, the error
handlers and the security headers. The OpenAPI schema is at ``/api/openapi.json``; there
is no Swagger UI (it would load scripts from a CDN, and the console's CSP forbids that).

Errors: every :class:`~meterseal.api.errors.ApiError` is answered with its status and
``{"error": code, "detail": sentence}`` (the console shows an error page instead, or
sends the browser to the login page); a database that cannot be reached
(:class:`~meterseal.store.StoreUnavailable`) or an unreachable ledger is 503, and the
next request tries again (the stores reconnect on their own).

Headers on every answer: a Content-Security-Policy without inline script or style
(``default-src 'none'``; the console's one stylesheet from ``'self'``), X-Frame-Options
DENY with ``frame-ancestors 'none'``, ``nosniff``, no referrer, and ``Cache-Control:
no-store`` for everything but the static files. Strict-Transport-Security unless
``insecure_http``.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Final

from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse

from meterseal import __version__
from meterseal.api import (
    routes_audit,
    routes_commands,
    routes_ledger,
    routes_meters,
    routes_readings,
    routes_users,
)
from meterseal.api.auth import Authenticator
from meterseal.api.context import ApiContext, CommandQueue, ConsoleStore, LedgerView
from meterseal.api.errors import ApiError, ThrottledError
from meterseal.api.settings import ConsoleSettings
from meterseal.console import pages
from meterseal.ledger.errors import LedgerUnavailableError
from meterseal.store import StoreUnavailable

log = logging.getLogger("meterseal.api")

CSP: Final = (
    "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; "
    "frame-ancestors 'none'; base-uri 'none'"
)

_HEADERS: Final = {
    "Content-Security-Policy": CSP,
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cross-Origin-Opener-Policy": "same-origin",
}


def _is_api(request: Request) -> bool:
    return request.url.path.startswith("/api")


def _json_error(status: int, code: str, detail: str) -> JSONResponse:
    return JSONResponse({"error": code, "detail": detail}, status_code=status)


async def _api_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ApiError)  # noqa: S101 - registered for ApiError only
    if not _is_api(request):
        return pages.error_page(request, exc)
    response = _json_error(exc.status, exc.code, exc.detail)
    if isinstance(exc, ThrottledError):
        response.headers["Retry-After"] = str(exc.retry_after)
    return response


async def _unavailable(request: Request, exc: Exception) -> Response:
    log.warning("answering 503 to %s %s: %s", request.method, request.url.path, exc)
    return await _api_error(request, _UnavailableError(str(exc)))


class _UnavailableError(ApiError):
    status = 503
    code = "unavailable"


def _security_headers(settings: ConsoleSettings) -> Callable[..., Awaitable[Response]]:
    async def add_headers(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        response = await call_next(request)
        response.headers.update(_HEADERS)
        if not request.url.path.startswith("/static/"):
            response.headers["Cache-Control"] = "no-store"
        if not settings.insecure_http:
            response.headers["Strict-Transport-Security"] = "max-age=31536000"
        return response

    return add_headers


def create_app(
    store: ConsoleStore,
    *,
    ledger: LedgerView | None = None,
    commands: CommandQueue | None = None,
    settings: ConsoleSettings,
) -> FastAPI:
    """The console and REST API over ``store`` (migrated to schema 6 or later).

    ``ledger``: the ledger service, or a read-only reader of its store (None: the ledger
    page says it is not configured);
    ``commands``: where commands are queued (the head-end; None: 503 on command routes).
    """
    app = FastAPI(
        title="MeterSeal",
        version=__version__,
        description="Fleet, readings, ledger, commands, users and audit of a MeterSeal "
        "collection system. Authenticate with an API token (Bearer) or a console session.",
        openapi_url="/api/openapi.json",
        docs_url=None,
        redoc_url=None,
    )
    auth = Authenticator(store, settings)
    app.state.context = ApiContext(store, settings, auth, ledger=ledger, commands=commands)
    for module in (
        routes_users,
        routes_meters,
        routes_readings,
        routes_ledger,
        routes_commands,
        routes_audit,
    ):
        app.include_router(module.router)
    pages.mount(app)
    app.add_exception_handler(ApiError, _api_error)
    app.add_exception_handler(StoreUnavailable, _unavailable)
    app.add_exception_handler(LedgerUnavailableError, _unavailable)
    app.middleware("http")(_security_headers(settings))
    return app
