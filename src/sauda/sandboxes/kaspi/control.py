"""The sandbox's control endpoints (`/_sandbox/*`, shown at `/docs`): what a demo switches on
(faults, limits, scripted competitors, expired sessions) and what it can look at."""

from typing import Any

from fastapi import APIRouter

from sauda.sandboxes.kaspi.merchants import competitor
from sauda.sandboxes.kaspi.state import StateDep

router = APIRouter(prefix="/_sandbox", tags=["control"])


@router.get("/state")
async def show_state(state: StateDep) -> dict[str, Any]:
    """Merchants (log in with their email or phone), codes sent, logins, uploads, locks."""
    return state.summary()


@router.get("/codes")
async def show_codes(state: StateDep) -> dict[str, str]:
    """The last code sent to each email / phone (what the merchant would receive)."""
    return state.codes


@router.post("/faults")
async def set_faults(values: dict[str, Any], state: StateDep) -> dict[str, Any]:
    """Switch faults on/off, e.g. `{"code_required": true}`, `{"bot_wall": ["storefront"]}`,
    `{"delay_seconds": 30}`, `{"fail_next": {"cabinet": [500, 502]}}`,
    `{"storefront_ban_page": true}` (a banned IP gets the HTML bot wall),
    `{"batch_without_id": true}` (the batch pricefeed answers 200 without an `id`)."""
    for key, value in values.items():
        if not hasattr(state.faults, key):
            return {"error": f"unknown fault {key}"}
        current = getattr(state.faults, key)
        setattr(state.faults, key, set(value) if isinstance(current, set) else value)
    return {"faults": {k: sorted(v) if isinstance(v, set) else v for k, v in vars(state.faults).items()}}


@router.post("/expire-sessions")
async def expire(state: StateDep) -> dict[str, str]:
    """Every cabinet session ends: the next call answers 401."""
    state.expire_sessions()
    return {"status": "expired"}


@router.put("/competitors/{master_sku}")
async def set_competitors(master_sku: str, offers: list[dict[str, Any]], state: StateDep) -> dict[str, Any]:
    """Script the competitors of a product: `[{"merchantId": "M1", "price": 990}]`."""
    state.competitors[master_sku] = [
        competitor(o["merchantId"], o.get("merchantName", ""), int(o["price"])) | o for o in offers
    ]
    return {"master_sku": master_sku, "offers": len(offers)}


@router.post("/limits")
async def set_limits(values: dict[str, float], state: StateDep) -> dict[str, Any]:
    """Change Kaspi's limits, e.g. `{"storefront_per_second": 10, "pricefeed_per_second": 2}`,
    `{"changes_per_window": 250, "changes_window_seconds": 1800}`, `{"flood_break_seconds": 122}`."""
    for key, value in values.items():
        if not hasattr(state.limits, key):
            return {"error": f"unknown limit {key}"}
        setattr(state.limits, key, type(getattr(state.limits, key))(value))
    return {"limits": vars(state.limits)}


@router.get("/stats")
async def stats(state: StateDep) -> dict[str, Any]:
    """Requests, refusals (403/429 answered) and storefront lookups per client IP."""
    return {
        "requests": dict(state.requests),
        "refused": dict(state.refused),
        "received": len(state.received),
        "storefront_by_ip": dict(state.storefront_by_ip),
        "pricefeed_uploads": len(state.pricefeed),
        "pricefeed_items": sum(len(u["items"]) for u in state.pricefeed),
    }


@router.post("/reset")
async def reset(state: StateDep) -> dict[str, str]:
    """Back to the seeded data, no faults, no sessions."""
    state.reset()
    return {"status": "reset"}
