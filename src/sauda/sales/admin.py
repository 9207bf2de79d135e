"""sqladmin views of sales: points, customers, receipts and sales (read and delete), imports
(read-only).

Writes go through `sauda.sales.service` inside the view's unit of work, as the API's do, so
codes stay unique per company and every deleted sale leaves the daily rollups in step.
"""

from typing import Any

from sqladmin.filters import BooleanFilter, OperationColumnFilter
from sqlalchemy import Select
from sqlalchemy.orm import selectinload
from starlette.requests import Request

from sauda.admin import EnumFilter, SaudaView, SortedValuesFilter, current_admin, related_pk, validated
from sauda.sales import service
from sauda.sales.models import (
    Customer,
    ImportStatus,
    Point,
    PointKind,
    Receipt,
    ReceiptKind,
    Sale,
    SalesImport,
)
from sauda.sales.receipts.repository import ReceiptRepository
from sauda.sales.receipts.service import delete_receipt
from sauda.sales.repository import CustomerRepository, PointRepository, SaleRepository
from sauda.sales.schemas import CustomerCreate, CustomerUpdate, PointCreate, PointUpdate
from sauda.tenancy import Scope

_POINT_FIELDS = ("code", "name", "city", "address", "kind", "is_active")
_CUSTOMER_FIELDS = ("name", "phone", "email", "external_id")


def _values(data: dict[str, Any], fields: tuple[str, ...]) -> dict[str, Any]:
    values = {field: data.get(field) for field in fields}
    return {k: (None if v == "" and k in ("phone", "email", "external_id") else v) for k, v in values.items()}


def _changes(obj: Any, values: dict[str, Any]) -> dict[str, Any]:
    return {field: value for field, value in values.items() if getattr(obj, field) != value}


class PointAdmin(SaudaView, model=Point):
    """Points of sale. The company is chosen on creation only; codes are unique per company."""

    name = "Point of sale"
    name_plural = "Points of sale"
    column_list = [Point.id, Point.code, Point.name, Point.city, Point.kind, Point.is_active, Point.company]
    column_searchable_list = [Point.name, Point.code]
    column_sortable_list = [Point.id, Point.code, Point.name, Point.city, Point.created_at]
    column_default_sort = (Point.name, False)
    column_filters = [
        SortedValuesFilter(Point.city),
        EnumFilter(Point.kind, PointKind),
        BooleanFilter(Point.is_active),
        OperationColumnFilter(Point.company_id),
    ]
    form_columns = [
        Point.company,
        Point.code,
        Point.name,
        Point.city,
        Point.address,
        Point.kind,
        Point.is_active,
    ]
    form_edit_rules = list(_POINT_FIELDS)
    form_ajax_refs = {"company": {"fields": ("name",), "order_by": "name"}}

    def sort_query(self, stmt: Select[Any], request: Request) -> Select[Any]:
        return super().sort_query(stmt, request).order_by(Point.id)

    async def insert_model(self, request: Request, data: dict[str, Any]) -> Any:
        values = _values(data, _POINT_FIELDS) | {"company_id": related_pk(data.get("company"))}
        point_in = validated(PointCreate, values)
        admin = current_admin(request)
        async with self.unit_of_work() as session:
            return await service.create_point(session, Scope.everything(admin.id), admin, point_in)

    async def update_model(self, request: Request, pk: str, data: dict[str, Any]) -> Any:
        scope = Scope.everything(current_admin(request).id)
        async with self.unit_of_work() as session:
            point = await PointRepository(session, scope).get(int(pk))
            changes = validated(PointUpdate, _changes(point, _values(data, _POINT_FIELDS)))
            return await service.update_point(session, scope, point, changes)

    async def delete_model(self, request: Request, pk: Any) -> None:
        scope = Scope.everything(current_admin(request).id)
        async with self.unit_of_work() as session:
            points = PointRepository(session, scope)
            await points.delete(await points.get(int(pk)))


class CustomerAdmin(SaudaView, model=Customer):
    """Customers; external ids (from POS / loyalty systems) are unique per company."""

    column_list = [
        Customer.id,
        Customer.name,
        Customer.phone,
        Customer.email,
        Customer.external_id,
        Customer.company,
    ]
    column_searchable_list = [Customer.name, Customer.phone, Customer.email, Customer.external_id]
    column_sortable_list = [Customer.id, Customer.name, Customer.created_at]
    column_default_sort = (Customer.name, False)
    column_filters = [OperationColumnFilter(Customer.company_id)]
    form_columns = [Customer.company, Customer.name, Customer.phone, Customer.email, Customer.external_id]
    form_edit_rules = list(_CUSTOMER_FIELDS)
    form_ajax_refs = {"company": {"fields": ("name",), "order_by": "name"}}

    def sort_query(self, stmt: Select[Any], request: Request) -> Select[Any]:
        return super().sort_query(stmt, request).order_by(Customer.id)

    async def insert_model(self, request: Request, data: dict[str, Any]) -> Any:
        values = _values(data, _CUSTOMER_FIELDS) | {"company_id": related_pk(data.get("company"))}
        customer_in = validated(CustomerCreate, values)
        admin = current_admin(request)
        async with self.unit_of_work() as session:
            return await service.create_customer(session, Scope.everything(admin.id), admin, customer_in)

    async def update_model(self, request: Request, pk: str, data: dict[str, Any]) -> Any:
        scope = Scope.everything(current_admin(request).id)
        async with self.unit_of_work() as session:
            customer = await CustomerRepository(session, scope).get(int(pk))
            changes = validated(CustomerUpdate, _changes(customer, _values(data, _CUSTOMER_FIELDS)))
            return await service.update_customer(session, scope, customer, changes)


class ReceiptAdmin(SaudaView, model=Receipt):
    """Receipts and returns: browse, filter, search by number or external id; delete keeps the
    rollups right (a receipt with returns stays). Receipts are written through the API, the
    import and 1C, where lines, payments and what is left to return are checked."""

    can_create = False
    can_edit = False
    column_list = [
        Receipt.id,
        Receipt.sold_at,
        Receipt.point,
        Receipt.kind,
        Receipt.number,
        Receipt.total,
        Receipt.original_id,
        Receipt.external_id,
    ]
    column_searchable_list = [Receipt.number, Receipt.external_id]
    column_sortable_list = [Receipt.id, Receipt.sold_at, Receipt.total]
    column_default_sort = [(Receipt.sold_at, True), (Receipt.id, True)]
    column_filters = [
        EnumFilter(Receipt.kind, ReceiptKind),
        OperationColumnFilter(Receipt.company_id),
        OperationColumnFilter(Receipt.point_id),
        OperationColumnFilter(Receipt.total),
    ]

    # Payments have no view of their own: each as its method and amount, not as a link.
    column_formatters_detail = {
        Receipt.payments: lambda m, _: [f"{p.method.value} {p.amount}" for p in m.payments]
    }
    non_link_related_fields = [Receipt.payments]

    def list_query(self, request: Request) -> Select[Any]:
        return super().list_query(request).options(selectinload(Receipt.point))

    async def delete_model(self, request: Request, pk: Any) -> None:
        scope = Scope.everything(current_admin(request).id)
        async with self.unit_of_work() as session:
            receipt = await ReceiptRepository(session, scope).get_for_update(int(pk))
            await delete_receipt(session, receipt, self.sauda_settings().tz)


class SaleAdmin(SaudaView, model=Sale):
    """Sales: browse, filter, search by external id; delete keeps the rollups right. Sales are
    entered through the API or imported, where totals and references are checked."""

    can_create = False
    can_edit = False
    column_list = [
        Sale.id,
        Sale.sold_at,
        Sale.point,
        Sale.product,
        Sale.customer,
        Sale.quantity,
        Sale.unit_price,
        Sale.discount,
        Sale.total,
        Sale.external_id,
    ]
    column_searchable_list = [Sale.external_id]
    column_sortable_list = [Sale.id, Sale.sold_at, Sale.total, Sale.quantity]
    column_default_sort = [(Sale.sold_at, True), (Sale.id, True)]
    column_filters = [
        OperationColumnFilter(Sale.company_id),
        OperationColumnFilter(Sale.point_id),
        OperationColumnFilter(Sale.product_id),
        OperationColumnFilter(Sale.total),
    ]

    def list_query(self, request: Request) -> Select[Any]:
        # The list shows names of related rows: load them with the page, not one by one.
        return (
            super()
            .list_query(request)
            .options(selectinload(Sale.point), selectinload(Sale.product), selectinload(Sale.customer))
        )

    async def delete_model(self, request: Request, pk: Any) -> None:
        scope = Scope.everything(current_admin(request).id)
        async with self.unit_of_work() as session:
            sale = await SaleRepository(session, scope).get_for_update(int(pk))
            await service.delete_sale(session, sale, self.sauda_settings().tz)


class SalesImportAdmin(SaudaView, model=SalesImport):
    """Uploaded sales files and their outcome (read-only)."""

    name = "Sales import"
    can_create = False
    can_edit = False
    can_delete = False
    column_list = [
        SalesImport.created_at,
        SalesImport.company_id,
        SalesImport.filename,
        SalesImport.status,
        SalesImport.rows_read,
        SalesImport.rows_inserted,
        SalesImport.rows_duplicate,
        SalesImport.rows_failed,
        SalesImport.error,
    ]
    column_searchable_list = [SalesImport.filename]
    column_sortable_list = [SalesImport.created_at, SalesImport.status]
    column_default_sort = (SalesImport.created_at, True)
    column_filters = [
        EnumFilter(SalesImport.status, ImportStatus),
        OperationColumnFilter(SalesImport.company_id),
    ]


def views() -> list[type[SaudaView]]:
    return [PointAdmin, CustomerAdmin, ReceiptAdmin, SaleAdmin, SalesImportAdmin]
