"""The admin panel at /admin (sqladmin): admins of the users table log in with their password."""

from fastapi import FastAPI
from sqladmin import Admin
from sqladmin.authentication import AuthenticationBackend
from starlette.requests import Request

from sauda.auth.service import authenticate
from sauda.config import Settings
from sauda.db import transaction


class AdminAuth(AuthenticationBackend):
    def __init__(self, app: FastAPI, settings: Settings) -> None:
        super().__init__(secret_key=settings.auth.secret_key.get_secret_value())
        self.app = app

    async def login(self, request: Request) -> bool:
        form = await request.form()
        email, password = str(form.get("username", "")), str(form.get("password", ""))
        async with transaction(self.app.state.sessionmaker) as session:
            user = await authenticate(session, email, password)
        if user is None or not user.is_admin:
            return False
        request.session.update({"admin_user_id": user.id})
        return True

    async def logout(self, request: Request) -> bool:
        request.session.clear()
        return True

    async def authenticate(self, request: Request) -> bool:
        return "admin_user_id" in request.session


def mount_admin(app: FastAPI, settings: Settings) -> Admin:
    from sauda.network.admin import views as network_views

    admin = Admin(
        app,
        session_maker=app.state.sessionmaker,
        authentication_backend=AdminAuth(app, settings),
        title="Sauda admin",
        base_url="/admin",
    )
    for view in network_views():
        admin.add_view(view)
    return admin
