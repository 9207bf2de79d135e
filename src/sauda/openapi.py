"""The OpenAPI document as the contract: every error a route can answer, in the one shape sent.

FastAPI advertises its own `HTTPValidationError` (with `detail` as an array) for 422, a body
Sauda never sends, and nothing for 401/403/404/409. The document is post-processed once: every
error status is declared with `ErrorOut`, derived from what the route is (authenticated, takes
input, names a resource, writes), plus what routes declare themselves (429, 502, 503, ...).
"""

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from sauda.errors import ErrorOut, FieldError

ERROR_REF = {"$ref": "#/components/schemas/ErrorOut"}
WRITE_METHODS = {"post", "put", "patch", "delete"}
FASTAPI_DEFAULT_DESCRIPTIONS = {None, "", "Additional Response", "Validation Error", "Unsuccessful Response"}
DEFAULT_DESCRIPTIONS = {
    401: "`not_authenticated`: no or an invalid token / client secret",
    403: "`permission_denied`: the caller may not do this",
    404: "`not_found`: the resource (or one it refers to) does not exist for the caller",
    409: "`conflict`: the change conflicts with the current state",
    422: "`validation_error`: `fields` names each field and the problem",
    429: "`too_many_requests`: try again after `Retry-After` seconds",
    503: "`service_unavailable`: a dependency is down",
}


def _error_statuses(path: str, method: str, operation: dict[str, Any]) -> set[int]:
    statuses = {int(code) for code in operation.get("responses", {}) if str(code)[0] in "45"}
    has_input = bool(operation.get("parameters")) or "requestBody" in operation
    if operation.get("security"):
        statuses |= {401, 403}
    if has_input:
        statuses |= {404, 422}
    if "{" in path:
        statuses.add(404)
    if method in WRITE_METHODS:
        statuses.add(409)
    return statuses


def _only_refs(operation: dict[str, Any]) -> None:
    # A custom response class makes FastAPI add `"type": "string"` beside a model's `$ref`.
    for response in operation.get("responses", {}).values():
        for media in response.get("content", {}).values():
            schema = media.get("schema", {})
            if "$ref" in schema:
                media["schema"] = {"$ref": schema["$ref"]}


def _declare_errors(path: str, method: str, operation: dict[str, Any]) -> None:
    _only_refs(operation)
    responses = operation.setdefault("responses", {})
    for status in sorted(_error_statuses(path, method, operation)):
        entry = responses.setdefault(str(status), {})
        if entry.get("description") in FASTAPI_DEFAULT_DESCRIPTIONS:
            entry["description"] = DEFAULT_DESCRIPTIONS.get(status, "error")
        entry["content"] = {"application/json": {"schema": ERROR_REF}}


def _component(model: type[ErrorOut] | type[FieldError]) -> dict[str, Any]:
    schema: dict[str, Any] = model.model_json_schema(ref_template="#/components/schemas/{model}")
    schema.pop("$defs", None)
    return schema


def build_openapi(app: FastAPI) -> dict[str, Any]:
    document = get_openapi(
        title=app.title, version=app.version, description=app.description, routes=app.routes
    )
    for path, operations in document.get("paths", {}).items():
        for method, operation in operations.items():
            _declare_errors(path, method, operation)
    schemas = document.setdefault("components", {}).setdefault("schemas", {})
    schemas.pop("HTTPValidationError", None)
    schemas.pop("ValidationError", None)
    schemas["FieldError"] = _component(FieldError)
    schemas["ErrorOut"] = _component(ErrorOut)
    return document


def install_openapi(app: FastAPI) -> None:
    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = build_openapi(app)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
