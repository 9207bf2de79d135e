"""An ASGI app served over real HTTP by uvicorn, in the test's own event loop, for clients that
cannot use an in-process transport (Chromium, proxies, a second HTTP client library)."""

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator
from typing import Literal

import uvicorn
from starlette.types import ASGIApp


class _Server(uvicorn.Server):
    """uvicorn's server with an event for "listening", instead of polling `started`."""

    def __init__(self, config: uvicorn.Config) -> None:
        super().__init__(config)
        self.ready = asyncio.Event()

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)
        self.ready.set()

    async def run_here(self) -> None:
        """`serve()`, with uvicorn's startup failure (a `sys.exit`) turned into an error: a
        SystemExit would stop the test session's event loop."""
        try:
            await self.serve()
        except SystemExit as exc:
            raise RuntimeError(f"uvicorn did not start (exit status {exc.code})") from None


@contextlib.asynccontextmanager
async def serve(app: ASGIApp, *, lifespan: Literal["on", "off"] = "off") -> AsyncIterator[str]:
    """Serve `app` on a free 127.0.0.1 port until the block ends; yields its base URL.
    `lifespan="on"` runs the app's startup and shutdown, as a deployment does."""
    config = uvicorn.Config(app, host="127.0.0.1", port=0, log_config=None, lifespan=lifespan)
    server = _Server(config)
    task = asyncio.create_task(server.run_here())
    ready = asyncio.create_task(server.ready.wait())
    await asyncio.wait({task, ready}, return_when=asyncio.FIRST_COMPLETED)
    if not server.started:
        ready.cancel()
        await task  # raises why it stopped
        raise RuntimeError("uvicorn stopped before it started")
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task
