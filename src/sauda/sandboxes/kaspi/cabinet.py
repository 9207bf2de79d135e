"""The merchant cabinet (mc.shop.kaspi.kz): the OAuth2 code flow that opens a session, the
session probe, offers, and the pricefeed uploads Kaspi applies a little later (KASPI.md): more
than the rate or the rolling change budget earns a 429 and the lock, and every request during
the lock starts it again."""

import copy
import secrets

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response

from sauda.sandboxes.kaspi.merchants import SandboxMerchant
from sauda.sandboxes.kaspi.state import AUTH, CABINET, SandboxState, StateDep

router = APIRouter(prefix=CABINET, include_in_schema=False)


def _session_uid(state: SandboxState, request: Request) -> str | None:
    return state.sessions.get(request.cookies.get("mc-session", ""))


def _merchant(state: SandboxState, request: Request) -> SandboxMerchant | Response:
    """The session's merchant, or the 401/403 the cabinet answers."""
    uid = _session_uid(state, request)
    if uid is None:
        return JSONResponse({"error": "unauthorized"}, 401)
    requested = request.query_params.get("m")
    if requested is not None and requested != uid:
        return JSONResponse({"error": "forbidden"}, 403)
    return state.merchants[uid]


# --- session ----------------------------------------------------------------------------------------


@router.get("/oauth2/authorization/1")
async def start_oauth(request: Request) -> Response:
    oauth_state = secrets.token_urlsafe(8)
    back = f"{str(request.base_url).rstrip('/')}{CABINET}/login/oauth2/code/1"
    response = RedirectResponse(
        f"{AUTH}/oauth2/authorize?response_type=code&client_id=mc&state={oauth_state}&redirect_uri={back}",
        302,
    )
    response.set_cookie("mc-oauth-state", oauth_state, path="/", httponly=True)
    return response


@router.get("/login/oauth2/code/1")
async def finish_oauth(request: Request, state: StateDep, code: str = "") -> Response:
    if request.query_params.get("state") != request.cookies.get("mc-oauth-state"):
        return JSONResponse({"error": "state mismatch"}, 400)
    uid = state.oauth_codes.pop(code, None)
    if uid is None:
        return JSONResponse({"error": "invalid code"}, 400)
    token = secrets.token_urlsafe(24)
    state.sessions[token] = uid
    state.logins[uid] += 1
    response = RedirectResponse(f"{CABINET}/", 302)
    response.set_cookie("mc-session", token, path="/", httponly=True)
    response.set_cookie("mc-sid", secrets.token_hex(8), path="/", httponly=True)
    response.delete_cookie("mc-oauth-state", path="/")
    return response


@router.get("/", response_class=HTMLResponse)
async def cabinet_home(request: Request, state: StateDep) -> Response:
    uid = _session_uid(state, request)
    if uid is None:
        return RedirectResponse(f"{AUTH}/login", 302)
    name = state.merchants[uid].name
    return HTMLResponse(f"<html><body><nav class='navbar'>{name}</nav><h1>Кабинет</h1></body></html>")


@router.get("/s/m")
async def merchants(request: Request, state: StateDep) -> Response:
    merchant = _merchant(state, request)
    if isinstance(merchant, Response):
        return merchant
    return JSONResponse({"merchants": [{"uid": merchant.uid, "name": merchant.name}]})


# --- offers -----------------------------------------------------------------------------------------


@router.get("/bff/offer-view/list")
async def offer_list(
    request: Request,
    state: StateDep,
    p: int = 0,
    l: int = 10,  # noqa: E741
    a: str = "true",
    t: str = "",
) -> Response:
    merchant = _merchant(state, request)
    if isinstance(merchant, Response):
        return merchant
    if l > 100 or l < 1 or p < 0:
        return JSONResponse({"error": "bad paging"}, 400)
    on_sale = a.lower() == "true"
    offers = [o for o in merchant.offers.values() if o.on_sale is on_sale]
    if t:
        offers = [o for o in offers if t.lower() in o.title.lower() or t in o.sku]
    page = offers[p * l : (p + 1) * l]
    return JSONResponse({"data": [o.as_cabinet(merchant.uid) for o in page], "total": len(offers)})


@router.get("/bff/offer-view/details")
async def offer_details(request: Request, state: StateDep, s: str = "") -> Response:
    merchant = _merchant(state, request)
    if isinstance(merchant, Response):
        return merchant
    offer = merchant.offers.get(s)
    if offer is None:
        return JSONResponse({"error": "not found"}, 404)
    return JSONResponse(offer.as_cabinet(merchant.uid))


@router.get("/offers/api/v1/offer/count")
async def offer_count(request: Request, state: StateDep) -> Response:
    merchant = _merchant(state, request)
    if isinstance(merchant, Response):
        return merchant
    on_sale = sum(o.on_sale for o in merchant.offers.values())
    return JSONResponse({"published": on_sale, "archived": len(merchant.offers) - on_sale})


# --- pricefeed --------------------------------------------------------------------------------------


async def _pricefeed(state: SandboxState, request: Request, *, batch: bool) -> Response:
    merchant = _merchant(state, request)
    if isinstance(merchant, Response):
        return merchant
    if state.pricefeed_refused(merchant.uid):
        return JSONResponse({"error": "Too many requests"}, 429)
    try:
        body = await request.json()
    except ValueError:
        return JSONResponse({"error": "bad json"}, 400)
    items = body if batch else [body]
    if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
        return JSONResponse({"error": "bad payload"}, 400)
    if any(str(i.get("merchantUid")) != merchant.uid for i in items):
        return JSONResponse({"error": "merchantUid mismatch"}, 403)
    if state.changes_refused(merchant.uid, len(items)):
        return JSONResponse({"error": "Too many requests"}, 429)
    upload = secrets.token_hex(12)
    state.pricefeed.append({"id": upload, "uid": merchant.uid, "items": copy.deepcopy(items)})
    state.apply_later(merchant.uid, items)
    if batch and state.faults.batch_without_id:
        return JSONResponse({})
    return JSONResponse({"id": upload})


@router.post("/pricefeed/upload/merchant/process")
async def pricefeed_single(request: Request, state: StateDep) -> Response:
    return await _pricefeed(state, request, batch=False)


@router.post("/pricefeed/upload/merchant/process/process/batch")
async def pricefeed_batch(request: Request, state: StateDep) -> Response:
    return await _pricefeed(state, request, batch=True)
