"""ASGI middleware that guards every route at once."""

import json
from typing import Any
from urllib.parse import parse_qsl, unquote

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from sauda.errors import InvalidInput, JSONResponse, NotFound, error_body

NUL_MESSAGE = "must not contain NUL characters"
# A JSON body spells NUL as an escape; a raw NUL byte is already invalid JSON.
_JSON_NUL = b"\\u0000"
_MAX_BUFFERED_BODY = 16 * 1024 * 1024


class RejectNul:
    """No text with a NUL character reaches a route: PostgreSQL cannot store one.

    Checks the path, the query string and JSON or form bodies, and answers 422 naming the
    parameter or body field (404 for the path). Uploads (multipart) are files; their readers
    validate cells themselves.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if "\x00" in scope["path"]:
            await _reply(scope, receive, send, NotFound("Not Found"))
            return
        if field := _nul_in_query(scope["query_string"]):
            await _reply(scope, receive, send, InvalidInput.for_field(field, NUL_MESSAGE))
            return
        content_type = _header(scope, b"content-type")
        if not content_type.startswith((b"application/json", b"application/x-www-form-urlencoded")):
            await self.app(scope, receive, send)
            return
        body, more = await _read_body(receive)
        if field := _nul_in_body(body, content_type):
            await _reply(scope, receive, send, InvalidInput.for_field(field, NUL_MESSAGE))
            return
        await self.app(scope, _replay(body, more, receive), send)


def _header(scope: Scope, name: bytes) -> bytes:
    for key, value in scope["headers"]:
        if key == name:
            return bytes(value).lower()
    return b""


def _nul_in_query(query: bytes) -> str | None:
    if b"%00" not in query and b"\x00" not in query:
        return None
    for key, value in parse_qsl(query.decode("latin-1"), keep_blank_values=True):
        if "\x00" in unquote(value) or "\x00" in value or "\x00" in key:
            return key.replace("\x00", "") or "query"
    return "query"


async def _read_body(receive: Receive) -> tuple[bytes, bool]:
    """The whole body (up to a bound); `more` is True when the rest is still to be received."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            return b"".join(chunks), False
        chunk = message.get("body", b"")
        chunks.append(chunk)
        size += len(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks), False
        if size > _MAX_BUFFERED_BODY:
            return b"".join(chunks), True


def _replay(body: bytes, more: bool, receive: Receive) -> Receive:
    sent = False

    async def replayed() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": more}
        return await receive()

    return replayed


def _nul_in_body(body: bytes, content_type: bytes) -> str | None:
    if content_type.startswith(b"application/json"):
        if _JSON_NUL not in body:
            return None
        try:
            return _nul_path(json.loads(body)) or None
        except ValueError:
            return None  # not JSON: the route's own parsing answers 422
    return _nul_in_query(body)


def _nul_path(value: Any, path: tuple[str, ...] = ()) -> str | None:
    """The dotted path of the first string (or key) holding a NUL, as validation errors name it."""
    if isinstance(value, str):
        return ".".join(path) or "body" if "\x00" in value else None
    items: list[tuple[str, Any]] = []
    if isinstance(value, dict):
        for key, item in value.items():
            if "\x00" in key:
                return ".".join((*path, key.replace("\x00", ""))) or "body"
            items.append((key, item))
    elif isinstance(value, list):
        items = [(str(i), item) for i, item in enumerate(value)]
    for key, item in items:
        if found := _nul_path(item, (*path, key)):
            return found
    return None


async def _reply(scope: Scope, receive: Receive, send: Send, error: InvalidInput | NotFound) -> None:
    response = JSONResponse(error_body(error.code, error.message, error.fields), error.status_code)
    await response(scope, receive, send)
