"""sqladmin views of the supplier network: companies (with "Clear debt"), products, debt ledger."""

from typing import Any

from markupsafe import Markup
from sqladmin import Flash, action
from sqladmin.filters import OperationColumnFilter
from sqlalchemy import Select
from starlette.datastructures import URL
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from sauda.admin import (
    EnumFilter,
    SaudaView,
    SortedValuesFilter,
    current_admin,
    refuse_cross_site,
    related_pk,
    validated,
)
from sauda.network import service
from sauda.network.models import Company, CompanyKind, DebtEntry, DebtReason, Product
from sauda.network.repository import CompanyRepository, DebtRunResult, ProductRepository
from sauda.network.schemas import CompanyCreate, CompanyUpdate, ProductCreate, ProductUpdate
from sauda.tenancy import Scope

_COMPANY_FIELDS = ("name", "kind", "email", "country", "city", "street", "house_number")
_PRODUCT_FIELDS = ("name", "model", "sku", "release_date")


def _company_input(data: dict[str, Any]) -> dict[str, Any]:
    values = {field: data.get(field) for field in _COMPANY_FIELDS}
    return values | {"supplier_id": related_pk(data.get("supplier"))}


def _changes(obj: Any, values: dict[str, Any]) -> dict[str, Any]:
    """Only what the form changed, so a save without edits is no update at all."""
    return {field: value for field, value in values.items() if getattr(obj, field) != value}


def _selected_ids(request: Request) -> list[int]:
    raw = request.query_params.get("pks", "")
    try:
        return [int(pk) for pk in raw.split(",") if pk.strip()]
    except ValueError as exc:
        raise HTTPException(400, detail="pks must be company ids separated by commas") from exc


def _is_page(url: str, page: str) -> bool:
    """`url` is `page` (same origin and path), whatever its query."""
    return url.startswith(page) and URL(url).path == URL(page).path


def _cleared_message(result: DebtRunResult | None, job_id: str | None, selected: int) -> str:
    if job_id is not None:
        return f"Clearing the debt of {selected} companies in the background (job {job_id})"
    cleared = result.companies if result else 0
    return f"Debt cleared for {cleared} of {selected} selected companies"


class CompanyAdmin(SaudaView, model=Company):
    """Companies of the supplier network.

    Every write goes through `sauda.network.service`, as the API's do: the form is validated
    with the API's schemas, a supplier change re-levels the subtree and refuses cycles and
    chains deeper than five levels, and deleting refuses a company that still supplies others
    or has employees. `debt`, `level` and `created_at` are not in the form: debt changes only
    through the scheduled runs and the "Clear debt" action, level follows the supplier chain.
    """

    column_list = [
        Company.id,
        Company.name,
        Company.kind,
        Company.city,
        Company.supplier,
        Company.level,
        Company.debt,
        Company.created_at,
    ]
    column_searchable_list = [Company.name]
    column_sortable_list = [
        Company.id,
        Company.name,
        Company.kind,
        Company.city,
        Company.level,
        Company.debt,
        Company.created_at,
    ]
    column_default_sort = (Company.name, False)
    column_filters = [
        SortedValuesFilter(Company.city),
        EnumFilter(Company.kind, CompanyKind),
        OperationColumnFilter(Company.debt),
    ]
    form_columns = [
        Company.name,
        Company.kind,
        Company.email,
        Company.country,
        Company.city,
        Company.street,
        Company.house_number,
        Company.supplier,
    ]
    # A select of every company would not scale; search suppliers by name instead.
    form_ajax_refs = {"supplier": {"fields": ("name",), "order_by": "name"}}

    def sort_query(self, stmt: Select[Any], request: Request) -> Select[Any]:
        # Equal names (or cities, debts) must not shuffle rows between pages.
        return super().sort_query(stmt, request).order_by(Company.id)

    async def insert_model(self, request: Request, data: dict[str, Any]) -> Any:
        company_in = validated(CompanyCreate, _company_input(data))
        async with self.unit_of_work() as session:
            return await service.create_company(session, company_in)

    async def update_model(self, request: Request, pk: str, data: dict[str, Any]) -> Any:
        async with self.unit_of_work() as session:
            company = await CompanyRepository(session, Scope.everything()).get(int(pk))
            changes = validated(CompanyUpdate, _changes(company, _company_input(data)))
            return await service.update_company(session, company, changes, actor=current_admin(request))

    async def delete_model(self, request: Request, pk: Any) -> None:
        async with self.unit_of_work() as session:
            company = await CompanyRepository(session, Scope.everything()).get(int(pk))
            await service.delete_company(session, company)

    @action(
        name="clear-debt",
        label="Clear debt",
        confirmation_message="Set the debt of the selected companies to zero?",
    )
    async def clear_debt(self, request: Request) -> Response:
        """The API's clear-debt: a few companies at once here, more in a worker job."""
        refuse_cross_site(request)
        ids = _selected_ids(request)
        if not ids:
            Flash.warning(request, "Select the companies whose debt to clear")
            return self._back_to_list(request)
        async with self.unit_of_work() as session:
            result, job_id = await service.request_clear_debts(
                session, self.sauda_settings(), ids, admin=current_admin(request)
            )
        Flash.success(request, _cleared_message(result, job_id, len(set(ids))))
        return self._back_to_list(request)

    def _back_to_list(self, request: Request) -> RedirectResponse:
        """Back to the list the action came from (with its filters), or the plain list."""
        list_url = str(request.url_for("admin:list", identity=self.identity))
        referer = request.headers.get("referer", "")
        return RedirectResponse(referer if _is_page(referer, list_url) else list_url, status_code=302)


class ProductAdmin(SaudaView, model=Product):
    """Products; writes go through the service, which keeps SKUs unique within a company.
    A product stays with its company: the company is chosen on creation only."""

    column_list = [
        Product.id,
        Product.name,
        Product.model,
        Product.sku,
        Product.release_date,
        Product.company,
    ]
    column_searchable_list = [Product.name, Product.model, Product.sku]
    column_sortable_list = [Product.id, Product.name, Product.model, Product.sku, Product.release_date]
    column_default_sort = (Product.name, False)
    form_columns = [Product.company, Product.name, Product.model, Product.sku, Product.release_date]
    form_edit_rules = list(_PRODUCT_FIELDS)
    form_ajax_refs = {"company": {"fields": ("name",), "order_by": "name"}}

    async def insert_model(self, request: Request, data: dict[str, Any]) -> Any:
        values = {field: data.get(field) for field in _PRODUCT_FIELDS}
        product_in = validated(ProductCreate, values | {"company_id": related_pk(data.get("company"))})
        admin = current_admin(request)
        async with self.unit_of_work() as session:
            scope = Scope.everything(admin.id)
            return await service.create_product(session, scope, admin, product_in, today=self.today())

    async def update_model(self, request: Request, pk: str, data: dict[str, Any]) -> Any:
        scope = Scope.everything(current_admin(request).id)
        async with self.unit_of_work() as session:
            product = await ProductRepository(session, scope).get(int(pk))
            values = {field: data.get(field) for field in _PRODUCT_FIELDS}
            changes = validated(ProductUpdate, _changes(product, values))
            return await service.update_product(session, scope, product, changes, today=self.today())


def _company_link(entry: Any, prop: str, request: Request) -> Markup:
    url = request.url_for("admin:details", identity="company", pk=entry.company_id)
    return Markup('<a href="{}">{}</a>').format(url, entry.company_id)


class DebtEntryAdmin(SaudaView, model=DebtEntry):
    """The debt ledger: every change of every company's debt (read-only)."""

    name = "Debt entry"
    name_plural = "Debt ledger"
    can_create = False
    can_edit = False
    can_delete = False
    column_list = [
        DebtEntry.id,
        DebtEntry.company_id,
        DebtEntry.amount,
        DebtEntry.balance_after,
        DebtEntry.reason,
        DebtEntry.run_key,
        DebtEntry.created_at,
    ]
    column_labels = {DebtEntry.company_id: "company"}
    column_formatters = {DebtEntry.company_id: _company_link}
    column_formatters_detail = {DebtEntry.company_id: _company_link}
    column_searchable_list = [DebtEntry.run_key]
    column_sortable_list = [DebtEntry.id, DebtEntry.amount, DebtEntry.created_at]
    column_default_sort = [(DebtEntry.created_at, True), (DebtEntry.id, True)]
    column_filters = [EnumFilter(DebtEntry.reason, DebtReason), OperationColumnFilter(DebtEntry.company_id)]


def views() -> list[type[SaudaView]]:
    return [CompanyAdmin, ProductAdmin, DebtEntryAdmin]
