from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated

from fastapi import Depends
from fastapi.security import APIKeyHeader, HTTPBasic, HTTPBasicCredentials, OAuth2PasswordBearer
from sqlalchemy.ext.asyncio import AsyncSession

from sauda.auth import service
from sauda.auth.models import ClientScope, IntegrationClient, User
from sauda.auth.ratelimit import LoginLimiter
from sauda.auth.repository import UserRepository
from sauda.db import SessionDep
from sauda.deps import RedisDep, SettingsDep
from sauda.errors import NotAuthenticated, PermissionDenied
from sauda.security import decode_token
from sauda.tenancy import Scope

oauth2_scheme = OAuth2PasswordBearer(tokenUrl="/api/v1/auth/token", auto_error=False)


async def get_login_limiter(redis: RedisDep, settings: SettingsDep) -> LoginLimiter:
    return LoginLimiter(redis, settings.auth)


LoginLimiterDep = Annotated[LoginLimiter, Depends(get_login_limiter)]


async def get_current_user(
    session: SessionDep,
    settings: SettingsDep,
    token: Annotated[str | None, Depends(oauth2_scheme)],
) -> User:
    if not token:
        raise NotAuthenticated()
    payload = decode_token(token, secret=settings.auth.secret_key.get_secret_value(), token_type="access")
    user = await UserRepository(session).by_id(payload["sub"])
    if user is None or not user.is_active:
        raise NotAuthenticated("Account is disabled or no longer exists")
    return user


CurrentUser = Annotated[User, Depends(get_current_user)]


async def require_admin(user: CurrentUser) -> User:
    if not user.is_admin:
        raise PermissionDenied("Only administrators may do this")
    return user


AdminUser = Annotated[User, Depends(require_admin)]


def scope_of(user: User) -> Scope:
    if user.is_admin:
        return Scope.everything(user_id=user.id)
    return Scope.company(user.company_id, user_id=user.id)


async def get_scope(user: CurrentUser) -> Scope:
    return scope_of(user)


ScopeDep = Annotated[Scope, Depends(get_scope)]


# --- integration clients --------------------------------------------------------------------

http_basic = HTTPBasic(auto_error=False, realm="sauda", description="integration client: login and secret")
api_key_header = APIKeyHeader(
    name="X-Api-Key", auto_error=False, description="integration client: the secret alone"
)
BASIC_CHALLENGE = {"WWW-Authenticate": 'Basic realm="sauda"'}


def _client_challenge(message: str) -> NotAuthenticated:
    exc = NotAuthenticated(message)
    exc.headers = BASIC_CHALLENGE
    return exc


@dataclass(frozen=True)
class Caller:
    """Who calls a route open to admins and integration clients: exactly one of the two."""

    user: User | None = None
    client: IntegrationClient | None = None

    @property
    def scope(self) -> Scope:
        if self.client is not None:
            return Scope.company(self.client.company_id)
        assert self.user is not None
        return scope_of(self.user)


def _has_nul(basic: HTTPBasicCredentials | None, api_key: str | None) -> bool:
    values = (basic.username, basic.password) if basic is not None else (api_key or "",)
    return any("\x00" in value for value in values)


async def client_from_credentials(
    session: AsyncSession, basic: HTTPBasicCredentials | None, api_key: str | None
) -> IntegrationClient:
    if _has_nul(basic, api_key):
        # Not a credential Sauda ever issued, and text the database cannot compare.
        raise _client_challenge("Unknown or revoked integration client, or wrong secret")
    if basic is not None:
        client = await service.authenticate_client(session, login=basic.username, secret=basic.password)
    elif api_key:
        client = await service.authenticate_client(session, secret=api_key)
    else:
        raise _client_challenge("Not authenticated: use HTTP Basic (login:secret) or X-Api-Key")
    if client is None:
        raise _client_challenge("Unknown or revoked integration client, or wrong secret")
    now = datetime.now(UTC)
    if service.client_needs_touch(client, now):
        await service.touch_client(session, client.id, now)
    return client


def admin_or_client(scope: ClientScope) -> Callable[..., Awaitable[Caller]]:
    """A dependency letting in admins (Bearer JWT) and active clients holding `scope`."""

    async def dependency(
        session: SessionDep,
        settings: SettingsDep,
        token: Annotated[str | None, Depends(oauth2_scheme)],
        basic: Annotated[HTTPBasicCredentials | None, Depends(http_basic)],
        api_key: Annotated[str | None, Depends(api_key_header)],
    ) -> Caller:
        if token:
            user = await get_current_user(session, settings, token)
            if not user.is_admin:
                raise PermissionDenied(f"Only administrators and {scope} integration clients may do this")
            return Caller(user=user)
        client = await client_from_credentials(session, basic, api_key)
        if not client.has_scope(scope):
            raise PermissionDenied(f"This integration client lacks the {scope} scope")
        return Caller(client=client)

    return dependency
