from typing import Annotated

from fastapi import APIRouter, Path, Query, Response, status

from sauda.auth.deps import CurrentUser, ScopeDep
from sauda.db import SessionDep
from sauda.deps import SettingsDep
from sauda.kaspi import service
from sauda.kaspi.demper.router import router as demper_router
from sauda.kaspi.deps import GatewayDep, ScopedOffer, ScopedStore
from sauda.kaspi.models import KaspiStore, OfferState, StoreStatus
from sauda.kaspi.preorders.router import router as preorders_router
from sauda.kaspi.proxies.router import router as proxies_router
from sauda.kaspi.repository import OfferFilters, OfferRepository, StoreRepository
from sauda.kaspi.schemas import (
    BatchIn,
    BatchOut,
    CodeIn,
    CompetitorOfferOut,
    CompetitorsOut,
    LoginOut,
    OfferOrdering,
    OfferOut,
    PasswordLoginIn,
    PendingLoginOut,
    PriceIn,
    PricePushOut,
    SessionCheckOut,
    SmsStartIn,
    StoreCreate,
    StoreOut,
    StoreUpdate,
)
from sauda.pagination import Page, PageDep, make_page
from sauda.schemas import JobStarted
from sauda.types import Id, MoneyIn
from sauda.worker import start_job

KASPI_ERRORS: dict[int | str, dict[str, str]] = {
    400: {"description": "kaspi_wrong_credentials, kaspi_code_invalid"},
    409: {"description": "kaspi_code_required, kaspi_needs_login, kaspi_login_in_progress, ..."},
    429: {"description": "kaspi_code_flood / kaspi_store_locked / kaspi_rate_limited (see Retry-After)"},
    502: {"description": "kaspi_unavailable: Kaspi timed out or failed"},
    503: {"description": "kaspi_blocked: Kaspi's bot protection refused us"},
}

# Any Kaspi route may meet Kaspi itself failing, a ban or a login the store needs first.
router = APIRouter(prefix="/kaspi", tags=["kaspi"], responses=KASPI_ERRORS)


def _login_out(result: service.LoginResult, store: KaspiStore) -> LoginOut:
    state = "logged_in" if result.logged_in else "code_required"
    channel = "email" if result.channel == "email" else "phone" if result.channel == "phone" else None
    return LoginOut(
        status=state, channel=channel, expires_in=result.expires_in, store=StoreOut.model_validate(store)
    )


# --- stores ---------------------------------------------------------------------------------------


@router.get("/stores", response_model=Page[StoreOut])
async def list_stores(
    session: SessionDep,
    scope: ScopeDep,
    params: PageDep,
    company_id: Id | None = None,
    status: StoreStatus | None = None,
) -> Page[StoreOut]:
    """Kaspi stores of your company (admins: all), with their session status."""
    stores = StoreRepository(session, scope)
    rows, total = await stores.paginate(stores.filtered(company_id=company_id, status=status), params)
    return make_page([StoreOut.model_validate(s) for s in rows], total, params)


@router.post("/stores", response_model=StoreOut, status_code=status.HTTP_201_CREATED)
async def create_store(
    data: StoreCreate, session: SessionDep, scope: ScopeDep, user: CurrentUser
) -> StoreOut:
    """Add a store; then log in to it by email (`/login`) or by phone (`/login/sms/start`)."""
    return StoreOut.model_validate(await service.create_store(session, scope, user, data))


@router.get("/stores/{store_id}", response_model=StoreOut)
async def get_store(store: ScopedStore) -> StoreOut:
    return StoreOut.model_validate(store)


@router.patch("/stores/{store_id}", response_model=StoreOut)
async def update_store(store: ScopedStore, data: StoreUpdate, session: SessionDep) -> StoreOut:
    return StoreOut.model_validate(await service.update_store(session, store, data))


@router.delete("/stores/{store_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_store(store: ScopedStore, session: SessionDep, gateway: GatewayDep) -> Response:
    """Delete the store with its offers and stored session."""
    await service.delete_store(session, gateway, store)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


# --- login ----------------------------------------------------------------------------------------


@router.get("/stores/{store_id}/login", response_model=PendingLoginOut)
async def pending_login(store: ScopedStore, gateway: GatewayDep) -> PendingLoginOut:
    """Whether a login of this store waits for a code (and where it was sent)."""
    pending = await gateway.load_pending(store.id)
    if pending is None:
        return PendingLoginOut(pending=None)
    kind = "phone" if pending.get("kind") == "phone" else "email"
    return PendingLoginOut(pending=kind, expires_in=await gateway.pending_ttl(store.id))


@router.post("/stores/{store_id}/login", response_model=LoginOut, responses=KASPI_ERRORS)
async def login(
    store: ScopedStore, data: PasswordLoginIn, session: SessionDep, gateway: GatewayDep
) -> LoginOut:
    """Log in by email and password (Chromium, or the JSON login with `mode=json`). When Kaspi
    e-mails a code the answer is `code_required`: send it to `/login/code`."""
    return _login_out(await service.login_with_password(session, gateway, store, data), store)


@router.post("/stores/{store_id}/login/code", response_model=LoginOut, responses=KASPI_ERRORS)
async def login_code(store: ScopedStore, data: CodeIn, session: SessionDep, gateway: GatewayDep) -> LoginOut:
    """Finish an email login with the code Kaspi e-mailed."""
    return _login_out(await service.verify_code(session, gateway, store, data.code, kind="email"), store)


@router.post("/stores/{store_id}/login/sms/start", response_model=LoginOut, responses=KASPI_ERRORS)
async def sms_start(
    store: ScopedStore, data: SmsStartIn, session: SessionDep, gateway: GatewayDep
) -> LoginOut:
    """Kaspi sends an SMS code to the phone; the login waits (`expires_in` s) for `/login/sms/verify`."""
    return _login_out(await service.start_sms_login(session, gateway, store, data), store)


@router.post("/stores/{store_id}/login/sms/verify", response_model=LoginOut, responses=KASPI_ERRORS)
async def sms_verify(store: ScopedStore, data: CodeIn, session: SessionDep, gateway: GatewayDep) -> LoginOut:
    return _login_out(await service.verify_code(session, gateway, store, data.code, kind="phone"), store)


@router.post("/stores/{store_id}/session/check", response_model=SessionCheckOut, responses=KASPI_ERRORS)
async def check_session(store: ScopedStore, session: SessionDep, gateway: GatewayDep) -> SessionCheckOut:
    """Probe the stored session (`/s/m`); an expired one is renewed when the password is stored,
    otherwise the store becomes `needs_login` with the reason."""
    valid = await service.check_session(session, gateway, store)
    return SessionCheckOut(valid=valid, store=StoreOut.model_validate(store))


@router.delete("/stores/{store_id}/session", response_model=StoreOut)
async def logout(store: ScopedStore, session: SessionDep, gateway: GatewayDep) -> StoreOut:
    """Forget the stored session and password."""
    return StoreOut.model_validate(await service.forget_session(session, gateway, store))


@router.post("/stores/{store_id}/sync", response_model=JobStarted, status_code=202)
async def sync(store: ScopedStore, session: SessionDep, user: CurrentUser) -> JobStarted:
    """Pull every offer from the cabinet in the worker; poll `/api/v1/jobs/{job_id}`."""
    job = await start_job(session, "sync_kaspi_store", store.id, user_id=user.id)
    return JobStarted(job_id=str(job.id))


# --- offers ---------------------------------------------------------------------------------------


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
    little later; the next sync shows it in `price`."""
    upload = await service.push_price(session, gateway, offer, data.price, data.city_id)
    return PricePushOut(pricefeed_id=upload, offer=OfferOut.model_validate(offer))


@router.post("/offers/batch-enable", response_model=BatchOut, status_code=202, responses=KASPI_ERRORS)
async def batch_enable(data: BatchIn, session: SessionDep, scope: ScopeDep, gateway: GatewayDep) -> BatchOut:
    """Put offers on sale on every pickup point (batch pricefeed)."""
    uploads = await service.set_on_sale(session, gateway, scope, data.offer_ids, available=True)
    return BatchOut(offers=len(set(data.offer_ids)), uploads=uploads, available=True)


@router.post("/offers/batch-disable", response_model=BatchOut, status_code=202, responses=KASPI_ERRORS)
async def batch_disable(data: BatchIn, session: SessionDep, scope: ScopeDep, gateway: GatewayDep) -> BatchOut:
    """Take offers off sale (`available: no` on every pickup point)."""
    uploads = await service.set_on_sale(session, gateway, scope, data.offer_ids, available=False)
    return BatchOut(offers=len(set(data.offer_ids)), uploads=uploads, available=False)


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


router.include_router(demper_router)
router.include_router(preorders_router)
router.include_router(proxies_router)
