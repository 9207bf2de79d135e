"""The public storefront (kaspi.kz): every merchant's offer of a product in a city, no login.

Kept to Kaspi's per-IP rate through `KaspiLimiter`. Any refusal — 403/405/429 or a bot wall,
whether answered 403 or 200 with a page — starts the one cool-down of that IP (proxy), which
every caller honours right before it sends: a request during Kaspi's ban would prolong it.
"""

from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from types import TracebackType
from typing import Any

import httpx

from sauda.config import KaspiSettings
from sauda.kaspi.client.errors import KaspiBlocked, KaspiError
from sauda.kaspi.client.http import call_with_retries, check_transient, json_body, new_http
from sauda.kaspi.client.ratelimit import KaspiLimiter

PAGE_LIMIT = 64  # Kaspi answers 400 above it
MAX_PAGES = 20


@dataclass(frozen=True)
class PublicOffer:
    merchant_id: str
    merchant_name: str
    price: Decimal
    merchant_rating: float | None
    merchant_reviews: int | None
    delivery: str | None
    kaspi_delivery: bool | None
    preorder: int | None


def _number(value: Any) -> Decimal | None:
    try:
        return Decimal(str(value)) if value is not None else None
    except InvalidOperation:
        return None


def parse_offer(raw: Any) -> PublicOffer | None:
    if not isinstance(raw, dict) or raw.get("merchantId") is None:
        return None
    price = _number(raw.get("price"))
    if price is None:
        return None
    rating = _number(raw.get("merchantRating"))
    reviews = raw.get("merchantReviewsQuantity")
    preorder = raw.get("preorder")
    return PublicOffer(
        merchant_id=str(raw["merchantId"]),
        merchant_name=str(raw.get("merchantName") or ""),
        price=price,
        merchant_rating=float(rating) if rating is not None else None,
        merchant_reviews=reviews if isinstance(reviews, int) else None,
        delivery=str(raw["deliveryDuration"]) if raw.get("deliveryDuration") else None,
        kaspi_delivery=raw.get("kaspiDelivery") if isinstance(raw.get("kaspiDelivery"), bool) else None,
        preorder=preorder if isinstance(preorder, int) else None,
    )


class StorefrontClient:
    def __init__(
        self,
        settings: KaspiSettings,
        *,
        limiter: KaspiLimiter,
        proxy: str | None = None,
        ip_key: str | None = None,
    ) -> None:
        self.settings = settings
        self.base = settings.storefront_url.rstrip("/")
        self.limiter = limiter
        self.proxy = proxy or settings.proxy_url
        # The limiter's key of the outgoing IP; a proxy pool passes the proxy's id, so its
        # credentials never land in a Redis key.
        self.ip_key = ip_key or self.proxy or "direct"
        self._http: httpx.AsyncClient | None = None

    async def __aenter__(self) -> "StorefrontClient":
        """Optional: keep one connection (through the proxy) for many lookups."""
        self._http = new_http(self.settings, proxy=self.proxy)
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._http is not None:
            await self._http.aclose()
            self._http = None

    async def offers(self, master_sku: str, city_id: str) -> list[PublicOffer]:
        """Every offer of the product in the city, cheapest first, all pages."""
        if self._http is not None:
            return await self._offers(self._http, master_sku, city_id)
        async with new_http(self.settings, proxy=self.proxy) as http:
            return await self._offers(http, master_sku, city_id)

    async def _offers(self, http: Any, master_sku: str, city_id: str) -> list[PublicOffer]:
        found: list[PublicOffer] = []
        for page in range(MAX_PAGES):
            raw, total = await self._page(http, master_sku, city_id, page)
            found.extend(o for o in map(parse_offer, raw) if o is not None)
            if len(raw) < PAGE_LIMIT or (page + 1) * PAGE_LIMIT >= total:
                break
        return sorted(found, key=lambda o: o.price)

    async def _page(self, http: Any, master_sku: str, city_id: str, page: int) -> tuple[list[Any], int]:
        body = {"cityId": city_id, "id": master_sku, "limit": PAGE_LIMIT, "page": page, "sortOption": "PRICE"}
        headers = {
            "Content-Type": "application/json; charset=UTF-8",
            "X-KS-City": city_id,
            "Referer": f"{self.base}/shop/p/-{master_sku}/?c={city_id}",
        }
        url = f"{self.base}/yml/offer-view/offers/{master_sku}"

        async def send() -> Any:
            await self.limiter.storefront_slot(self.ip_key)
            response = await http.post(url, json=body, headers=headers)
            check_transient(response, "competitor offers")
            return response

        try:
            response = await call_with_retries(self.settings, send, "competitor offers")
            data = _data(response)
        except KaspiBlocked as exc:
            seconds = await self.limiter.cool_down_storefront(self.ip_key)
            raise KaspiBlocked(f"{exc.message}; this IP cools down {seconds} s", retry_after=seconds) from exc
        offers = data.get("offers") if isinstance(data.get("offers"), list) else []
        total = data.get("total") if isinstance(data.get("total"), int) else len(offers or [])
        return list(offers or []), int(total or 0)


def _data(response: httpx.Response) -> dict[str, Any]:
    if response.status_code in (403, 405, 429):
        raise KaspiBlocked(f"Kaspi's storefront refused this IP ({response.status_code})")
    if response.status_code >= 400:
        raise KaspiError(f"Kaspi competitor offers: unexpected answer {response.status_code}")
    data = json_body(response, "competitor offers")  # a page instead of data: a bot wall
    if not isinstance(data, dict):
        raise KaspiBlocked("Kaspi competitor offers: unexpected answer")
    return data
