"""Queries of the sales domain: points, customers, sales, the daily rollups, imports.

Lock order of every writer of sales and rollups (API, admin, import, 1C, deletes, the company's
deletion), so that no mix of them can wait in a cycle:

1. the company row: KEY SHARE (`hold_company`), shared by writers; its deletion takes it
   exclusively (FOR UPDATE), so deletion and writers wait for each other before either holds
   anything else;
2. writers of many rows at once (an import, a 1C batch) take the company's batch lock
   (`lock_company_batch`): two of them would otherwise meet on unique keys (sales' external
   ids, point codes, SKUs) in opposite orders;
3. the receipt and line rows written or read for update (a return locks the lines it returns);
4. the rollup rows, all in one go at the end (`sauda.sales.rollups`): table by table in one
   order, each in key order. A transaction holding rollup rows waits only for rollup rows,
   which all writers take in that same order.
"""

import operator
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import (
    ColumnElement,
    Date,
    DateTime,
    Select,
    and_,
    cast,
    func,
    literal,
    or_,
    select,
)
from sqlalchemy.ext.asyncio import AsyncSession

from sauda.errors import NotFound
from sauda.network.models import Company, Product
from sauda.repository import Repository, escape_like
from sauda.sales.models import (
    Customer,
    DailyPointSales,
    DailyProductSales,
    Point,
    PointKind,
    Receipt,
    Sale,
    SalesImport,
)
from sauda.sales.schemas import CustomerOrdering, GroupBy, PointOrdering, SaleOrdering
from sauda.tenancy import Scope


def _ordered(stmt: Select[Any], model: Any, ordering: str) -> Select[Any]:
    column = getattr(model, ordering.lstrip("-"))
    first = column.desc() if ordering.startswith("-") else column.asc()
    tiebreak = model.id.desc() if ordering.startswith("-") else model.id.asc()
    return stmt.order_by(first, tiebreak)


def day_bounds(date_from: date | None, date_to: date | None, tz: ZoneInfo) -> tuple[datetime | None, ...]:
    """Business-timezone days (inclusive) as a half-open UTC-comparable range."""
    start = datetime.combine(date_from, time(), tz) if date_from else None
    end = datetime.combine(date_to + timedelta(days=1), time(), tz) if date_to else None
    return start, end


class PointRepository(Repository[Point]):
    model = Point
    tenant_column = Point.company_id
    label = "Point"

    def filtered(
        self,
        *,
        company_id: int | None = None,
        city: str | None = None,
        kind: PointKind | None = None,
        is_active: bool | None = None,
        search: str | None = None,
        ordering: PointOrdering = PointOrdering.name,
    ) -> Select[Point]:
        stmt = self.select()
        for column, value in (
            (Point.company_id, company_id),
            (Point.city, city),
            (Point.kind, kind),
            (Point.is_active, is_active),
        ):
            if value is not None:
                stmt = stmt.where(column == value)
        if search:
            pattern = f"%{escape_like(search)}%"
            stmt = stmt.where(or_(Point.name.ilike(pattern), Point.code.ilike(pattern)))
        return _ordered(stmt, Point, ordering.value)

    async def code_taken(self, company_id: int, code: str, exclude_id: int | None = None) -> bool:
        stmt = select(Point.id).where(Point.company_id == company_id, Point.code == code)
        if exclude_id is not None:
            stmt = stmt.where(Point.id != exclude_id)
        return (await self.session.scalar(stmt)) is not None


class CustomerRepository(Repository[Customer]):
    model = Customer
    tenant_column = Customer.company_id
    label = "Customer"

    def filtered(
        self,
        *,
        company_id: int | None = None,
        search: str | None = None,
        ordering: CustomerOrdering = CustomerOrdering.name,
    ) -> Select[Customer]:
        stmt = self.select()
        if company_id is not None:
            stmt = stmt.where(Customer.company_id == company_id)
        if search:
            pattern = f"%{escape_like(search)}%"
            stmt = stmt.where(
                or_(
                    Customer.name.ilike(pattern),
                    Customer.phone.ilike(pattern),
                    Customer.email.ilike(pattern),
                    Customer.external_id == search,
                )
            )
        return _ordered(stmt, Customer, ordering.value)

    async def external_id_taken(
        self, company_id: int, external_id: str, exclude_id: int | None = None
    ) -> bool:
        stmt = select(Customer.id).where(
            Customer.company_id == company_id, Customer.external_id == external_id
        )
        if exclude_id is not None:
            stmt = stmt.where(Customer.id != exclude_id)
        return (await self.session.scalar(stmt)) is not None


@dataclass(frozen=True)
class SaleFilters:
    company_id: int | None = None
    date_from: date | None = None
    date_to: date | None = None
    point_id: int | None = None
    product_id: int | None = None
    customer_id: int | None = None
    total_min: Decimal | None = None
    total_max: Decimal | None = None
    search: str | None = None


class SaleRepository(Repository[Sale]):
    model = Sale
    tenant_column = Sale.company_id
    label = "Sale"

    def filtered(self, filters: SaleFilters, ordering: SaleOrdering, tz: ZoneInfo) -> Select[Sale]:
        stmt = self.select()
        start, end = day_bounds(filters.date_from, filters.date_to, tz)
        for column, op, value in (
            (Sale.company_id, operator.eq, filters.company_id),
            (Sale.sold_at, operator.ge, start),
            (Sale.sold_at, operator.lt, end),
            (Sale.point_id, operator.eq, filters.point_id),
            (Sale.product_id, operator.eq, filters.product_id),
            (Sale.customer_id, operator.eq, filters.customer_id),
            (Sale.total, operator.ge, filters.total_min),
            (Sale.total, operator.le, filters.total_max),
        ):
            if value is not None:
                stmt = stmt.where(op(column, value))
        if filters.search:
            stmt = stmt.where(self._matches(filters.search))
        return _ordered(stmt, Sale, ordering.value)

    def _matches(self, search: str) -> ColumnElement[bool]:
        pattern = f"%{escape_like(search)}%"
        products = select(Product.id).where(
            self.scope.where(Product.company_id), or_(Product.name.ilike(pattern), Product.sku.ilike(pattern))
        )
        customers = select(Customer.id).where(
            self.scope.where(Customer.company_id), Customer.name.ilike(pattern)
        )
        return or_(Sale.external_id == search, Sale.product_id.in_(products), Sale.customer_id.in_(customers))

    async def get_for_update(self, id_: int) -> Sale:
        """The sale, locked: its old figures leave the rollup, so nobody may change it meanwhile.
        Its company is held first, then its receipt is locked (the writers' lock order: a return
        locks the receipt, then its new lines' keys need the lines it returns; a sale never
        changes company or receipt)."""
        owners = (
            await self.session.execute(
                select(Sale.company_id, Sale.receipt_id).where(
                    self.scope.where(Sale.company_id), Sale.id == id_
                )
            )
        ).first()
        if owners is not None:
            await hold_company(self.session, owners.company_id)
            await self.session.execute(
                select(Receipt.id).where(Receipt.id == owners.receipt_id).with_for_update()
            )
        found = await self.session.scalar(self.select().where(Sale.id == id_).with_for_update())
        if found is None:
            raise NotFound(f"Sale {id_} not found")
        return found

    async def by_external_id_for_update(self, company_id: int, external_id: str) -> Sale | None:
        """For a writer that already holds the company (see the module's lock order)."""
        stmt = self.select().where(Sale.company_id == company_id, Sale.external_id == external_id)
        return await self.session.scalar(stmt.with_for_update())

    async def external_id_taken(
        self, company_id: int, external_id: str, exclude_id: int | None = None
    ) -> bool:
        stmt = select(Sale.id).where(Sale.company_id == company_id, Sale.external_id == external_id)
        if exclude_id is not None:
            stmt = stmt.where(Sale.id != exclude_id)
        return (await self.session.scalar(stmt)) is not None


# --- locks of writers (the order is in the module's docstring) ------------------------------

# Key class of `pg_advisory_xact_lock(class, company_id)`: the two-int4 key space, apart from the
# single bigint keys of other locks.
COMPANY_BATCH_LOCK = 0x5A1E5


async def hold_company(session: AsyncSession, company_id: int, *, exclusive: bool = False) -> None:
    """Lock the company row: KEY SHARE for writers of its sales (they do not block each other, nor
    edits of the company), FOR UPDATE to keep them all out. A company that is gone is a 404."""
    stmt = select(Company.id).where(Company.id == company_id)
    locked = stmt.with_for_update() if exclusive else stmt.with_for_update(key_share=True, read=True)
    if await session.scalar(locked) is None:
        raise NotFound(f"Company {company_id} not found")


async def lock_company_batch(session: AsyncSession, company_id: int) -> None:
    """Batches of one company (imports, 1C pushes) take turns; other companies' do not wait."""
    await session.execute(select(func.pg_advisory_xact_lock(COMPANY_BATCH_LOCK, company_id)))


@dataclass(frozen=True)
class MetricsQuery:
    date_from: date
    date_to: date
    granularity: str
    group_by: GroupBy | None = None
    company_id: int | None = None
    point_id: int | None = None
    product_id: int | None = None


@dataclass(frozen=True)
class _Source:
    company: Any
    day: Any
    revenue: Any
    count: Any
    quantity: Any
    point: Any
    product: Any
    direct: bool = False


_POINT_ROLLUP = _Source(
    DailyPointSales.company_id,
    DailyPointSales.day,
    DailyPointSales.revenue,
    DailyPointSales.sales_count,
    DailyPointSales.quantity,
    DailyPointSales.point_id,
    None,
)
_PRODUCT_ROLLUP = _Source(
    DailyProductSales.company_id,
    DailyProductSales.day,
    DailyProductSales.revenue,
    DailyProductSales.sales_count,
    DailyProductSales.quantity,
    None,
    DailyProductSales.product_id,
)


def _sales_source(tz: ZoneInfo) -> _Source:
    day = cast(func.timezone(tz.key, Sale.sold_at), Date)
    return _Source(
        Sale.company_id, day, Sale.total, literal(1), Sale.quantity, Sale.point_id, Sale.product_id, True
    )


class MetricsRepository:
    """Aggregates served from the rollups; only a filter on both a point and a product (which no
    rollup keeps together) falls back to aggregating `sales` itself."""

    def __init__(self, session: AsyncSession, scope: Scope, tz: ZoneInfo) -> None:
        self.session = session
        self.scope = scope
        self.tz = tz

    def _source(self, q: MetricsQuery) -> _Source:
        wants_point = q.group_by is GroupBy.point or q.point_id is not None
        wants_product = q.group_by is GroupBy.product or q.product_id is not None
        if wants_point and wants_product:
            return _sales_source(self.tz)
        return _PRODUCT_ROLLUP if wants_product else _POINT_ROLLUP

    def _where(self, src: _Source, q: MetricsQuery, date_from: date, date_to: date) -> list[Any]:
        conditions = [self.scope.where(src.company), src.day >= date_from, src.day <= date_to]
        if src.direct:  # aggregating `sales`: bound sold_at too, so an index range serves it
            start, end = day_bounds(date_from, date_to, self.tz)
            conditions += [Sale.sold_at >= start, Sale.sold_at < end]
        for column, value in (
            (src.company, q.company_id),
            (src.point, q.point_id),
            (src.product, q.product_id),
        ):
            if value is not None:
                conditions.append(column == value)
        return conditions

    async def buckets(self, q: MetricsQuery) -> Sequence[Any]:
        """Rows of (bucket, group, revenue, sales, quantity); group is None without group_by."""
        src = self._source(q)
        # On a timestamp without time zone: no session-timezone conversion for every row.
        bucket = cast(func.date_trunc(q.granularity, cast(src.day, DateTime)), Date).label("bucket")
        group = self._group_column(src, q.group_by)
        stmt = (
            select(
                bucket,
                group.label("grp"),
                func.sum(src.revenue).label("revenue"),
                func.sum(src.count).label("sales"),
                func.sum(src.quantity).label("quantity"),
            )
            .where(and_(*self._where(src, q, q.date_from, q.date_to)))
            .group_by(bucket, group)
        )
        return (await self.session.execute(stmt)).all()

    def _group_column(self, src: _Source, group_by: GroupBy | None) -> Any:
        if group_by is GroupBy.point:
            return src.point
        if group_by is GroupBy.product:
            return src.product
        return literal(None)

    async def totals(self, q: MetricsQuery, date_from: date, date_to: date) -> Any:
        src = self._source(
            MetricsQuery(date_from, date_to, q.granularity, None, q.company_id, q.point_id, q.product_id)
        )
        stmt = select(
            func.coalesce(func.sum(src.revenue), 0).label("revenue"),
            func.coalesce(func.sum(src.count), 0).label("sales"),
            func.coalesce(func.sum(src.quantity), 0).label("quantity"),
        ).where(and_(*self._where(src, q, date_from, date_to)))
        return (await self.session.execute(stmt)).one()

    async def top_products(
        self, q: MetricsQuery, *, order: str, limit: int, previous: tuple[date, date]
    ) -> Sequence[Any]:
        src = _PRODUCT_ROLLUP if q.point_id is None else _sales_source(self.tz)
        sums = {
            "revenue": func.sum(src.revenue),
            "sales": func.sum(src.count),
            "quantity": func.sum(src.quantity),
        }
        current = (
            select(src.product.label("product_id"), *(v.label(k) for k, v in sums.items()))
            .where(and_(*self._where(src, q, q.date_from, q.date_to)))
            .group_by(src.product)
            .order_by(sums[order].desc(), src.product)
            .limit(limit)
            .subquery()
        )
        before = (
            select(src.product.label("product_id"), func.sum(src.revenue).label("revenue"))
            .where(and_(*self._where(src, q, *previous)), src.product.in_(select(current.c.product_id)))
            .group_by(src.product)
            .subquery()
        )
        stmt = (
            select(
                current,
                Product.sku,
                Product.name,
                func.coalesce(before.c.revenue, 0).label("previous_revenue"),
            )
            .join(Product, Product.id == current.c.product_id)
            .outerjoin(before, before.c.product_id == current.c.product_id)
            .order_by(current.c[order].desc(), current.c.product_id)
        )
        return (await self.session.execute(stmt)).all()

    async def names(self, group_by: GroupBy, ids: list[int]) -> dict[int, str]:
        model: Any = Point if group_by is GroupBy.point else Product
        rows = await self.session.execute(select(model.id, model.name).where(model.id.in_(ids)))
        return {row.id: row.name for row in rows}


class ImportRepository(Repository[SalesImport]):
    model = SalesImport
    tenant_column = SalesImport.company_id
    label = "Import"

    def recent(self, company_id: int | None) -> Select[SalesImport]:
        stmt = self.select()
        if company_id is not None:
            stmt = stmt.where(SalesImport.company_id == company_id)
        return stmt.order_by(SalesImport.created_at.desc(), SalesImport.id)

    async def get_import(self, import_id: Any) -> SalesImport:
        found = await self.session.scalar(self.select().where(SalesImport.id == import_id))
        if found is None:
            raise NotFound(f"Import {import_id} not found")
        return found
