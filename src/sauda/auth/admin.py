"""sqladmin views of users and integration clients."""

from typing import Any

from sqladmin import Flash, action
from sqladmin.filters import BooleanFilter
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from wtforms import SelectMultipleField

from sauda.admin import (
    EnumFilter,
    SaudaView,
    current_admin,
    refuse_cross_site,
    related_pk,
    selected_ids,
    validated,
)
from sauda.auth import service
from sauda.auth.deps import scope_of
from sauda.auth.models import ClientScope, IntegrationClient, Role, User
from sauda.auth.repository import IntegrationClientRepository
from sauda.auth.schemas import ClientIn
from sauda.errors import SaudaError
from sauda.tenancy import Scope


class UserAdmin(SaudaView, model=User):
    """Users are created by invite (employees) or `sauda create-admin`; here an admin changes
    name, role, company and whether the account is active. The password hash is never shown or
    edited, the email (the login, unique without regard to case) is not edited here, and users
    are deactivated rather than deleted."""

    can_create = False
    can_delete = False
    column_list = [User.id, User.email, User.full_name, User.role, User.company, User.is_active]
    column_details_list = [
        User.id,
        User.email,
        User.full_name,
        User.role,
        User.company,
        User.is_active,
        User.created_at,
    ]
    column_searchable_list = [User.email, User.full_name]
    column_sortable_list = [User.id, User.email, User.full_name, User.role, User.is_active]
    column_filters = [EnumFilter(User.role, Role), BooleanFilter(User.is_active)]
    form_columns = [User.full_name, User.role, User.company, User.is_active]
    form_ajax_refs = {"company": {"fields": ("name",), "order_by": "name"}}

    async def on_model_change(
        self, data: dict[str, Any], model: Any, is_created: bool, request: Request
    ) -> None:
        stays_admin = bool(data.get("is_active")) and data.get("role") == Role.admin
        if model.id == current_admin(request).id and not stays_admin:
            raise ValueError("You cannot demote or deactivate yourself; ask another administrator")


class IntegrationClientAdmin(SaudaView, model=IntegrationClient):
    """Machine logins (the Telegram bot, 1C). Creating one shows its secret once, in the message
    above the list; "Rotate secret" makes a new one (shown the same way) and "Revoke" ends the
    client for good. Only a digest of the secret is stored, so it can never be shown again."""

    can_edit = False
    can_delete = False
    column_list = [
        IntegrationClient.id,
        IntegrationClient.login,
        IntegrationClient.name,
        IntegrationClient.company,
        IntegrationClient.scopes,
        IntegrationClient.revoked_at,
        IntegrationClient.last_used_at,
    ]
    column_details_exclude_list = [IntegrationClient.secret_hash]
    column_searchable_list = [IntegrationClient.login, IntegrationClient.name]
    column_sortable_list = [IntegrationClient.id, IntegrationClient.login, IntegrationClient.last_used_at]
    column_default_sort = (IntegrationClient.id, True)
    form_columns = [
        IntegrationClient.name,
        IntegrationClient.login,
        IntegrationClient.company,
        IntegrationClient.scopes,
    ]
    form_overrides = {"scopes": SelectMultipleField}
    form_args = {"scopes": {"choices": [(s.value, s.value) for s in ClientScope]}}
    form_ajax_refs = {"company": {"fields": ("name",), "order_by": "name"}}

    async def insert_model(self, request: Request, data: dict[str, Any]) -> Any:
        values = {"name": data.get("name"), "login": data.get("login"), "scopes": data.get("scopes") or []}
        client_in = validated(ClientIn, values | {"company_id": related_pk(data.get("company"))})
        async with self.unit_of_work() as session:
            admin = current_admin(request)
            client, secret = await service.create_client(
                session, scope_of(admin), **client_in.model_dump(), created_by=admin
            )
        Flash.success(request, f"Client {client.login} created. Its secret, shown only now: {secret}")
        return client

    @action(
        name="rotate",
        label="Rotate secret",
        confirmation_message="Replace the secret? The old one stops working.",
    )
    async def rotate(self, request: Request) -> Response:
        refuse_cross_site(request)
        for client_id in selected_ids(request):
            async with self.unit_of_work() as session:
                client = await IntegrationClientRepository(session, Scope.everything()).get(client_id)
                try:
                    secret = await service.rotate_client_secret(session, client)
                except SaudaError as exc:
                    Flash.error(request, exc.message)
                    continue
            Flash.success(request, f"New secret of {client.login}, shown only now: {secret}")
        return self._to_list(request)

    @action(name="revoke", label="Revoke", confirmation_message="Revoke the selected clients for good?")
    async def revoke(self, request: Request) -> Response:
        refuse_cross_site(request)
        ids = selected_ids(request)
        async with self.unit_of_work() as session:
            clients = IntegrationClientRepository(session, Scope.everything())
            for client_id in ids:
                await service.revoke_client(session, await clients.get(client_id))
        Flash.success(request, f"{len(ids)} client(s) revoked")
        return self._to_list(request)

    def _to_list(self, request: Request) -> RedirectResponse:
        return RedirectResponse(request.url_for("admin:list", identity=self.identity), status_code=302)


def views() -> list[type[SaudaView]]:
    return [UserAdmin, IntegrationClientAdmin]
