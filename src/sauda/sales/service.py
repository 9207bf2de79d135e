"""Business rules of sales: points, customers, sales with their rollups, metrics. Flushes only."""

import uuid
from collections import defaultdict
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession

from sauda.auth.models import User
from sauda.db import conflict_on
from sauda.errors import Conflict, InvalidInput
from sauda.money import KOPECK, MONEY_MAX, money_fits, to_money
from sauda.network.models import Product
from sauda.network.repository import ProductRepository
from sauda.network.service import owner_company
from sauda.sales.models import Customer, Point, Sale
from sauda.sales.repository import (
    CustomerRepository,
    MetricsQuery,
    MetricsRepository,
    PointRepository,
    RollupDeltas,
    RollupRepository,
    SaleRepository,
    hold_company,
)
from sauda.sales.schemas import (
    Bucket,
    Change,
    CustomerCreate,
    CustomerUpdate,
    Figures,
    Granularity,
    GroupBy,
    GroupSeries,
    MetricsOut,
    Period,
    PointCreate,
    PointUpdate,
    SaleCreate,
    SaleUpdate,
    TopProduct,
    TopProductsOut,
)
from sauda.tenancy import Scope

MAX_METRICS_DAYS = 3 * 366


@asynccontextmanager
async def unique_in_company(session: AsyncSession, field: str) -> AsyncIterator[None]:
    """The checks before a write cannot see a concurrent transaction's uncommitted row: when the
    unique constraint catches it instead, that is the same 409, not a 500."""
    taken = Conflict(
        f"{field} is already used in this company",
        fields=[{"field": field, "message": "already used in this company"}],
    )
    async with conflict_on(session, taken):
        yield


# --- points ----------------------------------------------------------------------------------


async def create_point(session: AsyncSession, scope: Scope, actor: User, data: PointCreate) -> Point:
    company_id = await owner_company(session, scope, actor, data.company_id)
    points = PointRepository(session, scope)
    await _ensure_code_free(points, company_id, data.code)
    async with unique_in_company(session, "code"):
        return await points.add(Point(**data.model_dump(exclude={"company_id"}), company_id=company_id))


async def update_point(session: AsyncSession, scope: Scope, point: Point, data: PointUpdate) -> Point:
    changes = data.model_dump(exclude_unset=True)
    if "code" in changes:
        await _ensure_code_free(PointRepository(session, scope), point.company_id, changes["code"], point.id)
    for field, value in changes.items():
        setattr(point, field, value)
    async with unique_in_company(session, "code"):
        await session.flush()
    return point


async def _ensure_code_free(
    points: PointRepository, company_id: int, code: str, exclude: int | None = None
) -> None:
    if await points.code_taken(company_id, code, exclude):
        raise Conflict(
            f"Code {code!r} is already used by another point of this company",
            fields=[{"field": "code", "message": "already used in this company"}],
        )


# --- customers -------------------------------------------------------------------------------


async def create_customer(session: AsyncSession, scope: Scope, actor: User, data: CustomerCreate) -> Customer:
    company_id = await owner_company(session, scope, actor, data.company_id)
    customers = CustomerRepository(session, scope)
    if data.external_id is not None:
        await _ensure_customer_id_free(customers, company_id, data.external_id)
    async with unique_in_company(session, "external_id"):
        return await customers.add(Customer(**data.model_dump(exclude={"company_id"}), company_id=company_id))


async def update_customer(
    session: AsyncSession, scope: Scope, customer: Customer, data: CustomerUpdate
) -> Customer:
    changes = data.model_dump(exclude_unset=True)
    if changes.get("external_id") is not None:
        customers = CustomerRepository(session, scope)
        await _ensure_customer_id_free(customers, customer.company_id, changes["external_id"], customer.id)
    for field, value in changes.items():
        setattr(customer, field, value)
    async with unique_in_company(session, "external_id"):
        await session.flush()
    return customer


async def _ensure_customer_id_free(
    customers: CustomerRepository, company_id: int, external_id: str, exclude: int | None = None
) -> None:
    if await customers.external_id_taken(company_id, external_id, exclude):
        raise Conflict(
            f"External id {external_id!r} is already used by another customer",
            fields=[{"field": "external_id", "message": "already used in this company"}],
        )


# --- sales -----------------------------------------------------------------------------------


def sale_total(quantity: Decimal, unit_price: Decimal, discount: Decimal) -> Decimal:
    return (quantity * unit_price - discount).quantize(KOPECK, rounding=ROUND_HALF_UP)


def _check_total(quantity: Decimal, unit_price: Decimal, discount: Decimal, sent: Decimal | None) -> Decimal:
    gross = to_money(quantity * unit_price)
    if discount > gross:
        raise InvalidInput.for_field("discount", f"is larger than quantity × unit price ({gross})")
    total = sale_total(quantity, unit_price, discount)
    if not money_fits(total):
        raise InvalidInput.for_field(
            "total", f"quantity × unit price − discount = {total} is beyond {MONEY_MAX}"
        )
    if sent is not None and to_money(sent) != total:
        raise InvalidInput.for_field("total", f"must be quantity × unit price − discount = {total}")
    return total


def business_aware(moment: datetime, tz: ZoneInfo) -> datetime:
    """A moment without an offset is business time; stored and answered in UTC."""
    return (moment.replace(tzinfo=tz) if moment.tzinfo is None else moment).astimezone(UTC)


async def _resolve_refs(session: AsyncSession, scope: Scope, values: dict[str, Any]) -> None:
    """Point, product and customer must exist in the caller's scope and in the point's company:
    anything else is 404, as if it did not exist."""
    point = await PointRepository(session, scope).get(values["point_id"])
    same_company = Scope.company(point.company_id)
    product: Product = await ProductRepository(session, same_company).get(values["product_id"])
    if values.get("customer_id") is not None:
        await CustomerRepository(session, same_company).get(values["customer_id"])
    values["company_id"] = product.company_id


@asynccontextmanager
async def _rollup_changes(
    session: AsyncSession, tz: ZoneInfo, batch: RollupDeltas | None
) -> AsyncIterator[RollupDeltas]:
    """Where a write puts its rollup changes: a batch's, applied by the batch at its end, or its
    own, applied here once the write is done. Either way after every sale row, in lock order."""
    if batch is not None:
        yield batch
        return
    deltas = RollupDeltas(tz)
    yield deltas
    await RollupRepository(session, tz).apply(deltas)


async def create_sale(
    session: AsyncSession,
    scope: Scope,
    data: SaleCreate,
    tz: ZoneInfo,
    *,
    batch: RollupDeltas | None = None,
    ref: uuid.UUID | None = None,
) -> Sale:
    """`ref`: the 1C reference of a sale made in 1C (else the sale gets a new one)."""
    values = data.model_dump(exclude={"total"}) | ({"ref": ref} if ref else {})
    await _resolve_refs(session, scope, values)
    await hold_company(session, values["company_id"])
    values["total"] = _check_total(data.quantity, data.unit_price, data.discount, data.total)
    values["sold_at"] = business_aware(data.sold_at, tz)
    sales = SaleRepository(session, scope)
    if data.external_id is not None:
        await _ensure_sale_id_free(sales, values["company_id"], data.external_id)
    async with _rollup_changes(session, tz, batch) as rollups:
        async with unique_in_company(session, "external_id"):
            sale = await sales.add(Sale(**values))
        rollups.add(sale, +1)
    return sale


async def update_sale(
    session: AsyncSession,
    scope: Scope,
    sale: Sale,
    data: SaleUpdate,
    tz: ZoneInfo,
    *,
    batch: RollupDeltas | None = None,
) -> Sale:
    """`sale` comes locked, its company held first (`SaleRepository.get_for_update`)."""
    changes = data.model_dump(exclude_unset=True)
    sent_total = changes.pop("total", None)
    current = {c: getattr(sale, c) for c in ("point_id", "product_id", "customer_id")}
    values = current | {k: v for k, v in changes.items() if k in current}
    if values != current:
        await _resolve_refs(session, scope, values)
        if values["company_id"] != sale.company_id:
            raise InvalidInput.for_field("point_id", "a sale stays with its company")
    if changes.get("external_id") is not None:
        await _ensure_sale_id_free(
            SaleRepository(session, scope), sale.company_id, changes["external_id"], sale.id
        )
    async with _rollup_changes(session, tz, batch) as rollups:
        rollups.add(sale, -1)
        for field, value in changes.items():
            setattr(sale, field, business_aware(value, tz) if field == "sold_at" else value)
        sale.total = _check_total(sale.quantity, sale.unit_price, sale.discount, sent_total)
        async with unique_in_company(session, "external_id"):
            await session.flush()
        rollups.add(sale, +1)
    return sale


async def delete_sale(
    session: AsyncSession, sale: Sale, tz: ZoneInfo, *, batch: RollupDeltas | None = None
) -> None:
    """`sale` comes locked, its company held first (`SaleRepository.get_for_update`)."""
    async with _rollup_changes(session, tz, batch) as rollups:
        await session.delete(sale)
        await session.flush()
        rollups.add(sale, -1)


async def _ensure_sale_id_free(
    sales: SaleRepository, company_id: int, external_id: str, exclude: int | None = None
) -> None:
    if await sales.external_id_taken(company_id, external_id, exclude):
        raise Conflict(
            f"External id {external_id!r} is already used by another sale",
            fields=[{"field": "external_id", "message": "already used in this company"}],
        )


# --- metrics ---------------------------------------------------------------------------------


def check_period(date_from: date, date_to: date) -> None:
    if date_to < date_from:
        raise InvalidInput.for_field("date_to", "must not be before date_from")
    if (date_to - date_from).days >= MAX_METRICS_DAYS:
        raise InvalidInput.for_field("date_to", f"a period spans at most {MAX_METRICS_DAYS} days")


def previous_period(date_from: date, date_to: date) -> tuple[date, date]:
    length = (date_to - date_from).days + 1
    return date_from - timedelta(days=length), date_from - timedelta(days=1)


def bucket_starts(date_from: date, date_to: date, granularity: Granularity) -> list[date]:
    """Every bucket that touches the period, so empty ones appear as zeros."""
    if granularity is Granularity.month:
        start = date_from.replace(day=1)
        starts = []
        while start <= date_to:
            starts.append(start)
            start = (start + timedelta(days=32)).replace(day=1)
        return starts
    step = 1 if granularity is Granularity.day else 7
    first = date_from if step == 1 else date_from - timedelta(days=date_from.weekday())
    return [first + timedelta(days=n) for n in range(0, (date_to - first).days + 1, step)]


def figures(revenue: Decimal, sales: int, quantity: Decimal) -> Figures:
    average = to_money(revenue / sales) if sales else Decimal("0.00")
    return Figures(revenue=to_money(revenue), sales=int(sales), quantity=quantity, average_ticket=average)


def _percent(now: Decimal, before: Decimal) -> float | None:
    if not before:
        return None
    return float(((now - before) / before * 100).quantize(Decimal("0.1")))


def _change(now: Figures, before: Figures) -> Change:
    return Change(
        revenue=_percent(now.revenue, before.revenue),
        sales=_percent(Decimal(now.sales), Decimal(before.sales)),
        quantity=_percent(now.quantity, before.quantity),
        average_ticket=_percent(now.average_ticket, before.average_ticket),
    )


def _series(starts: list[date], rows: list[Any]) -> list[Bucket]:
    by_start = {row.bucket: row for row in rows}
    zero = Decimal("0")
    return [
        Bucket(start=s, **figures(r.revenue, r.sales, r.quantity).model_dump())
        if (r := by_start.get(s))
        else Bucket(start=s, **figures(zero, 0, zero).model_dump())
        for s in starts
    ]


def _summed(rows: list[Any]) -> Figures:
    zero = Decimal("0")
    return figures(
        sum((r.revenue for r in rows), zero),
        sum(r.sales for r in rows),
        sum((r.quantity for r in rows), zero),
    )


async def metrics(
    session: AsyncSession, scope: Scope, q: MetricsQuery, tz: ZoneInfo, *, groups_limit: int
) -> MetricsOut:
    check_period(q.date_from, q.date_to)
    repo = MetricsRepository(session, scope, tz)
    rows = list(await repo.buckets(q))
    starts = bucket_starts(q.date_from, q.date_to, Granularity(q.granularity))
    by_group: dict[Any, list[Any]] = defaultdict(list)
    for row in rows:
        by_group[row.grp].append(row)
    prev_from, prev_to = previous_period(q.date_from, q.date_to)
    before = await repo.totals(q, prev_from, prev_to)
    totals = _summed(rows)
    previous = figures(before.revenue, before.sales, before.quantity)
    groups = None
    if q.group_by is not None:
        groups = await _groups(repo, q.group_by, by_group, starts, groups_limit)
    return MetricsOut(
        granularity=Granularity(q.granularity),
        timezone=tz.key,
        date_from=q.date_from,
        date_to=q.date_to,
        group_by=q.group_by,
        totals=totals,
        buckets=_series(starts, _merge_groups(rows)),
        groups=groups,
        previous=Period(date_from=prev_from, date_to=prev_to, totals=previous),
        change=_change(totals, previous),
    )


def _merge_groups(rows: list[Any]) -> list[Any]:
    merged: dict[date, list[Any]] = defaultdict(list)
    for row in rows:
        merged[row.bucket].append(row)
    return [_Row(bucket, rs) for bucket, rs in merged.items()]


class _Row:
    def __init__(self, bucket: date, rows: list[Any]) -> None:
        self.bucket = bucket
        self.revenue = sum((r.revenue for r in rows), Decimal("0"))
        self.sales = sum(r.sales for r in rows)
        self.quantity = sum((r.quantity for r in rows), Decimal("0"))


async def _groups(
    repo: MetricsRepository, group_by: GroupBy, by_group: dict[Any, list[Any]], starts: list[date], limit: int
) -> list[GroupSeries]:
    ranked = sorted(by_group.items(), key=lambda item: (-_summed(item[1]).revenue, item[0]))[:limit]
    names = await repo.names(group_by, [gid for gid, _ in ranked])
    return [
        GroupSeries(id=gid, name=names.get(gid, ""), totals=_summed(rows), buckets=_series(starts, rows))
        for gid, rows in ranked
    ]


async def top_products(
    session: AsyncSession, scope: Scope, q: MetricsQuery, tz: ZoneInfo, *, by: str, limit: int
) -> TopProductsOut:
    check_period(q.date_from, q.date_to)
    rows = await MetricsRepository(session, scope, tz).top_products(
        q, order=by, limit=limit, previous=previous_period(q.date_from, q.date_to)
    )
    items = [
        TopProduct(
            product_id=r.product_id,
            sku=r.sku,
            name=r.name,
            revenue=to_money(r.revenue),
            sales=int(r.sales),
            quantity=r.quantity,
            previous_revenue=to_money(r.previous_revenue),
        )
        for r in rows
    ]
    return TopProductsOut(date_from=q.date_from, date_to=q.date_to, by=by, items=items)
