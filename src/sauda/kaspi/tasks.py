"""Worker jobs of Kaspi stores: sync one store (on request), sync every active store (hourly), the
demper (a tick every minute, one run per store) and preorders (upload, then confirm)."""

import logging
from typing import Any

from sauda import clock
from sauda.kaspi.client.errors import KaspiError, KaspiUnavailable
from sauda.kaspi.client.gateway import KaspiGateway
from sauda.kaspi.client.ratelimit import DemperLock
from sauda.kaspi.demper import repository as demper_repository
from sauda.kaspi.demper.run import run_demper, within_hours
from sauda.kaspi.models import KaspiStore
from sauda.kaspi.preorders import repository as preorder_repository
from sauda.kaspi.preorders.service import sync_preorders
from sauda.kaspi.stores import service
from sauda.kaspi.stores.repository import StoreRepository
from sauda.tenancy import Scope
from sauda.worker import Context, cron_task, enqueue_after_commit, job_session, task

log = logging.getLogger(__name__)


def gateway(ctx: Context) -> KaspiGateway:
    return KaspiGateway(ctx["settings"], ctx["redis"])


@task(retry_on=(KaspiUnavailable,))
async def sync_kaspi_store(ctx: Context, store_id: int) -> dict[str, Any]:
    try:
        async with job_session(ctx) as session:
            store = await session.get(KaspiStore, store_id)
            if store is None:
                return {"skipped": "the store no longer exists"}
            result = await service.sync_store(session, gateway(ctx), store)
    except KaspiError as exc:
        async with job_session(ctx) as session:
            await service.record_sync_failure(session, store_id, exc)
        raise
    log.info("kaspi store %s synced: %s", store_id, result)
    return result.as_dict()


@cron_task(minute=17)
async def sync_kaspi_stores(ctx: Context) -> dict[str, Any]:
    """Every hour at minute 17: one sync job per active store, deduplicated per hour."""
    hour = clock.now().strftime("%Y%m%d%H")
    async with job_session(ctx) as session:
        ids = await StoreRepository(session, Scope.everything()).syncable_ids()
        for store_id in ids:
            enqueue_after_commit(
                session, "sync_kaspi_store", store_id, job_id=f"kaspi-sync:{store_id}:{hour}"
            )
    return {"stores": len(ids)}


# The task keeps its old name: arq registers a task by its function name, and that name is stored
# in Redis (queued and deferred jobs) and in `jobs.name` (the API's job history); a new name would
# orphan jobs queued before a deploy.
@task(retry_on=(KaspiUnavailable,))
async def reprice_kaspi_store(ctx: Context, store_id: int, force: bool = False) -> dict[str, Any]:
    """One demper run of a store (see `demper.run`); Kaspi trouble is recorded, never retried in a loop."""
    return await run_demper(ctx["sessionmaker"], gateway(ctx), store_id, force=force)


@cron_task(minute=set(range(60)))
async def kaspi_demper_tick(ctx: Context) -> dict[str, Any]:
    """Every minute: one demper job per active, unlocked store with due offers inside its working
    hours. The job id names the store and the minute; the run lock keeps one run per store."""
    at = clock.now()
    settings = ctx["settings"]
    enqueued = []
    async with job_session(ctx) as session:
        for store in await demper_repository.stores_with_due_offers(session, at):
            if not within_hours(store, at, settings.tz):
                continue
            if await DemperLock(ctx["redis"], store.id, 1).held():
                continue
            job_id = f"kaspi-demper:{store.id}:{at:%Y%m%d%H%M}"
            enqueue_after_commit(session, "reprice_kaspi_store", store.id, job_id=job_id)
            enqueued.append(store.id)
    return {"stores": enqueued}


@task(retry_on=(KaspiUnavailable,))
async def sync_kaspi_preorders(ctx: Context, store_id: int, confirm_now: bool = False) -> dict[str, Any]:
    """Upload a store's new preorders through the pricefeed, then confirm them on the storefront
    (`confirm_now`: every uploaded one, waiting a little for Kaspi to apply them)."""
    return await sync_preorders(ctx["sessionmaker"], gateway(ctx), store_id, confirm_now=confirm_now)


@cron_task(minute=set(range(60)))
async def kaspi_preorder_tick(ctx: Context) -> dict[str, Any]:
    """Every minute: one preorder job per store with pending preorders (each checks only those
    due for a look, every `preorder_check_seconds`)."""
    at = clock.now()
    async with job_session(ctx) as session:
        ids = await preorder_repository.stores_with_pending(session)
        for store_id in ids:
            job_id = f"kaspi-preorders:{store_id}:{at:%Y%m%d%H%M}"
            enqueue_after_commit(session, "sync_kaspi_preorders", store_id, job_id=job_id)
    return {"stores": ids}
