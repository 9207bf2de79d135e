from typing import Any

from sqladmin import ModelView

from sauda.auth.models import User
from sauda.network.models import Company, Product


class CompanyAdmin(ModelView, model=Company):
    column_list = [
        Company.id,
        Company.name,
        Company.kind,
        Company.city,
        Company.level,
        Company.debt,
    ]
    column_searchable_list = [Company.name]


class ProductAdmin(ModelView, model=Product):
    column_list = [Product.id, Product.name, Product.model, Product.sku, Product.release_date]


class UserAdmin(ModelView, model=User):
    column_list = [User.id, User.email, User.role, User.company_id, User.is_active]
    form_excluded_columns = [User.password_hash]


def views() -> list[Any]:
    return [CompanyAdmin, ProductAdmin, UserAdmin]
