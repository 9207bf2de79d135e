"""The demper's routes: a store's settings, status and manual run; an offer's settings and history."""

from fastapi import APIRouter

from sauda.auth.deps import CurrentUser, ScopeDep
from sauda.db import SessionDep
from sauda.kaspi.demper import repository, service
from sauda.kaspi.demper.schemas import (
    BulkDemperIn,
    BulkDemperOut,
    OfferDemperIn,
    PriceHistoryOut,
    StoreDemperIn,
    StoreDemperOut,
)
from sauda.kaspi.deps import GatewayDep, ScopedOffer, ScopedStore
from sauda.kaspi.offers.schemas import OfferOut
from sauda.pagination import Page, PageDep, make_page, paginate
from sauda.schemas import JobStarted
from sauda.worker import start_job

router = APIRouter()


@router.get("/stores/{store_id}/demper/status", response_model=StoreDemperOut)
async def demper_status(store: ScopedStore, session: SessionDep, gateway: GatewayDep) -> StoreDemperOut:
    """The store's demper settings, last run (counts, errors), next due check, whether one runs now."""
    return await service.store_demper_out(session, gateway, store)


@router.patch("/stores/{store_id}/demper", response_model=StoreDemperOut)
async def update_store_demper(
    store: ScopedStore, data: StoreDemperIn, session: SessionDep, gateway: GatewayDep
) -> StoreDemperOut:
    """Check interval, default step, working hours (business timezone), excluded merchant ids,
    raise to the ceiling when alone, dry-run."""
    await service.update_store_demper(session, store, data)
    return await service.store_demper_out(session, gateway, store)


@router.post("/stores/{store_id}/demper/run", response_model=JobStarted, status_code=202)
async def run_demper(store: ScopedStore, session: SessionDep, user: CurrentUser) -> JobStarted:
    """Check every enabled offer of the store now (any hour); poll `/api/v1/jobs/{job_id}`.
    A run already in progress makes this one skip."""
    job = await start_job(session, "reprice_kaspi_store", store.id, True, user_id=user.id)
    return JobStarted(job_id=str(job.id))


@router.patch("/offers/{offer_id}/demper", response_model=OfferOut)
async def update_offer_demper(offer: ScopedOffer, data: OfferDemperIn, session: SessionDep) -> OfferOut:
    """Demper settings of one offer: enabled, floor, ceiling, step, strategy, position, priority."""
    return OfferOut.model_validate(await service.update_offer_demper(session, offer, data))


@router.post("/offers/demper/bulk", response_model=BulkDemperOut)
async def bulk_demper(data: BulkDemperIn, session: SessionDep, scope: ScopeDep) -> BulkDemperOut:
    """Enable or disable demping (and optionally set floor, ceiling, ...) for many offers at once."""
    count = await service.bulk_demper(session, scope, data)
    return BulkDemperOut(offers=count, enabled=data.enabled)


@router.get("/offers/{offer_id}/history", response_model=Page[PriceHistoryOut])
async def price_history(offer: ScopedOffer, session: SessionDep, params: PageDep) -> Page[PriceHistoryOut]:
    """Every demper decision of the offer, newest first: old, new, leader, reason, action."""
    rows, total = await paginate(session, repository.history_stmt(offer.id), params)
    return make_page([PriceHistoryOut.model_validate(r) for r in rows], total, params)
