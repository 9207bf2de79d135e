"""What goes to and comes from the cabinet as JSON: a cabinet offer read as a `kaspi_offers` row
(tolerant of missing and unknown fields), and the pricefeed items we send back (KASPI.md).

Pure functions of their arguments: no I/O, no clock."""

from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from sauda.kaspi.models import KaspiOffer, KaspiPreorder, KaspiStore, OfferState

_AVAILABILITY_KEYS = ("storeId", "available", "preOrder", "stockCount", "stockSpecified")


# --- reading cabinet offers -----------------------------------------------------------------------


def _money(value: Any) -> Decimal | None:
    if isinstance(value, bool) or value is None:
        return None
    try:
        amount = Decimal(str(value))
    except InvalidOperation:
        return None
    return amount if amount.is_finite() and amount >= 0 else None


def _when(value: Any) -> datetime | None:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return datetime.fromtimestamp(value / 1000 if value > 1e11 else value, UTC)
    if isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return None
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    return None


def _city_prices(raw: Any) -> dict[str, Any]:
    if not isinstance(raw, dict):
        return {}
    prices = {}
    for city, value in raw.items():
        price = _money(value.get("price") if isinstance(value, dict) else value)
        if price is not None:
            prices[str(city)] = int(price)
    return prices


def offer_row(
    item: dict[str, Any], *, store: KaspiStore, on_sale: bool, product_id: int | None, synced_at: datetime
) -> dict[str, Any]:
    """One cabinet offer as a `kaspi_offers` row, tolerant of missing and unknown fields."""
    city_prices = _city_prices(item.get("allCityPrices"))
    price = _money(item.get("price"))
    if not price:  # 0 when per-city prices are used
        price = _money(item.get("minPrice")) or (
            min(map(Decimal, city_prices.values())) if city_prices else None
        )
    images = item.get("images") if isinstance(item.get("images"), list) else []
    availabilities = [
        {k: a[k] for k in _AVAILABILITY_KEYS if k in a}
        for a in item.get("availabilities") or []
        if isinstance(a, dict) and a.get("storeId")
    ]
    return {
        "company_id": store.company_id,
        "store_id": store.id,
        "product_id": product_id,
        "sku": str(item["sku"])[:128],
        "master_sku": str(item["masterSku"])[:64] if item.get("masterSku") else None,
        "title": str(item.get("title") or item.get("masterTitle") or "")[:500],
        "brand": str(item["brand"])[:200] if item.get("brand") else None,
        "state": OfferState.on_sale if on_sale else OfferState.archived,
        "price": price,
        "min_price": _money(item.get("minPrice")),
        "max_price": _money(item.get("maxPrice")),
        "city_prices": city_prices,
        "availabilities": availabilities,
        "shop_link": str(item["shopLink"])[:500] if item.get("shopLink") else None,
        "image_url": str(images[0])[:500] if images and isinstance(images[0], str) else None,
        "kaspi_updated_at": _when(item.get("updatedAt")),
        "synced_at": synced_at,
    }


def is_on_sale(item: dict[str, Any]) -> bool:
    """Whether a cabinet offer (`/bff/offer-view/details`) is on sale on any pickup point."""
    return bool(item.get("available")) or any(
        isinstance(a, dict) and a.get("available") == "yes" for a in item.get("availabilities") or []
    )


# --- pricefeed items ------------------------------------------------------------------------------


def points(offer: KaspiOffer, uid: str) -> list[dict[str, Any]]:
    """The offer's pickup points as synced; none known: the merchant's first point."""
    return offer.availabilities or [{"storeId": f"{uid}_PP1", "available": "yes", "preOrder": 0}]


def availability(point: dict[str, Any], available: str | None = None) -> dict[str, Any]:
    """What is sent back for a pickup point: stock only where Kaspi tracks it (see KASPI.md)."""
    sent = {"storeId": point["storeId"], "available": available or point.get("available", "yes")}
    sent["preOrder"] = point.get("preOrder", 0) or 0
    if point.get("stockSpecified") and "stockCount" in point:
        sent["stockCount"] = point["stockCount"]
    return sent


def price_item(offer: KaspiOffer, uid: str, price: int, city_id: str | None) -> dict[str, Any]:
    item: dict[str, Any] = {"merchantUid": uid, "sku": offer.sku, "model": offer.title, "price": price}
    if city_id:
        item["cityPrices"] = [{"cityId": city_id, "value": price}]
    item["availabilities"] = [availability(p) for p in points(offer, uid)]
    return item


def availability_item(offer: KaspiOffer, uid: str, available: bool) -> dict[str, Any]:
    flag = "yes" if available else "no"
    item: dict[str, Any] = {"merchantUid": uid, "sku": offer.sku, "model": offer.title}
    if offer.price:
        item["price"] = int(offer.price)
    item["availabilities"] = [availability(p, flag) for p in points(offer, uid)]
    return item


def preorder_item(offer: KaspiOffer, uid: str, preorder: KaspiPreorder) -> dict[str, Any]:
    """The pricefeed item: the offer's points as they are, `preOrder` set on the chosen ones."""
    item: dict[str, Any] = {"merchantUid": uid, "sku": offer.sku, "model": offer.title}
    if offer.price:
        item["price"] = int(offer.pushed_price or offer.price)
    sent_points = []
    for point in points(offer, uid):
        sent = availability(point)
        name = str(point["storeId"]).rsplit("_", 1)[-1]
        if not preorder.points or name in preorder.points:
            sent["preOrder"] = preorder.days
        sent_points.append(sent)
    item["availabilities"] = sent_points
    return item
