from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import OAuth2PasswordBearer
from redis.asyncio import Redis

from sauda.auth.models import User
from sauda.auth.ratelimit import LoginLimiter
from sauda.auth.repository import UserRepository
from sauda.config import Settings
from sauda.db import SessionDep
from sauda.errors import NotAuthenticated, PermissionDenied
from sauda.security import decode_token
from sauda.tenancy import Scope

# Dependencies are `async def` even when they never await: FastAPI runs sync ones in the thread
# pool, which costs more than the work they do.

oauth2_scheme = OAuth2PasswordBearer(tokenUrl="/api/v1/auth/token", auto_error=False)


async def get_settings_dep(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


SettingsDep = Annotated[Settings, Depends(get_settings_dep)]


async def get_redis(request: Request) -> Redis:
    redis: Redis = request.app.state.redis
    return redis


RedisDep = Annotated[Redis, Depends(get_redis)]


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
    user = await UserRepository(session).by_id(int(payload["sub"]))
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
