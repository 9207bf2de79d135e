"""Business rules of Kaspi offers: re-read one, push a price, put offers on or off sale, and the
competitors' offers of a product. Flushes, never commits; cabinet calls go through the store's
session (`stores.service.with_cabinet`)."""

from decimal import ROUND_CEILING, Decimal

from sqlalchemy.ext.asyncio import AsyncSession

from sauda.clock import now
from sauda.errors import InvalidInput, NotFound
from sauda.kaspi.client.gateway import KaspiGateway
from sauda.kaspi.client.payloads import availability_item, is_on_sale, offer_row, price_item
from sauda.kaspi.client.storefront import PublicOffer
from sauda.kaspi.models import KaspiOffer, KaspiStore, OfferState
from sauda.kaspi.offers.repository import OfferRepository
from sauda.kaspi.stores.repository import StoreRepository
from sauda.kaspi.stores.service import batch_call, ensure_usable, with_cabinet
from sauda.tenancy import Scope


async def refresh_offer(session: AsyncSession, gateway: KaspiGateway, offer: KaspiOffer) -> KaspiOffer:
    """Re-read one offer from the cabinet (e.g. to see whether Kaspi applied a pushed price)."""
    store = await session.get_one(KaspiStore, offer.store_id)
    sku = offer.sku
    item = await with_cabinet(session, gateway, store, lambda cabinet: cabinet.offer(sku))
    if item is None:
        offer.state = OfferState.removed
    else:
        on_sale = is_on_sale(item)
        row = offer_row(item, store=store, on_sale=on_sale, product_id=offer.product_id, synced_at=now())
        for field, value in row.items():
            if field not in ("sku", "company_id", "store_id"):
                setattr(offer, field, value)
    await session.flush()
    return offer


# --- prices and availability ----------------------------------------------------------------------


def current_price(offer: KaspiOffer, city_id: str | None = None) -> Decimal | None:
    """The price Kaspi has as far as we know: a push it took after the last read of the offer
    (it applies pushes a little later, and the hourly sync may not have seen it yet), else what
    that read said, for the city when asked."""
    if offer.pushed_price is not None and offer.pushed_at is not None and offer.pushed_at > offer.synced_at:
        return offer.pushed_price
    if city_id and city_id in (offer.city_prices or {}):
        return Decimal(offer.city_prices[city_id])
    return offer.price


def check_price_change(current: Decimal | None, price: int, *, limit_percent: float) -> None:
    """A typo guard: a price more than `limit_percent` away from the current one is refused
    unless the caller confirms it (the demper is guarded by its floor and ceiling instead)."""
    if not current:
        return
    change = (Decimal(price) - current) / current * 100
    if abs(change) <= Decimal(str(limit_percent)):
        return
    shown = abs(change).to_integral_value(rounding=ROUND_CEILING)  # never understated
    way = "below" if change < 0 else "above"
    raise InvalidInput.for_field(
        "price",
        f"{_tenge(price)} is {shown} % {way} the current price {_tenge(current)}; "
        "send confirm=true if this is intended",
    )


def _tenge(amount: Decimal | int) -> str:
    return f"{int(amount):,}".replace(",", " ")  # 81 060, as merchants write it


async def push_price(
    session: AsyncSession,
    gateway: KaspiGateway,
    offer: KaspiOffer,
    price: int,
    city_id: str | None,
    *,
    confirm: bool = False,
) -> str:
    if not confirm:
        limit = gateway.kaspi.price_change_confirm_percent
        check_price_change(current_price(offer, city_id), price, limit_percent=limit)
    store = await session.get_one(KaspiStore, offer.store_id)
    ensure_usable(store)
    uid = store.merchant_uid or ""
    upload = await with_cabinet(
        session, gateway, store, lambda c: c.push(price_item(offer, uid, price, city_id))
    )
    offer.pushed_price, offer.pushed_at, offer.pricefeed_id = Decimal(price), now(), upload
    await session.flush()
    return upload


async def set_on_sale(
    session: AsyncSession, gateway: KaspiGateway, scope: Scope, offer_ids: list[int], *, available: bool
) -> list[str]:
    """Put offers on or off sale through the batch pricefeed, store by store, in chunks."""
    ids = sorted(set(offer_ids))
    offers = await OfferRepository(session, scope).by_ids(ids)
    missing = sorted(set(ids) - {o.id for o in offers})
    if missing:
        raise NotFound(f"Kaspi offers not found: {', '.join(map(str, missing[:20]))}")
    uploads: list[str] = []
    for store_id in sorted({o.store_id for o in offers}):
        store = await session.get_one(KaspiStore, store_id)
        ensure_usable(store)
        uid = store.merchant_uid or ""
        mine = [o for o in offers if o.store_id == store_id and o.state is not OfferState.removed]
        size = gateway.kaspi.batch_size
        for start in range(0, len(mine), size):
            chunk = mine[start : start + size]
            items = [availability_item(o, uid, available) for o in chunk]
            upload = await with_cabinet(session, gateway, store, batch_call(items))
            uploads.append(upload)
            for offer in chunk:
                offer.pushed_available, offer.pushed_at, offer.pricefeed_id = available, now(), upload
            await session.flush()
    return uploads


# --- competitors ----------------------------------------------------------------------------------


async def competitors(
    session: AsyncSession,
    gateway: KaspiGateway,
    scope: Scope,
    master_sku: str,
    city_id: str,
    *,
    store_id: int | None,
) -> tuple[list[PublicOffer], int]:
    """Everyone's offers of the product in the city, minus those of the caller's own stores."""
    stores = StoreRepository(session, scope)
    company_id = (await stores.get(store_id)).company_id if store_id is not None else None
    own = await stores.merchant_uids(company_id)
    offers = await gateway.storefront().offers(master_sku, city_id)
    others = [o for o in offers if o.merchant_id not in own]
    return others, len(offers) - len(others)
