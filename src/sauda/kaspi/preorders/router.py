"""Preorder routes: list, set, upload now, the Excel export and import, one preorder."""

from typing import Annotated

from fastapi import APIRouter, File, Response, UploadFile

from sauda.auth.deps import CurrentUser, ScopeDep
from sauda.db import SessionDep
from sauda.kaspi.deps import ScopedPreorder
from sauda.kaspi.models import PreorderStatus
from sauda.kaspi.preorders import service
from sauda.kaspi.preorders.repository import PreorderRepository
from sauda.kaspi.preorders.schemas import PreorderImportOut, PreorderIn, PreorderOut
from sauda.kaspi.stores.repository import StoreRepository
from sauda.pagination import Page, PageDep, make_page
from sauda.schemas import JobStarted
from sauda.types import Id
from sauda.worker import enqueue_after_commit, start_job

router = APIRouter()

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@router.get("/preorders", response_model=Page[PreorderOut])
async def list_preorders(
    session: SessionDep,
    scope: ScopeDep,
    params: PageDep,
    store_id: Id | None = None,
    status: PreorderStatus | None = None,
) -> Page[PreorderOut]:
    """Preorders with their status: pending (uploading / waiting for Kaspi), active, failed (reason)."""
    repo = PreorderRepository(session, scope)
    rows, total = await repo.paginate(repo.filtered(store_id=store_id, status=status), params)
    return make_page([PreorderOut.model_validate(r) for r in rows], total, params)


@router.post("/preorders", response_model=PreorderOut, status_code=201)
async def set_preorder(data: PreorderIn, session: SessionDep, scope: ScopeDep) -> PreorderOut:
    """Preorder days (0-30; 0 = in stock) for an offer on some points (empty = all). The worker
    uploads it, then confirms it on the storefront; the demper leaves the offer alone meanwhile."""
    preorder = await service.set_preorder(session, scope, data)
    enqueue_after_commit(session, "sync_kaspi_preorders", preorder.store_id)
    return PreorderOut.model_validate(preorder)


@router.post("/preorders/upload", response_model=JobStarted, status_code=202)
async def upload_preorders(
    store_id: Id, session: SessionDep, scope: ScopeDep, user: CurrentUser
) -> JobStarted:
    """Upload the store's pending preorders now and check on the storefront that Kaspi shows
    them, looking again for up to `PREORDER_CONFIRM_WAIT_SECONDS` (Kaspi applies uploads a little
    later). Poll `/api/v1/jobs/{job_id}`: its result counts `uploaded`, `confirmed`, `failed` and
    `pending` (still waiting for Kaspi; the worker keeps looking)."""
    store = await StoreRepository(session, scope).get(store_id)
    job = await start_job(session, "sync_kaspi_preorders", store.id, True, user_id=user.id)
    return JobStarted(job_id=str(job.id))


@router.get("/preorders/export", response_class=Response, responses={200: {"content": {XLSX: {}}}})
async def export_preorders(store_id: Id, session: SessionDep, scope: ScopeDep) -> Response:
    """The store's preorders in Kaspi's price-list template
    (`SKU | model | brand | price | PP1..PP5 | preorder`)."""
    store = await StoreRepository(session, scope).get(store_id)
    content = await service.export_xlsx(session, scope, store.id)
    headers = {"Content-Disposition": f'attachment; filename="preorders-{store.id}.xlsx"'}
    return Response(content, media_type=XLSX, headers=headers)


@router.post("/preorders/import", response_model=PreorderImportOut)
async def import_preorders(
    store_id: Id,
    session: SessionDep,
    scope: ScopeDep,
    file: Annotated[UploadFile, File(description="Kaspi's price-list template, .xlsx")],
) -> PreorderImportOut:
    """Set many preorders from a filled-in template: every row or none; errors name row and column.
    A PP column with a value (not "no"/0) limits the preorder to those points; none: all points.
    An empty `preorder` cell means in stock, nothing to change: the row is `skipped` (0 clears
    a preorder)."""
    store = await StoreRepository(session, scope).get(store_id)
    result = await service.import_xlsx(session, scope, store.id, await file.read())
    if result["saved"]:
        enqueue_after_commit(session, "sync_kaspi_preorders", store.id)
    return PreorderImportOut(**result)


@router.get("/preorders/{preorder_id}", response_model=PreorderOut)
async def get_preorder(preorder: ScopedPreorder) -> PreorderOut:
    return PreorderOut.model_validate(preorder)


@router.delete("/preorders/{preorder_id}", status_code=204)
async def delete_preorder(preorder: ScopedPreorder, session: SessionDep) -> Response:
    """Forget a preorder here (Kaspi keeps what was uploaded: set 0 days to clear it there)."""
    await session.delete(preorder)
    await session.flush()
    return Response(status_code=204)
