"""The demper's settings, per offer and per store, and its status. Flushes, never commits."""

from sqlalchemy.ext.asyncio import AsyncSession

from sauda.errors import InvalidInput, NotFound
from sauda.kaspi.client.gateway import KaspiGateway
from sauda.kaspi.client.ratelimit import DemperLock
from sauda.kaspi.demper import repository
from sauda.kaspi.demper.schemas import BulkDemperIn, OfferDemperIn, StoreDemperIn, StoreDemperOut
from sauda.kaspi.models import KaspiOffer, KaspiStore
from sauda.kaspi.offers.repository import OfferRepository
from sauda.tenancy import Scope

_OFFER_FIELDS = {
    "floor": "demper_floor",
    "ceiling": "demper_ceiling",
    "step": "demper_step",
    "strategy": "demper_strategy",
    "position": "demper_position",
    "priority": "demper_priority",
    "enabled": "demper_enabled",
}


def apply_offer_settings(offer: KaspiOffer, data: OfferDemperIn) -> None:
    for name, value in data.model_dump(exclude_unset=True, include=set(_OFFER_FIELDS)).items():
        setattr(offer, _OFFER_FIELDS[name], value)
    floor, ceiling = offer.demper_floor, offer.demper_ceiling
    if floor is not None and ceiling is not None and floor > ceiling:
        raise InvalidInput.for_field("floor", f"offer {offer.id}: the floor is above the ceiling")
    if offer.demper_enabled and offer.demper_floor is None:
        raise InvalidInput.for_field("floor", f"offer {offer.id}: set a floor before enabling the demper")
    if data.enabled:
        offer.demper_next_at = None  # due at the next tick


async def update_offer_demper(session: AsyncSession, offer: KaspiOffer, data: OfferDemperIn) -> KaspiOffer:
    apply_offer_settings(offer, data)
    await session.flush()
    return offer


async def bulk_demper(session: AsyncSession, scope: Scope, data: BulkDemperIn) -> int:
    """Enable / disable (and optionally set) the demper of many offers at once, all or nothing."""
    ids = sorted(set(data.offer_ids))
    offers = await OfferRepository(session, scope).by_ids(ids)
    missing = sorted(set(ids) - {o.id for o in offers})
    if missing:
        raise NotFound(f"Kaspi offers not found: {', '.join(map(str, missing[:20]))}")
    settings = OfferDemperIn.model_validate(data.model_dump(exclude_unset=True, exclude={"offer_ids"}))
    for offer in offers:
        apply_offer_settings(offer, settings)
    await session.flush()
    return len(offers)


_STORE_FIELDS = {
    "interval_minutes": "demper_interval_minutes",
    "step": "demper_step",
    "hours_from": "demper_hours_from",
    "hours_to": "demper_hours_to",
    "excluded_merchants": "demper_excluded_merchants",
    "raise_when_alone": "demper_raise_when_alone",
    "dry_run": "demper_dry_run",
}


async def update_store_demper(session: AsyncSession, store: KaspiStore, data: StoreDemperIn) -> KaspiStore:
    for name, value in data.model_dump(exclude_unset=True).items():
        if name == "excluded_merchants":
            value = sorted({str(v).strip() for v in value if str(v).strip()})
        setattr(store, _STORE_FIELDS[name], value)
    if (store.demper_hours_from is None) != (store.demper_hours_to is None):
        raise InvalidInput.for_field("hours_to", "set both ends of the working hours, or neither")
    await session.flush()
    return store


async def store_demper_out(session: AsyncSession, gateway: KaspiGateway, store: KaspiStore) -> StoreDemperOut:
    running = await DemperLock(gateway.redis, store.id, 1).held()
    counts = await repository.demper_counts(session, store.id)
    return StoreDemperOut(
        store_id=store.id,
        interval_minutes=store.demper_interval_minutes,
        step=store.demper_step,
        hours_from=store.demper_hours_from,
        hours_to=store.demper_hours_to,
        excluded_merchants=list(store.demper_excluded_merchants or []),
        raise_when_alone=store.demper_raise_when_alone,
        dry_run=store.demper_dry_run,
        last_run_at=store.demper_last_run_at,
        last_result=store.demper_last_result,
        last_error=store.demper_last_error,
        locked_until=store.locked_until,
        store_status=store.status,
        running=running,
        **counts,
    )
