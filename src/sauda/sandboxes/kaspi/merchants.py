"""The sandbox's data: merchants with their offers, and the competitors' offers the storefront
shows (in Kaspi's public JSON shape)."""

from dataclasses import dataclass, field
from typing import Any

from sauda import clock


@dataclass
class SandboxOffer:
    sku: str
    master_sku: str
    title: str
    brand: str
    price: int
    city_prices: dict[str, int] = field(default_factory=dict)
    # "PP1" -> {"available": "yes"|"no", "preOrder": int, "stockCount": int, "stockSpecified": bool}
    points: dict[str, dict[str, Any]] = field(default_factory=dict)
    updated_at: str = field(default_factory=lambda: clock.now().isoformat())

    @property
    def on_sale(self) -> bool:
        return any(p.get("available") == "yes" for p in self.points.values())

    def as_cabinet(self, uid: str) -> dict[str, Any]:
        prices = [*self.city_prices.values()] or [self.price]
        return {
            "sku": self.sku,
            "masterSku": self.master_sku,
            "offerId": f"{uid}-{self.sku}",
            "title": self.title,
            "masterTitle": self.title,
            "brand": self.brand,
            "price": 0 if self.city_prices else self.price,
            "minPrice": min(prices),
            "maxPrice": max(prices),
            "allCityPrices": {city: {"price": p} for city, p in self.city_prices.items()},
            "availabilities": [{"storeId": f"{uid}_{pp}", **v} for pp, v in self.points.items()],
            "available": self.on_sale,
            "shopLink": f"/shop/p/-{self.master_sku}/",
            "images": [f"https://resources.kaspi.kz/img/{self.master_sku}.jpg"],
            "updatedAt": self.updated_at,
        }


@dataclass
class SandboxMerchant:
    uid: str
    name: str
    email: str
    password: str
    phone: str
    offers: dict[str, SandboxOffer] = field(default_factory=dict)
    rating: float = 4.8


def competitor(merchant_id: str, name: str, price: int, **extra: Any) -> dict[str, Any]:
    return {
        "merchantId": merchant_id,
        "merchantName": name,
        "price": price,
        "merchantRating": 4.5,
        "merchantReviewsQuantity": 120,
        "deliveryDuration": "TOMORROW",
        "kaspiDelivery": True,
        "preorder": 0,
    } | extra
