"""Errors of the REST API and console, each carrying the HTTP status it is answered with.

Raised by route handlers and the authentication layer; :mod:`meterseal.api.app` turns
them into a JSON body ``{"error": code, "detail": message}`` (RFC 9110 section 15 status
codes) for the API and into an HTML page for the console.
"""

from __future__ import annotations

from meterseal.errors import MeterSealError


class ApiError(MeterSealError):
    """A request the API answers with a 4xx or 5xx status."""

    status = 400
    code = "bad_request"

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


class BadRequestError(ApiError):
    """The request is well-formed JSON but asks for something invalid."""


class NotAuthenticatedError(ApiError):
    """No valid session cookie or API token (RFC 9110 section 15.5.2)."""

    status = 401
    code = "not_authenticated"


class ForbiddenError(ApiError):
    """The caller's role does not allow the action, or the CSRF token is wrong."""

    status = 403
    code = "forbidden"


class NotFoundError(ApiError):
    """No such meter, user, token or command."""

    status = 404
    code = "not_found"


class ConflictError(ApiError):
    """The resource already exists (a user name taken)."""

    status = 409
    code = "conflict"


class ThrottledError(ApiError):
    """Too many failed logins: locked out for ``retry_after`` seconds (RFC 6585 section 4)."""

    status = 429
    code = "too_many_attempts"

    def __init__(self, detail: str, retry_after: int) -> None:
        super().__init__(detail)
        self.retry_after = retry_after


class ServiceUnavailableError(ApiError):
    """A part the request needs (the store, the ledger, the head-end) is not there now."""

    status = 503
    code = "unavailable"
