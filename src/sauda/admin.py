"""The admin panel at /admin (sqladmin): active admins of the users table log in with their password.

sqladmin keeps a view's session maker and its Admin on the view *class*. `mount_admin` therefore
registers a subclass of every view per application, bound to that app (`SaudaView.sauda_app`),
so two apps in one process (the test suite, a reloading dev server) never share them.

Views write through the domain services inside `transaction()`, the edge that commits, so the
admin obeys the same rules as the API.
"""

import enum
import types
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from datetime import date
from typing import Any, ClassVar, cast

from fastapi import FastAPI
from pydantic import BaseModel, ValidationError
from sqladmin import Admin, ModelView
from sqladmin.authentication import AuthenticationBackend
from sqladmin.filters import (
    AllUniqueStringValuesFilter,
    StaticValuesFilter,
    get_column_obj,
)
from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.exceptions import HTTPException
from starlette.requests import Request

from sauda.auth.models import User
from sauda.auth.ratelimit import LoginLimiter
from sauda.auth.repository import UserRepository
from sauda.auth.service import authenticate
from sauda.clock import business_today
from sauda.config import Settings
from sauda.db import transaction
from sauda.domains import admin_views
from sauda.errors import PermissionDenied, TooManyRequests

ADMIN_USER_KEY = "admin_user_id"
_REQUEST_ADMIN = "sauda_admin_user"
SESSION_MAX_AGE_SECONDS = 8 * 3600
# Navigations a browser reports as started by this site, or typed by the user.
_SAFE_FETCH_SITES = frozenset({"same-origin", "none"})


class AdminAuth(AuthenticationBackend):
    """Password login for admins; every request re-reads the user, so a demoted or
    deactivated admin is logged out on the next click."""

    def __init__(self, app: FastAPI, settings: Settings) -> None:
        super().__init__(
            secret_key=settings.auth.secret_key.get_secret_value(),
            max_age=SESSION_MAX_AGE_SECONDS,
            https_only=settings.public_url.startswith("https://"),
        )
        self.app = app
        self.settings = settings

    async def login(self, request: Request) -> bool:
        form = await request.form()
        email, password = str(form.get("username", "")), str(form.get("password", ""))
        limiter = LoginLimiter(self.app.state.redis, self.settings.auth)
        ip = request.client.host if request.client else "unknown"
        await _check_login_limit(limiter, email, ip)
        async with transaction(self.app.state.sessionmaker) as session:
            user = await authenticate(session, email, password)
        if user is None:
            await limiter.record_failure(email, ip)
            return False
        if not user.is_admin:
            return False
        await limiter.reset_account(email)
        request.session.clear()
        request.session[ADMIN_USER_KEY] = user.id
        return True

    async def logout(self, request: Request) -> bool:
        request.session.clear()
        return True

    async def authenticate(self, request: Request) -> bool:
        user = await self._session_admin(request)
        if user is None:
            request.session.clear()
            return False
        setattr(request.state, _REQUEST_ADMIN, user)
        return True

    async def get_user_id(self, request: Request) -> Any:
        return request.session.get(ADMIN_USER_KEY)

    async def _session_admin(self, request: Request) -> User | None:
        user_id = request.session.get(ADMIN_USER_KEY)
        if not isinstance(user_id, int):
            return None
        async with transaction(self.app.state.sessionmaker) as session:
            user = await UserRepository(session).by_id(user_id)
        if user is None or not user.is_active or not user.is_admin:
            return None
        return user


async def _check_login_limit(limiter: LoginLimiter, email: str, ip: str) -> None:
    """The API's failed-login limits apply here too, or the admin login would bypass them."""
    try:
        await limiter.check(email, ip)
    except TooManyRequests as exc:
        raise HTTPException(429, detail=exc.message, headers=exc.headers) from exc


def current_admin(request: Request) -> User:
    """The admin `AdminAuth.authenticate` loaded for this request."""
    user = getattr(request.state, _REQUEST_ADMIN, None)
    if not isinstance(user, User):
        raise PermissionDenied("Not logged in to the admin panel")
    return user


def refuse_cross_site(request: Request) -> None:
    """sqladmin runs actions on GET: refuse those another site's page started (CSRF)."""
    if request.headers.get("sec-fetch-site", "none") not in _SAFE_FETCH_SITES:
        raise HTTPException(403, detail="Cross-site request refused")


def validated(schema: type[BaseModel], values: dict[str, Any]) -> Any:
    """Validate form input with the API's schema; the message lands above the admin form."""
    try:
        return schema.model_validate(values)
    except ValidationError as exc:
        problems = (f"{'.'.join(map(str, e['loc'])) or 'form'}: {e['msg']}" for e in exc.errors())
        raise ValueError("; ".join(problems)) from exc


def related_pk(value: Any) -> int | None:
    """The primary key a relationship field of the form carries (blank: None)."""
    if value in (None, "", "__None"):
        return None
    return int(value)


def selected_ids(request: Request) -> list[int]:
    """The integer primary keys an action was started on (`?pks=1,2,3`)."""
    try:
        return [int(pk) for pk in request.query_params.get("pks", "").split(",") if pk.strip()]
    except ValueError as exc:
        raise HTTPException(400, detail="pks must be ids separated by commas") from exc


class SortedValuesFilter(AllUniqueStringValuesFilter):
    """The distinct values of a column, sorted (sqladmin lists them in database order)."""

    async def lookups(
        self, request: Request, model: Any, run_query: Callable[[Select[Any]], Any]
    ) -> list[tuple[str, str]]:
        column = get_column_obj(self.column, model)
        rows = await run_query(select(column).distinct().order_by(column))
        return [("__all", "All"), *((value, value) for (value,) in rows)]


class EnumFilter(StaticValuesFilter):
    """The members of an enum column; a value outside it filters nothing instead of failing."""

    def __init__(self, column: Any, members: type[enum.StrEnum]) -> None:
        super().__init__(column, [(m.value, m.value) for m in members])
        self.members = members

    async def get_filtered_query(self, query: Select[Any], value: Any, model: Any) -> Select[Any]:
        if value not in {member.value for member in self.members}:
            return query
        return await super().get_filtered_query(query, value, model)


class SaudaView(ModelView):
    """A model view of one app: `mount_admin` sets `sauda_app` on a per-app subclass."""

    sauda_app: ClassVar[FastAPI]

    def unit_of_work(self) -> AbstractAsyncContextManager[AsyncSession]:
        state = self.sauda_app.state
        return transaction(state.sessionmaker, arq=state.arq)

    def sauda_settings(self) -> Settings:
        settings: Settings = self.sauda_app.state.settings
        return settings

    def today(self) -> date:
        """Today in the business timezone, by the app's clock."""
        return business_today(self.sauda_settings().tz)


def _bound_to(view: type[SaudaView], app: FastAPI) -> type[SaudaView]:
    # ModelViewMeta without `model=` makes a plain subclass that keeps the parent's model.
    bound = types.new_class(view.__name__, (view,), exec_body=lambda ns: ns.update(sauda_app=app))
    return cast(type[SaudaView], bound)


def mount_admin(app: FastAPI, settings: Settings) -> Admin:
    admin = Admin(
        app,
        session_maker=app.state.sessionmaker,
        authentication_backend=AdminAuth(app, settings),
        title="Sauda admin",
        base_url="/admin",
    )
    for view in admin_views():
        admin.add_view(_bound_to(view, app))
    return admin
