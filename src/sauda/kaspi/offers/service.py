"""Business rules of Kaspi offers: re-read one, push a price, put offers on or off sale, and the
competitors' offers of a product. Flushes, never commits; cabinet calls go through the store's
session (`stores.service.with_cabinet`)."""

from dataclasses import dataclass, field
from decimal import ROUND_CEILING, Decimal

from sqlalchemy.ext.asyncio import AsyncSession

from sauda.clock import now
from sauda.errors import InvalidInput, NotFound
from sauda.kaspi.client.errors import KaspiError
from sauda.kaspi.client.gateway import KaspiGateway
from sauda.kaspi.client.payloads import availability_item, is_on_sale, offer_row, price_item
from sauda.kaspi.client.storefront import PublicOffer
from sauda.kaspi.models import KaspiOffer, KaspiStore, OfferState
from sauda.kaspi.offers.repository import OfferRepository
from sauda.kaspi.proxies.pool import ProxyPool, pool_for
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


@dataclass(frozen=True)
class NotApplied:
    reason: str  # the error's code (kaspi_rate_limited, kaspi_store_locked, ...) or offer_removed
    detail: str
    retry_after: int | None


@dataclass
class BatchResult:
    """A batch's answer per offer: applied (Kaspi took the upload; None = it gave no id) or not."""

    applied: dict[int, str | None] = field(default_factory=dict)
    not_applied: dict[int, NotApplied] = field(default_factory=dict)
    first_error: KaspiError | None = None

    def refuse(self, offers: list[KaspiOffer], error: KaspiError) -> None:
        self.first_error = self.first_error or error
        why = NotApplied(error.code, error.message, getattr(error, "retry_after", None))
        self.not_applied.update(dict.fromkeys((o.id for o in offers), why))


async def set_on_sale(
    session: AsyncSession, gateway: KaspiGateway, scope: Scope, offer_ids: list[int], *, available: bool
) -> BatchResult:
    """Put offers on or off sale through the batch pricefeed, store by store, in chunks.

    Each store's change budget is checked before anything is sent: what fits is sent, the rest
    (and whatever meets a lock or a failure on the way) is answered per offer as not applied,
    with the reason and when to retry — a merchant always knows which offers changed. When
    nothing was applied the first refusal is the answer itself (429 / 409 / ...)."""
    ids = sorted(set(offer_ids))
    offers = await OfferRepository(session, scope).by_ids(ids)
    missing = sorted(set(ids) - {o.id for o in offers})
    if missing:
        raise NotFound(f"Kaspi offers not found: {', '.join(map(str, missing[:20]))}")
    result = BatchResult()
    for store_id in sorted({o.store_id for o in offers}):
        store = await session.get_one(KaspiStore, store_id)
        mine = sorted((o for o in offers if o.store_id == store_id), key=lambda o: o.id)
        await _store_on_sale(session, gateway, store, mine, available=available, result=result)
    if not result.applied and result.first_error is not None:
        raise result.first_error
    return result


async def _store_on_sale(
    session: AsyncSession,
    gateway: KaspiGateway,
    store: KaspiStore,
    offers: list[KaspiOffer],
    *,
    available: bool,
    result: BatchResult,
) -> None:
    gone = NotApplied("offer_removed", "The offer is no longer in the Kaspi cabinet", None)
    result.not_applied.update({o.id: gone for o in offers if o.state is OfferState.removed})
    todo = [o for o in offers if o.state is not OfferState.removed]
    limiter, uid = gateway.limiter, store.merchant_uid or ""
    try:
        ensure_usable(store)
        await limiter.ensure_unlocked(uid)
        fits = await limiter.changes_left(uid)
    except KaspiError as exc:
        result.refuse(todo, exc)
        return
    sending, over = todo[:fits], todo[fits:]
    size = gateway.kaspi.batch_size
    for start in range(0, len(sending), size):
        chunk = sending[start : start + size]
        items = [availability_item(o, uid, available) for o in chunk]
        try:
            upload = await with_cabinet(session, gateway, store, batch_call(items))
        except KaspiError as exc:  # a lock, an expired session, Kaspi down: the rest waits
            result.refuse(sending[start:], exc)
            break
        for offer in chunk:
            offer.pushed_available, offer.pushed_at, offer.pricefeed_id = available, now(), upload
            result.applied[offer.id] = upload
        await session.flush()
    if over:
        result.refuse(over, limiter.over_budget(await limiter.changes_wait(uid, len(over))))


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
    """Everyone's offers of the product in the city, minus those of the caller's own stores.
    Looked up through the company's proxies like the demper's lookups, on an IP not cooling down."""
    stores = StoreRepository(session, scope)
    company_id = (await stores.get(store_id)).company_id if store_id is not None else None
    own = await stores.merchant_uids(company_id)
    if company_id is None and scope.company_ids is not None and len(scope.company_ids) == 1:
        [company_id] = scope.company_ids
    pool = (
        await pool_for(session, gateway.redis, gateway.kaspi, company_id, gateway.decrypt)
        if company_id is not None
        else ProxyPool.direct(gateway.redis, gateway.kaspi)
    )
    offers = await pool.through_free_route(
        lambda route: gateway.storefront(proxy=route.url, ip_key=route.key).offers(master_sku, city_id)
    )
    others = [o for o in offers if o.merchant_id not in own]
    return others, len(offers) - len(others)
