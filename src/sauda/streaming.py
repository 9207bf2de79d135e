"""Streamed files (sales exports, 1C snapshots) whose status line is sent only once the first
chunk is made: until then a failing query is an ordinary JSON error. A failure after that
propagates out of the body iterator and the server drops the connection without the chunked
encoding's last chunk, so the client sees a cut transfer, never a short file that looks whole."""

from collections.abc import AsyncIterable, AsyncIterator
from typing import Any

from starlette.responses import StreamingResponse
from starlette.types import Receive, Scope, Send


class StreamedFile(StreamingResponse):
    """A streamed file whose first chunk is made before the status line is sent."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        # Out here a failure still reaches the app's error handlers (the request's session has
        # committed already, so the stream never holds a second connection meanwhile).
        chunks = aiter(self.body_iterator)
        first = await anext(chunks, None)
        self.body_iterator = _prepend(first, chunks)
        await super().__call__(scope, receive, send)


async def _prepend(first: Any, rest: AsyncIterable[Any]) -> AsyncIterator[Any]:
    if first is not None:
        yield first
    async for chunk in rest:
        yield chunk
