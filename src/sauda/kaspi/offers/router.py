"""Offer routes: the synced offers, re-reading one, price and availability pushes, competitors."""

from typing import Annotated

from fastapi import APIRouter, Path, Query, Response

from sauda.auth.deps import ScopeDep
from sauda.db import SessionDep
from sauda.deps import SettingsDep
from sauda.kaspi.client.errors import KASPI_ERRORS
from sauda.kaspi.deps import GatewayDep, ScopedOffer
from sauda.kaspi.models import OfferState
from sauda.kaspi.offers import service
from sauda.kaspi.offers.repository import OfferFilters, OfferRepository
from sauda.kaspi.offers.schemas import (
    BatchIn,
    BatchOfferOut,
    CompetitorOfferOut,
    CompetitorsOut,
    OfferBatchOut,
    OfferOrdering,
    OfferOut,
    PriceIn,
    PricePushOut,
)
from sauda.pagination import Page, PageDep, make_page
from sauda.types import Id, MoneyIn

router = APIRouter()


@router.get("/offers", response_model=Page[OfferOut])
async def list_offers(
    session: SessionDep,
    scope: ScopeDep,
    params: PageDep,
    store_id: Id | None = None,
    state: OfferState | None = None,
    search: Annotated[str | None, Query(max_length=100, description="title or SKU")] = None,
    master_sku: Annotated[str | None, Query(pattern=r"^\d{1,20}$")] = None,
    product_id: Id | None = None,
    linked: Annotated[bool | None, Query(description="linked to one of your products by SKU")] = None,
    min_price: MoneyIn | None = None,
    max_price: MoneyIn | None = None,
    ordering: OfferOrdering = OfferOrdering.title_asc,
) -> Page[OfferOut]:
    filters = OfferFilters(store_id, state, search, master_sku, product_id, linked, min_price, max_price)
    offers = OfferRepository(session, scope)
    rows, total = await offers.paginate(offers.filtered(filters, ordering), params)
    return make_page([OfferOut.model_validate(o) for o in rows], total, params)


@router.get("/offers/{offer_id}", response_model=OfferOut)
async def get_offer(offer: ScopedOffer) -> OfferOut:
    return OfferOut.model_validate(offer)


@router.post("/offers/{offer_id}/refresh", response_model=OfferOut, responses=KASPI_ERRORS)
async def refresh_offer(offer: ScopedOffer, session: SessionDep, gateway: GatewayDep) -> OfferOut:
    """Re-read this one offer from the cabinet now (no full sync), e.g. after a price push."""
    return OfferOut.model_validate(await service.refresh_offer(session, gateway, offer))


@router.post("/offers/{offer_id}/price", response_model=PricePushOut, status_code=202, responses=KASPI_ERRORS)
async def push_price(
    offer: ScopedOffer, data: PriceIn, session: SessionDep, gateway: GatewayDep
) -> PricePushOut:
    """Send a new price to Kaspi (whole tenge; optionally for one city). Kaspi applies it a
    little later; the next sync shows it in `price`. A change of more than
    `PRICE_CHANGE_CONFIRM_PERCENT` (30 %) from the current price needs `confirm: true` (422 without)."""
    upload = await service.push_price(session, gateway, offer, data.price, data.city_id, confirm=data.confirm)
    return PricePushOut(pricefeed_id=upload, offer=OfferOut.model_validate(offer))


@router.post("/offers/batch-enable", response_model=OfferBatchOut, status_code=202, responses=KASPI_ERRORS)
async def batch_enable(
    data: BatchIn, session: SessionDep, scope: ScopeDep, gateway: GatewayDep, response: Response
) -> OfferBatchOut:
    """Put offers on sale on every pickup point (batch pricefeed); the answer says per offer
    what was applied and what was not (see `OfferBatchOut`)."""
    result = await service.set_on_sale(session, gateway, scope, data.offer_ids, available=True)
    return _batch_out(result, available=True, response=response)


@router.post("/offers/batch-disable", response_model=OfferBatchOut, status_code=202, responses=KASPI_ERRORS)
async def batch_disable(
    data: BatchIn, session: SessionDep, scope: ScopeDep, gateway: GatewayDep, response: Response
) -> OfferBatchOut:
    """Take offers off sale (`available: no` on every pickup point); the answer says per offer
    what was applied and what was not (see `OfferBatchOut`)."""
    result = await service.set_on_sale(session, gateway, scope, data.offer_ids, available=False)
    return _batch_out(result, available=False, response=response)


def _batch_out(result: service.BatchResult, *, available: bool, response: Response) -> OfferBatchOut:
    applied = [BatchOfferOut(offer_id=i, status="applied", pricefeed_id=u) for i, u in result.applied.items()]
    refused = [
        BatchOfferOut(
            offer_id=i, status="not_applied", reason=n.reason, detail=n.detail, retry_after=n.retry_after
        )
        for i, n in result.not_applied.items()
    ]
    waits = [n.retry_after for n in result.not_applied.values() if n.retry_after]
    if waits:
        response.headers["Retry-After"] = str(max(waits))
    return OfferBatchOut(
        offers=len(applied) + len(refused),
        uploads=list(dict.fromkeys(u for u in result.applied.values() if u)),
        available=available,
        applied=len(applied),
        not_applied=len(refused),
        retry_after=max(waits) if waits else None,
        results=sorted(applied + refused, key=lambda r: r.offer_id),
    )


@router.get("/products/{master_sku}/offers", response_model=CompetitorsOut, responses=KASPI_ERRORS)
async def product_offers(
    master_sku: Annotated[str, Path(pattern=r"^\d{1,20}$", description="Kaspi catalogue card id")],
    session: SessionDep,
    scope: ScopeDep,
    settings: SettingsDep,
    gateway: GatewayDep,
    city_id: Annotated[str | None, Query(pattern=r"^\d{9}$")] = None,
    store_id: Id | None = None,
) -> CompetitorsOut:
    """Competitors: every other merchant's offer of the product in the city, cheapest first
    (your own stores left out)."""
    city = city_id or settings.kaspi.default_city_id
    offers, own = await service.competitors(session, gateway, scope, master_sku, city, store_id=store_id)
    items = [CompetitorOfferOut.model_validate(o, from_attributes=True) for o in offers]
    return CompetitorsOut(master_sku=master_sku, city_id=city, offers=items, own_excluded=own)
