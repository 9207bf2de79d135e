"""One error hierarchy and one place that renders it.

Every response error has the shape `{"error": code, "detail": message}`, plus `fields`
(`[{"field": "debt", "message": "..."}]`) when specific input fields are at fault.
"""

import logging
import re
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse as _JSONResponse
from pydantic import BaseModel, ValidationError
from sqlalchemy.exc import DBAPIError
from starlette.exceptions import HTTPException as StarletteHTTPException

log = logging.getLogger(__name__)


class JSONResponse(_JSONResponse):
    # Stated explicitly: 1C:Enterprise reads the charset from the header, errors included.
    media_type = "application/json; charset=utf-8"


class SaudaError(Exception):
    status_code = 400
    code = "bad_request"
    # True when the work done before the error must still be committed (e.g. revocations).
    keep_changes = False

    def __init__(
        self,
        message: str,
        *,
        fields: list[dict[str, str]] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.fields = fields
        self.headers = headers


class NotFound(SaudaError):
    status_code = 404
    code = "not_found"


class Conflict(SaudaError):
    status_code = 409
    code = "conflict"


class PermissionDenied(SaudaError):
    status_code = 403
    code = "permission_denied"


class NotAuthenticated(SaudaError):
    status_code = 401
    code = "not_authenticated"

    def __init__(self, message: str = "Not authenticated") -> None:
        super().__init__(message, headers={"WWW-Authenticate": "Bearer"})


class TokenReuse(NotAuthenticated):
    """A rotated refresh token came back: the revocation of its login must be kept."""

    keep_changes = True


class InvalidInput(SaudaError):
    status_code = 422
    code = "validation_error"

    @classmethod
    def for_field(cls, field: str, message: str) -> "InvalidInput":
        return cls(f"{field}: {message}", fields=[{"field": field, "message": message}])

    @classmethod
    def for_fields(cls, fields: list[dict[str, str]]) -> "InvalidInput":
        return cls("; ".join(f"{f['field']}: {f['message']}" for f in fields), fields=fields)


class TooManyRequests(SaudaError):
    status_code = 429
    code = "too_many_requests"

    def __init__(self, message: str, *, retry_after: int) -> None:
        super().__init__(message, headers={"Retry-After": str(retry_after)})
        self.retry_after = retry_after


class ServiceUnavailable(SaudaError):
    status_code = 503
    code = "service_unavailable"


class FieldError(BaseModel):
    field: str
    message: str


class ErrorOut(BaseModel):
    """The body of every error response."""

    error: str
    detail: str
    fields: list[FieldError] | None = None


# SQLSTATEs of constraint violations a concurrent or repeated write can cause.
UNIQUE_VIOLATION = "23505"
FOREIGN_KEY_VIOLATION = "23503"
EXCLUSION_VIOLATION = "23P01"


def sqlstate(exc: DBAPIError) -> str | None:
    state: str | None = getattr(exc.orig, "sqlstate", None)
    return state


def error_body(code: str, message: str, fields: list[dict[str, str]] | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"error": code, "detail": message}
    if fields:
        body["fields"] = fields
    return body


def _field_name(loc: tuple[Any, ...]) -> str:
    parts = [str(p) for p in loc if p not in ("body", "query", "path", "header", "form")]
    return ".".join(parts) or "body"


def validation_fields(exc: RequestValidationError | ValidationError) -> list[dict[str, str]]:
    fields = []
    for err in exc.errors():
        message = str(err.get("msg", "invalid value")).removeprefix("Value error, ")
        loc = tuple(err.get("loc", ()))
        # Model-level checks (e.g. read-only fields) name their field in the error context.
        if field := (err.get("ctx") or {}).get("field"):
            loc = (*loc, field)
        fields.append({"field": _field_name(loc), "message": message})
    return fields


async def _sauda_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, SaudaError)
    return _render(exc)


async def _internal_error(_: Request, exc: Exception) -> JSONResponse:
    # Starlette logs the exception itself; the caller gets the same shape as every other error.
    return JSONResponse(error_body("internal_error", "Internal server error"), 500)


def _render(error: SaudaError) -> JSONResponse:
    return JSONResponse(
        error_body(error.code, error.message, error.fields), error.status_code, headers=error.headers
    )


async def _validation_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = exc.errors()
    # A path names a resource: one that cannot exist (an id past its column) is simply not found.
    if errors and all(tuple(e.get("loc", ()))[:1] == ("path",) for e in errors):
        return _render(NotFound("Not found"))
    return _render(InvalidInput.for_fields(validation_fields(exc)))


def _allowed_methods(request: Request) -> str:
    """Every method the documented paths matching this URL take (a path has several routes)."""
    methods: set[str] = set()
    for pattern, verbs in _path_methods(request.app):
        if pattern.fullmatch(request.url.path):
            methods |= verbs
    if "GET" in methods:
        methods.add("HEAD")
    return ", ".join(sorted(methods))


def _path_methods(app: FastAPI) -> list[tuple[re.Pattern[str], set[str]]]:
    cached: list[tuple[re.Pattern[str], set[str]]] | None = getattr(app.state, "path_methods", None)
    if cached is None:
        cached = [
            (re.compile(re.sub(r"\\{[^}]+\\}", "[^/]+", re.escape(path))), {m.upper() for m in ops})
            for path, ops in app.openapi().get("paths", {}).items()
        ]
        app.state.path_methods = cached
    return cached


# FastAPI's words when a body cannot be read at all (e.g. JSON that is not UTF-8).
_UNPARSABLE_BODY = "There was an error parsing the body"


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    if exc.status_code == 400 and exc.detail == _UNPARSABLE_BODY:
        # Input that cannot be read is invalid input like any other: the declared 422.
        return _render(InvalidInput.for_field("body", "cannot be read (is it UTF-8 JSON or a valid form?)"))
    code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
    headers = dict(getattr(exc, "headers", None) or {})
    if exc.status_code == 405:
        # Starlette names only the first matching route's methods; a path has several routes.
        headers["Allow"] = _allowed_methods(request)
    return JSONResponse(error_body(code, str(exc.detail)), exc.status_code, headers=headers or None)


def database_error(exc: DBAPIError) -> SaudaError | None:
    """The last line of defence: what a value the database refused means to the caller.

    Input types (`sauda.types`) refuse such values at the edge, naming the field; reaching this
    means a route missed one, so it is logged as a defect, but the caller still gets a 4xx."""
    state = sqlstate(exc) or ""
    if state.startswith("22"):  # data exception: out of range, NUL, bad date, too long
        return InvalidInput("A value is out of the range the database can store")
    if state in (UNIQUE_VIOLATION, EXCLUSION_VIOLATION):
        return Conflict("This conflicts with an existing record")
    if state == FOREIGN_KEY_VIOLATION:
        return Conflict("A referenced record does not exist or is still in use")
    if state.startswith("23"):  # not null, check
        return InvalidInput("A value breaks a rule of the database")
    return None


async def _database_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, DBAPIError)
    error = database_error(exc)
    if error is None:
        raise exc
    log.warning("database refused input on %s %s: %s", request.method, request.url.path, exc.orig)
    return _render(error)


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(SaudaError, _sauda_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(DBAPIError, _database_error)
    app.add_exception_handler(Exception, _internal_error)
