from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response, status
from fastapi.security import OAuth2PasswordRequestForm
from sqlalchemy import select

from sauda.auth import service
from sauda.auth.deps import AdminUser, CurrentUser, LoginLimiterDep, scope_of
from sauda.auth.models import IntegrationClient, Invite
from sauda.auth.repository import IntegrationClientRepository
from sauda.auth.schemas import (
    ClientIn,
    ClientOut,
    ClientWithSecret,
    InviteIn,
    InviteOut,
    RefreshIn,
    RegisterIn,
    TokenPair,
    UserOut,
)
from sauda.db import SessionDep
from sauda.deps import SettingsDep
from sauda.errors import NotAuthenticated
from sauda.pagination import Page, PageDep, make_page, paginate
from sauda.types import Id

router = APIRouter(prefix="/auth", tags=["auth"])


@router.post("/register", response_model=UserOut, status_code=status.HTTP_201_CREATED)
async def register(data: RegisterIn, session: SessionDep, settings: SettingsDep) -> UserOut:
    """Create an employee of the company an administrator's invite code names."""
    user = await service.register(session, settings, data)
    return UserOut.model_validate(user)


@router.post("/token", response_model=TokenPair, responses={401: {}, 429: {}})
async def token(
    form: Annotated[OAuth2PasswordRequestForm, Depends()],
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    limiter: LoginLimiterDep,
) -> TokenPair:
    """Log in with email (as `username`) and password; returns access and refresh tokens."""
    ip = request.client.host if request.client else "unknown"
    await limiter.check(form.username, ip)
    user = await service.authenticate(session, form.username, form.password)
    if user is None:
        await limiter.record_failure(form.username, ip)
        raise NotAuthenticated("Incorrect email or password")
    await limiter.reset_account(form.username)
    return await service.issue_tokens(session, settings, user)


@router.post("/refresh", response_model=TokenPair, responses={401: {}})
async def refresh(data: RefreshIn, session: SessionDep, settings: SettingsDep) -> TokenPair:
    """Exchange a refresh token for a new pair; the old refresh token stops working."""
    return await service.rotate_refresh_token(session, settings, data.refresh_token)


@router.post("/logout", status_code=status.HTTP_204_NO_CONTENT, responses={401: {}})
async def logout(data: RefreshIn, session: SessionDep, settings: SettingsDep) -> Response:
    """Revoke the refresh token (and every token rotated from the same login)."""
    await service.revoke_refresh_token(session, settings, data.refresh_token)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/me", response_model=UserOut)
async def me(user: CurrentUser) -> UserOut:
    return UserOut.model_validate(user)


@router.post("/invites", response_model=InviteOut, status_code=status.HTTP_201_CREATED)
async def create_invite(
    data: InviteIn, admin: AdminUser, session: SessionDep, settings: SettingsDep
) -> InviteOut:
    """Issue an invite code that lets one person register as an employee of the company."""
    invite = await service.create_invite(
        session, settings, company_id=data.company_id, admin=admin, days=data.expires_in_days
    )
    return InviteOut.model_validate(invite)


@router.get("/invites", response_model=Page[InviteOut])
async def list_invites(
    _: AdminUser, session: SessionDep, params: PageDep, company_id: Id | None = None
) -> Page[InviteOut]:
    stmt = select(Invite).order_by(Invite.id.desc())
    if company_id is not None:
        stmt = stmt.where(Invite.company_id == company_id)
    rows, total = await paginate(session, stmt, params)
    return make_page([InviteOut.model_validate(r) for r in rows], total, params)


# --- integration clients --------------------------------------------------------------------
# Admins only (employees: 403 on every route; integration clients: 401, these take people's
# tokens). Employees manage their own 1C clients under /exchange/clients.


async def _client_by_id(client_id: Id, admin: AdminUser, session: SessionDep) -> IntegrationClient:
    return await IntegrationClientRepository(session, scope_of(admin)).get(client_id)


ClientById = Annotated[IntegrationClient, Depends(_client_by_id)]


def _with_secret(client: IntegrationClient, secret: str) -> ClientWithSecret:
    return ClientWithSecret.model_validate(ClientOut.model_validate(client).model_dump() | {"secret": secret})


@router.post("/clients", response_model=ClientWithSecret, status_code=status.HTTP_201_CREATED)
async def create_client(data: ClientIn, admin: AdminUser, session: SessionDep) -> ClientWithSecret:
    """Create an integration client (the Telegram bot: scope `calendar`; 1C: `exchange`).
    The secret is in this answer only; it authenticates as HTTP Basic `login:secret` or as the
    `X-Api-Key` header."""
    client, secret = await service.create_client(
        session,
        scope_of(admin),
        company_id=data.company_id,
        name=data.name,
        login=data.login,
        scopes=data.scopes,
        created_by=admin,
    )
    return _with_secret(client, secret)


@router.get("/clients", response_model=Page[ClientOut])
async def list_clients(
    admin: AdminUser,
    session: SessionDep,
    params: PageDep,
    company_id: Id | None = None,
    active: bool | None = None,
) -> Page[ClientOut]:
    clients = IntegrationClientRepository(session, scope_of(admin))
    rows, total = await clients.paginate(clients.filtered(company_id=company_id, active=active), params)
    return make_page([ClientOut.model_validate(c) for c in rows], total, params)


@router.get("/clients/{client_id}", response_model=ClientOut)
async def get_client(_: AdminUser, client: ClientById) -> ClientOut:
    return ClientOut.model_validate(client)


@router.post("/clients/{client_id}/rotate", response_model=ClientWithSecret)
async def rotate_client(_: AdminUser, client: ClientById, session: SessionDep) -> ClientWithSecret:
    """A new secret (shown once); the old one stops working at once. Revoked clients: 409."""
    secret = await service.rotate_client_secret(session, client)
    return _with_secret(client, secret)


@router.post("/clients/{client_id}/revoke", response_model=ClientOut)
async def revoke_client(_: AdminUser, client: ClientById, session: SessionDep) -> ClientOut:
    """Revoke the client for good; its secret stops working at once."""
    return ClientOut.model_validate(await service.revoke_client(session, client))
