"""The public storefront (kaspi.kz): every merchant's offer of a product in a city, POST only,
refused (403, or the HTML bot wall) for a while to an IP that asks too often, and longer to one
that keeps asking while refused (KASPI.md "Competitors")."""

import json

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response

from sauda.sandboxes.kaspi.state import BOT_WALL, SHOP, StateDep, client_ip

router = APIRouter(prefix=SHOP, include_in_schema=False)


@router.api_route("/yml/offer-view/offers/{master_sku}", methods=["GET", "POST"])
async def public_offers(request: Request, state: StateDep, master_sku: str) -> Response:
    if request.method != "POST":
        return JSONResponse({"error": "Method Not Allowed"}, 405)
    ip = client_ip(request)
    if state.storefront_refused(ip, getattr(request.state, "arrived", None)):
        if state.faults.storefront_ban_page:
            return HTMLResponse(BOT_WALL, 403)
        return JSONResponse({"error": "Forbidden"}, 403)
    try:
        body = json.loads(await request.body())
        limit, page = int(body.get("limit", 64)), int(body.get("page", 0))
    except (ValueError, TypeError, AttributeError):
        return JSONResponse({"error": "bad request"}, 400)
    if limit > 64 or limit < 1:
        return JSONResponse({"error": "limit"}, 400)
    state.storefront_by_ip[ip] += 1
    offers = state.public_offers(master_sku, str(body.get("cityId", "")))
    chunk = offers[page * limit : (page + 1) * limit]
    return JSONResponse({"offers": chunk, "total": len(offers), "offersCount": len(offers)})
