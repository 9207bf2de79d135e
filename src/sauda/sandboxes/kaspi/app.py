"""A local stand-in for Kaspi.kz: the cabinet's login, OAuth chain, offers, pricefeed and the
public storefront offers, on one origin (`/idmc` = auth host, `/mc` = cabinet, `/shop` =
storefront), as KASPI.md describes them.

Faults and limits live in one `SandboxState`: tests flip them in process, demos through the
`/_sandbox/*` control endpoints. Run it with `sauda kaspi-sandbox --port 8300`.
"""

from collections.abc import Awaitable, Callable

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response

from sauda import clock
from sauda.sandboxes.kaspi import auth, cabinet, control, storefront
from sauda.sandboxes.kaspi.state import AUTH, BOT_WALL, CABINET, SHOP, Received, SandboxState, client_ip


def create_sandbox(state: SandboxState | None = None) -> FastAPI:
    app = FastAPI(title="Kaspi sandbox", description=__doc__)
    app.state.kaspi = state or SandboxState()
    app.middleware("http")(faults)
    for part in (auth.router, cabinet.router, storefront.router, control.router):
        app.include_router(part)
    return app


def _area(path: str) -> str | None:
    for prefix, area in ((AUTH, "auth"), (CABINET, "cabinet"), (SHOP, "storefront")):
        if path.startswith(prefix + "/") or path == prefix:
            return area
    return None


async def faults(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
    """Apply the uploads now due, count the request, play the faults switched on, and record
    every request with its answer (tests count what reached Kaspi, refused or not)."""
    state: SandboxState = request.app.state.kaspi
    state.apply_due()
    area = _area(request.url.path)
    if area is None:
        return await call_next(request)
    response = await _answer(state, area, request, call_next)
    state.received.append(
        Received(area, request.method, request.url.path, response.status_code, client_ip(request))
    )
    return response


async def _answer(
    state: SandboxState, area: str, request: Request, call_next: Callable[[Request], Awaitable[Response]]
) -> Response:
    state.requests[area] += 1
    # Limits count arrivals; the latency below stands for the network after that.
    request.state.arrived = clock.monotonic()
    if state.faults.delay_seconds and not await state.hold(state.faults.delay_seconds):
        return JSONResponse({"error": "the sandbox was reset"}, 503)
    state.answered[area] += 1
    pending = state.faults.fail_next.get(area)
    if pending:
        return JSONResponse({"error": "sandbox fault"}, pending.pop(0))
    if area in state.faults.bot_wall:
        return HTMLResponse(BOT_WALL, 403)
    if area in state.faults.html_instead_of_json and request.url.path != f"{AUTH}/login":
        return HTMLResponse(BOT_WALL, 200)
    return await call_next(request)
