"""Requests and answers of Kaspi offers: an offer, price and availability pushes, competitors."""

from datetime import datetime
from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from sauda.kaspi.models import DemperStrategy, OfferState
from sauda.money import Money
from sauda.types import Id


class OfferOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    company_id: int
    store_id: int
    product_id: int | None
    sku: str
    master_sku: str | None
    title: str
    brand: str | None
    state: OfferState
    price: Money | None
    min_price: Money | None
    max_price: Money | None
    city_prices: dict[str, Any]
    availabilities: list[dict[str, Any]]
    shop_link: str | None
    image_url: str | None
    kaspi_updated_at: datetime | None
    synced_at: datetime
    pushed_price: Money | None
    pushed_available: bool | None
    pushed_at: datetime | None
    pricefeed_id: str | None
    demper_enabled: bool = False
    demper_floor: int | None = None
    demper_ceiling: int | None = None
    demper_step: int | None = None
    demper_strategy: DemperStrategy = DemperStrategy.undercut
    demper_position: int = 1
    demper_priority: bool = False
    demper_next_at: datetime | None = None
    demper_checked_at: datetime | None = None


class OfferOrdering(StrEnum):
    title_asc = "title"
    title_desc = "-title"
    price = "price"
    price_desc = "-price"
    synced_at = "synced_at"
    synced_at_desc = "-synced_at"


class PriceIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    price: int = Field(gt=0, le=100_000_000, description="whole tenge")
    city_id: str | None = Field(default=None, pattern=r"^\d{9}$", description="set the price for one city")
    confirm: bool = Field(
        default=False,
        description="required for a change beyond SAUDA_KASPI__PRICE_CHANGE_CONFIRM_PERCENT (default 30 %) "
        "of the current price: a guard against typos",
    )


class PricePushOut(BaseModel):
    pricefeed_id: str = Field(description="Kaspi's upload id; Kaspi applies the change a little later")
    offer: OfferOut


class BatchIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    offer_ids: list[Id] = Field(min_length=1, max_length=2000)


class BatchOfferOut(BaseModel):
    offer_id: int
    status: Literal["applied", "not_applied"] = Field(
        description="applied: Kaspi took the upload (it shows a little later, after the next sync); "
        "not_applied: nothing was sent for this offer"
    )
    pricefeed_id: str | None = Field(default=None, description="Kaspi's upload id, if it gave one")
    reason: str | None = Field(
        default=None,
        description="why not: kaspi_rate_limited (the change budget), kaspi_store_locked, "
        "kaspi_needs_login, kaspi_unavailable (no answer: the next sync shows whether Kaspi took "
        "it), ... or offer_removed",
    )
    detail: str | None = None
    retry_after: int | None = Field(default=None, description="seconds until it may be sent again")


class OfferBatchOut(BaseModel):
    """A batch's answer per offer. Each store's change budget (250 per rolling 30 minutes) is
    checked before anything is sent; what does not fit, or meets a lock or a failure on the way,
    is `not_applied` with the reason and `retry_after` — send those ids again then. When nothing
    at all was applied the route answers the error instead (429 with Retry-After, 409, ...)."""

    offers: int = Field(description="offers asked for")
    uploads: list[str] = Field(description="Kaspi's upload ids (a batch Kaspi took without an id has none)")
    available: bool
    applied: int
    not_applied: int
    retry_after: int | None = Field(
        description="when every offer not applied may be sent again (also the Retry-After header)"
    )
    results: list[BatchOfferOut] = Field(description="one per offer, by offer id")


class CompetitorOfferOut(BaseModel):
    merchant_id: str
    merchant_name: str
    price: Money
    merchant_rating: float | None
    merchant_reviews: int | None
    delivery: str | None
    kaspi_delivery: bool | None
    preorder: int | None


class CompetitorsOut(BaseModel):
    master_sku: str
    city_id: str
    offers: list[CompetitorOfferOut] = Field(description="other merchants' offers, cheapest first")
    own_excluded: int = Field(description="offers of your own stores left out")
