"""sqladmin view of users."""

from typing import Any

from sqladmin.filters import BooleanFilter
from starlette.requests import Request

from sauda.admin import EnumFilter, SaudaView, current_admin
from sauda.auth.models import Role, User


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
