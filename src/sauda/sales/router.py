import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, File, Form, Query, Request, Response, UploadFile, status
from fastapi.responses import StreamingResponse

from sauda.auth.deps import CurrentUser, ScopeDep
from sauda.db import SessionDep
from sauda.deps import SettingsDep
from sauda.pagination import Page, PageDep, make_page
from sauda.sales import service
from sauda.sales.deps import BusinessTz, LockedSale, ScopedCustomer, ScopedPoint, ScopedSale
from sauda.sales.export import (
    MEDIA_TYPES,
    ExportFormat,
    csv_chunks,
    export_statement,
    xlsx_chunks,
)
from sauda.sales.export import header as export_header
from sauda.sales.imports import accept_upload, check_encoding
from sauda.sales.metrics import service as metrics_service
from sauda.sales.metrics.repository import MetricsQuery
from sauda.sales.metrics.schemas import (
    Granularity,
    GroupBy,
    HoursOut,
    MetricsOut,
    PaymentsOut,
    TopBy,
    TopProductsOut,
)
from sauda.sales.models import PointKind
from sauda.sales.receipts.router import router as receipts_router
from sauda.sales.repository import (
    CustomerRepository,
    ImportRepository,
    PointRepository,
    SaleFilters,
    SaleRepository,
)
from sauda.sales.schemas import (
    CustomerCreate,
    CustomerOrdering,
    CustomerOut,
    CustomerUpdate,
    ImportOut,
    ImportStarted,
    PointCreate,
    PointOrdering,
    PointOut,
    PointUpdate,
    SaleCreate,
    SaleOrdering,
    SaleOut,
    SaleUpdate,
)
from sauda.streaming import StreamedFile
from sauda.types import BusinessDate, Id, MoneyIn

router = APIRouter()
# Receipts come first (the primary sales routes) under their own tag; every route below is "sales".
router.include_router(receipts_router)
router.tags.append("sales")

Search = Annotated[str | None, Query(max_length=100)]


# --- points ----------------------------------------------------------------------------------


@router.get("/points", response_model=Page[PointOut])
async def list_points(
    session: SessionDep,
    scope: ScopeDep,
    params: PageDep,
    company_id: Id | None = None,
    city: Annotated[str | None, Query(max_length=100)] = None,
    kind: PointKind | None = None,
    is_active: bool | None = None,
    search: Annotated[str | None, Query(max_length=100, description="part of the name or code")] = None,
    ordering: PointOrdering = PointOrdering.name,
) -> Page[PointOut]:
    points = PointRepository(session, scope)
    stmt = points.filtered(
        company_id=company_id, city=city, kind=kind, is_active=is_active, search=search, ordering=ordering
    )
    rows, total = await points.paginate(stmt, params)
    return make_page([PointOut.model_validate(p) for p in rows], total, params)


@router.post("/points", response_model=PointOut, status_code=status.HTTP_201_CREATED)
async def create_point(
    data: PointCreate, session: SessionDep, scope: ScopeDep, user: CurrentUser
) -> PointOut:
    return PointOut.model_validate(await service.create_point(session, scope, user, data))


@router.get("/points/{point_id}", response_model=PointOut)
async def get_point(point: ScopedPoint) -> PointOut:
    return PointOut.model_validate(point)


@router.patch("/points/{point_id}", response_model=PointOut)
async def update_point(
    point: ScopedPoint, data: PointUpdate, session: SessionDep, scope: ScopeDep
) -> PointOut:
    return PointOut.model_validate(await service.update_point(session, scope, point, data))


@router.delete("/points/{point_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_point(point: ScopedPoint, session: SessionDep, scope: ScopeDep) -> Response:
    """Refused (409) while the point has sales; deactivate it instead."""
    await PointRepository(session, scope).delete(point)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


# --- customers -------------------------------------------------------------------------------


@router.get("/customers", response_model=Page[CustomerOut])
async def list_customers(
    session: SessionDep,
    scope: ScopeDep,
    params: PageDep,
    company_id: Id | None = None,
    search: Annotated[
        str | None, Query(max_length=100, description="name, phone, email or external id")
    ] = None,
    ordering: CustomerOrdering = CustomerOrdering.name,
) -> Page[CustomerOut]:
    customers = CustomerRepository(session, scope)
    stmt = customers.filtered(company_id=company_id, search=search, ordering=ordering)
    rows, total = await customers.paginate(stmt, params)
    return make_page([CustomerOut.model_validate(c) for c in rows], total, params)


@router.post("/customers", response_model=CustomerOut, status_code=status.HTTP_201_CREATED)
async def create_customer(
    data: CustomerCreate, session: SessionDep, scope: ScopeDep, user: CurrentUser
) -> CustomerOut:
    return CustomerOut.model_validate(await service.create_customer(session, scope, user, data))


@router.get("/customers/{customer_id}", response_model=CustomerOut)
async def get_customer(customer: ScopedCustomer) -> CustomerOut:
    return CustomerOut.model_validate(customer)


@router.patch("/customers/{customer_id}", response_model=CustomerOut)
async def update_customer(
    customer: ScopedCustomer, data: CustomerUpdate, session: SessionDep, scope: ScopeDep
) -> CustomerOut:
    return CustomerOut.model_validate(await service.update_customer(session, scope, customer, data))


@router.delete("/customers/{customer_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_customer(customer: ScopedCustomer, session: SessionDep, scope: ScopeDep) -> Response:
    """The customer's sales stay, without a customer."""
    await CustomerRepository(session, scope).delete(customer)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


# --- sales -----------------------------------------------------------------------------------


# Filters fit their columns (`sauda.types`), so a query with them cannot fail in the database:
# the export relies on it, its status is sent before the rows.
def sale_filters(
    company_id: Id | None = None,
    date_from: Annotated[
        BusinessDate | None, Query(description="first day (business timezone), inclusive")
    ] = None,
    date_to: Annotated[
        BusinessDate | None, Query(description="last day (business timezone), inclusive")
    ] = None,
    point_id: Id | None = None,
    product_id: Id | None = None,
    customer_id: Id | None = None,
    total_min: MoneyIn | None = None,
    total_max: MoneyIn | None = None,
    search: Annotated[
        str | None,
        Query(max_length=100, description="external id, product name or SKU, customer name"),
    ] = None,
) -> SaleFilters:
    return SaleFilters(
        company_id, date_from, date_to, point_id, product_id, customer_id, total_min, total_max, search
    )


SaleFiltersDep = Annotated[SaleFilters, Depends(sale_filters)]


@router.get("/sales", response_model=Page[SaleOut])
async def list_sales(
    session: SessionDep,
    scope: ScopeDep,
    params: PageDep,
    filters: SaleFiltersDep,
    tz: BusinessTz,
    ordering: SaleOrdering = SaleOrdering.sold_at_desc,
) -> Page[SaleOut]:
    sales = SaleRepository(session, scope)
    rows, total = await sales.paginate(sales.filtered(filters, ordering, tz), params)
    return make_page([SaleOut.model_validate(s) for s in rows], total, params)


@router.post("/sales", response_model=SaleOut, status_code=status.HTTP_201_CREATED)
async def create_sale(
    data: SaleCreate, session: SessionDep, scope: ScopeDep, tz: BusinessTz, _: CurrentUser
) -> SaleOut:
    """`total` is computed (quantity × unit price − discount); send it only to have it checked."""
    return SaleOut.model_validate(await service.create_sale(session, scope, data, tz))


@router.get("/sales/metrics", response_model=MetricsOut)
async def sales_metrics(
    session: SessionDep,
    scope: ScopeDep,
    tz: BusinessTz,
    date_from: BusinessDate,
    date_to: BusinessDate,
    granularity: Granularity = Granularity.day,
    group_by: GroupBy | None = None,
    company_id: Id | None = None,
    point_id: Id | None = None,
    product_id: Id | None = None,
    groups_limit: Annotated[int, Query(ge=1, le=1000, description="groups with the highest net sales")] = 100,
) -> MetricsOut:
    """Per day, week (from Monday) or month of the business timezone, zero-filled: gross sales,
    returns, net sales, receipts, average receipt, units per receipt, return rate (definitions in
    the README); optionally one series per point or product; with the totals of the previous
    period of equal length. Served from the rollups."""
    q = MetricsQuery(date_from, date_to, granularity.value, group_by, company_id, point_id, product_id)
    return await metrics_service.metrics(session, scope, q, tz, groups_limit=groups_limit)


def metrics_period(
    date_from: BusinessDate,
    date_to: BusinessDate,
    company_id: Id | None = None,
    point_id: Id | None = None,
) -> MetricsQuery:
    return MetricsQuery(date_from, date_to, company_id=company_id, point_id=point_id)


MetricsPeriod = Annotated[MetricsQuery, Depends(metrics_period)]


@router.get("/sales/metrics/top-products", response_model=TopProductsOut)
async def top_products(
    session: SessionDep,
    scope: ScopeDep,
    tz: BusinessTz,
    q: MetricsPeriod,
    by: TopBy = TopBy.revenue,
    limit: Annotated[int, Query(ge=1, le=100)] = 10,
) -> TopProductsOut:
    """The best-selling products of the period, net of returns, with each one's net sales in
    the previous period."""
    return await metrics_service.top_products(session, scope, q, tz, by=by, limit=limit)


@router.get("/sales/metrics/payments", response_model=PaymentsOut)
async def payment_metrics(
    session: SessionDep, scope: ScopeDep, tz: BusinessTz, q: MetricsPeriod
) -> PaymentsOut:
    """The split by payment method: paid on sales, refunded on returns, net, each method's share
    of what was paid, and its net in the previous period."""
    return await metrics_service.payments(session, scope, q, tz)


@router.get("/sales/metrics/hours", response_model=HoursOut)
async def hour_metrics(session: SessionDep, scope: ScopeDep, tz: BusinessTz, q: MetricsPeriod) -> HoursOut:
    """Receipts and sales by hour of the day (0–23, business time) over the period: the peak
    hours."""
    return await metrics_service.hours(session, scope, q, tz)


@router.get(
    "/sales/export",
    response_class=StreamingResponse,
    responses={200: {"content": {MEDIA_TYPES[f]: {} for f in ExportFormat}}},
)
async def export_sales(
    request: Request,
    session: SessionDep,
    scope: ScopeDep,
    settings: SettingsDep,
    filters: SaleFiltersDep,
    tz: BusinessTz,
    format: ExportFormat = ExportFormat.csv,
    ordering: SaleOrdering = SaleOrdering.sold_at_desc,
) -> StreamingResponse:
    """The filtered list as a file, in the import layout (at most `SAUDA_SALES__EXPORT_MAX_ROWS`),
    with each line's receipt, kind and payment; an admin's file has a `company_id` column."""
    stmt = export_statement(
        SaleRepository(session, scope).filtered(filters, ordering, tz),
        settings.sales.export_max_rows,
        ordering=ordering,
        with_company=scope.is_global,
    )
    maker, columns = request.app.state.sessionmaker, export_header(with_company=scope.is_global)
    write = csv_chunks if format is ExportFormat.csv else xlsx_chunks
    chunks = write(maker, stmt, tz, columns)
    filename = f"sales.{format.value}"
    return StreamedFile(
        chunks,
        media_type=MEDIA_TYPES[format],
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


@router.post("/sales/imports", response_model=ImportStarted, status_code=status.HTTP_202_ACCEPTED)
async def import_sales(
    session: SessionDep,
    scope: ScopeDep,
    settings: SettingsDep,
    user: CurrentUser,
    file: Annotated[UploadFile, File(description="CSV (UTF-8 or cp1251, `,` or `;`) or XLSX")],
    company_id: Annotated[Id | None, Form(description="required for admins")] = None,
    encoding: Annotated[str, Form(max_length=20, description="of a CSV file: utf-8 or cp1251")] = "utf-8",
    all_or_nothing: Annotated[bool, Form(description="one bad row and nothing is imported")] = True,
    create_missing: Annotated[bool, Form(description="create unknown points, products, customers")] = False,
) -> ImportStarted:
    """Queue a sales file for import; poll `GET /api/v1/sales/imports/{id}`. A file that cannot
    be read at all (type, encoding, header, empty) is refused at once with 422."""
    record = await accept_upload(
        session,
        settings,
        scope,
        user,
        file,
        company_id=company_id,
        encoding=check_encoding(encoding),
        all_or_nothing=all_or_nothing,
        create_missing=create_missing,
    )
    return ImportStarted(id=record.id, status=record.status)


@router.get("/sales/imports", response_model=Page[ImportOut])
async def list_imports(
    session: SessionDep, scope: ScopeDep, params: PageDep, company_id: Id | None = None
) -> Page[ImportOut]:
    imports = ImportRepository(session, scope)
    rows, total = await imports.paginate(imports.recent(company_id), params)
    return make_page([ImportOut.model_validate(i) for i in rows], total, params)


@router.get("/sales/imports/{import_id}", response_model=ImportOut)
async def get_import(import_id: uuid.UUID, session: SessionDep, scope: ScopeDep) -> ImportOut:
    """Status, progress (`rows_read`), counts and the row errors (row, column, message)."""
    return ImportOut.model_validate(await ImportRepository(session, scope).get_import(import_id))


@router.get("/sales/{sale_id}", response_model=SaleOut)
async def get_sale(sale: ScopedSale) -> SaleOut:
    return SaleOut.model_validate(sale)


@router.patch("/sales/{sale_id}", response_model=SaleOut)
async def update_sale(
    sale: LockedSale, data: SaleUpdate, session: SessionDep, scope: ScopeDep, tz: BusinessTz
) -> SaleOut:
    return SaleOut.model_validate(await service.update_sale(session, scope, sale, data, tz))


@router.delete("/sales/{sale_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_sale(sale: LockedSale, session: SessionDep, tz: BusinessTz) -> Response:
    await service.delete_sale(session, sale, tz)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
