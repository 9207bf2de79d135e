"""One error hierarchy and one place that renders it.

Every response error has the shape `{"error": code, "detail": message}`, plus `fields`
(`[{"field": "debt", "message": "..."}]`) when specific input fields are at fault.
"""

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse as _JSONResponse
from pydantic import ValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException


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
    return JSONResponse(error_body(exc.code, exc.message, exc.fields), exc.status_code, headers=exc.headers)


async def _validation_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    error = InvalidInput.for_fields(validation_fields(exc))
    return JSONResponse(error_body(error.code, error.message, error.fields), error.status_code)


async def _http_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
    return JSONResponse(
        error_body(code, str(exc.detail)), exc.status_code, headers=getattr(exc, "headers", None)
    )


async def _internal_error(_: Request, exc: Exception) -> JSONResponse:
    # Starlette's outermost middleware sends this, then re-raises for the server to log.
    return JSONResponse(error_body("internal_error", "Internal server error"), 500)


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(Exception, _internal_error)
    app.add_exception_handler(SaudaError, _sauda_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
