"""Store routes: the store, logging in (email, e-mailed code, SMS), the session, a sync."""

from fastapi import APIRouter, Response, status

from sauda.auth.deps import CurrentUser, ScopeDep
from sauda.db import SessionDep
from sauda.kaspi.client.errors import KASPI_ERRORS
from sauda.kaspi.deps import GatewayDep, ScopedStore
from sauda.kaspi.models import KaspiStore, StoreStatus
from sauda.kaspi.stores import service
from sauda.kaspi.stores.repository import StoreRepository
from sauda.kaspi.stores.schemas import (
    CodeIn,
    LoginOut,
    PasswordLoginIn,
    PendingLoginOut,
    SessionCheckOut,
    SmsStartIn,
    StoreCreate,
    StoreOut,
    StoreUpdate,
)
from sauda.pagination import Page, PageDep, make_page
from sauda.schemas import JobStarted
from sauda.types import Id
from sauda.worker import start_job

router = APIRouter()


def _login_out(result: service.LoginResult, store: KaspiStore) -> LoginOut:
    state = "logged_in" if result.logged_in else "code_required"
    channel = "email" if result.channel == "email" else "phone" if result.channel == "phone" else None
    return LoginOut(
        status=state, channel=channel, expires_in=result.expires_in, store=StoreOut.model_validate(store)
    )


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
    """Pull every offer from the cabinet in the worker; poll `/api/v1/jobs/{job_id}`. A store
    without a session answers 409 `kaspi_needs_login` at once, saying how to log in."""
    service.ensure_logged_in(store)
    job = await start_job(session, "sync_kaspi_store", store.id, user_id=user.id)
    return JobStarted(job_id=str(job.id))
