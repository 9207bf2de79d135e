"""Queries of the sales domain: points, customers, sales, imports (metrics: sauda.sales.metrics).

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
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import (
    ColumnElement,
    Select,
    func,
    or_,
    select,
)
from sqlalchemy.ext.asyncio import AsyncSession

from sauda.errors import NotFound
from sauda.network.models import Company, Product
from sauda.repository import Repository, escape_like
from sauda.sales.models import (
    Customer,
    Point,
    PointKind,
    Receipt,
    Sale,
    SalesImport,
)
from sauda.sales.schemas import CustomerOrdering, PointOrdering, SaleOrdering


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
        """The sale, locked: its old figures leave the rollups, so nobody may change it meanwhile.
        Its company is held first, then its receipt is locked before the line (the writers' lock
        order; a sale never changes company or receipt)."""
        found = await self.session.execute(
            select(Sale.company_id, Sale.receipt_id).where(self.scope.where(Sale.company_id), Sale.id == id_)
        )
        row = found.first()
        if row is None:
            raise NotFound(f"Sale {id_} not found")
        await hold_company(self.session, row.company_id)
        await self.session.execute(select(Receipt.id).where(Receipt.id == row.receipt_id).with_for_update())
        sale = await self.session.scalar(self.select().where(Sale.id == id_).with_for_update())
        if sale is None:
            raise NotFound(f"Sale {id_} not found")
        return sale

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
