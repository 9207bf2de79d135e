"""Queries of the metrics: sums over the rollups (sauda.sales.rollups), each read by the key that
fits the question, so a request reads rollup rows, not receipts.

- by point or for the whole company: `sales_daily_points`;
- by product: `sales_daily_products`; where days are not needed (month buckets, totals, top
  products), `sales_monthly_products` for the whole months of the period and the daily rollup
  only for the days at its edges;
- a point *and* a product together (no rollup keeps both): the receipt lines themselves, an
  index-only range of the point's `(point_id, sold_at)` index;
- payment methods: `sales_daily_payments`; hours of the day: `sales_hourly_points`.
"""

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import date, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import (
    Date,
    DateTime,
    Select,
    Subquery,
    case,
    cast,
    func,
    select,
    union_all,
)
from sqlalchemy.ext.asyncio import AsyncSession

from sauda.network.models import Product
from sauda.sales.metrics.schemas import GroupBy, TopBy
from sauda.sales.models import (
    DailyPayments,
    DailyPointSales,
    DailyProductSales,
    HourlyPointSales,
    MonthlyProductSales,
    Point,
    ReceiptKind,
    Sale,
)
from sauda.sales.repository import day_bounds
from sauda.tenancy import Scope


@dataclass(frozen=True)
class MetricsQuery:
    date_from: date
    date_to: date
    granularity: str = "day"
    group_by: GroupBy | None = None
    company_id: int | None = None
    point_id: int | None = None
    product_id: int | None = None


# The figures every line source sums (names of the result columns).
LINE_FIGURES = ("gross", "returns", "lines", "quantity", "returned_quantity", "receipts", "return_receipts")


@dataclass(frozen=True)
class _Source:
    """Where figures are summed from: the key columns and the expression of every figure."""

    company: Any
    day: Any
    point: Any
    product: Any
    sums: dict[str, Any] = field(hash=False)
    lines: bool = False  # the receipt lines themselves, not a rollup

    def keys(self) -> list[Any]:
        named = (("point_id", self.point), ("product_id", self.product))
        return [column.label(name) for name, column in named if column is not None]


def _line_rollup(
    model: Any, day: Any, *, point: Any, product: Any, receipts: Any, return_receipts: Any
) -> _Source:
    sums = {
        "gross": model.revenue,
        "returns": model.returns,
        "lines": model.sales_count,
        "quantity": model.quantity,
        "returned_quantity": model.returned_quantity,
        "receipts": receipts,
        "return_receipts": return_receipts,
    }
    return _Source(model.company_id, day, point, product, sums)


_POINTS = _line_rollup(
    DailyPointSales,
    DailyPointSales.day,
    point=DailyPointSales.point_id,
    product=None,
    receipts=DailyPointSales.receipts,
    return_receipts=DailyPointSales.return_receipts,
)
# The product rollups keep no receipt count: by product, a receipt counts once per line of it.
_PRODUCTS = _line_rollup(
    DailyProductSales,
    DailyProductSales.day,
    point=None,
    product=DailyProductSales.product_id,
    receipts=DailyProductSales.sales_count,
    return_receipts=DailyProductSales.return_lines,
)
# `day` is the month's first day here.
_MONTHS = _line_rollup(
    MonthlyProductSales,
    MonthlyProductSales.month,
    point=None,
    product=MonthlyProductSales.product_id,
    receipts=MonthlyProductSales.sales_count,
    return_receipts=MonthlyProductSales.return_lines,
)
_PAYMENTS = _Source(
    DailyPayments.company_id,
    DailyPayments.day,
    DailyPayments.point_id,
    None,
    {
        "paid": DailyPayments.paid,
        "payments": DailyPayments.payments,
        "refunded": DailyPayments.refunded,
        "refunds": DailyPayments.refunds,
    },
)
_HOURS = _Source(
    HourlyPointSales.company_id,
    HourlyPointSales.day,
    HourlyPointSales.point_id,
    None,
    {
        "gross": HourlyPointSales.revenue,
        "receipts": HourlyPointSales.receipts,
        "returns": HourlyPointSales.returns,
        "return_receipts": HourlyPointSales.return_receipts,
    },
)


def _lines(tz: ZoneInfo) -> _Source:
    sold = Sale.kind == ReceiptKind.sale

    def of_sales(value: Any) -> Any:
        return case((sold, value), else_=0)

    def of_returns(value: Any) -> Any:
        return case((sold, 0), else_=value)

    sums = {
        "gross": of_sales(Sale.total),
        "returns": of_returns(Sale.total),
        "lines": of_sales(1),
        "quantity": of_sales(Sale.quantity),
        "returned_quantity": of_returns(Sale.quantity),
        "receipts": of_sales(1),  # as in the product rollup: once per line
        "return_receipts": of_returns(1),
    }
    day = cast(func.timezone(tz.key, Sale.sold_at), Date)
    return _Source(Sale.company_id, day, Sale.point_id, Sale.product_id, sums, lines=True)


def _next_month(day: date) -> date:
    return (day.replace(day=1) + timedelta(days=32)).replace(day=1)


def split_by_months(
    date_from: date, date_to: date
) -> tuple[tuple[date, date] | None, list[tuple[date, date]]]:
    """The period (inclusive days) as its whole calendar months (the first days of the first and
    the last one) and the ranges of days (inclusive) left at its edges."""
    first = date_from if date_from.day == 1 else _next_month(date_from)
    after = (date_to + timedelta(days=1)).replace(day=1)  # whole months end before this day
    if first >= after:
        return None, [(date_from, date_to)]
    edges = [(date_from, first - timedelta(days=1)), (after, date_to)]
    last = (after - timedelta(days=1)).replace(day=1)
    return (first, last), [(a, b) for a, b in edges if a <= b]


class MetricsRepository:
    def __init__(self, session: AsyncSession, scope: Scope, tz: ZoneInfo) -> None:
        self.session = session
        self.scope = scope
        self.tz = tz

    def _source(self, q: MetricsQuery) -> _Source:
        wants_point = q.group_by is GroupBy.point or q.point_id is not None
        wants_product = q.group_by is GroupBy.product or q.product_id is not None
        if wants_point and wants_product:
            return _lines(self.tz)
        return _PRODUCTS if wants_product else _POINTS

    def _where(self, src: _Source, q: MetricsQuery, date_from: date, date_to: date) -> list[Any]:
        conditions = [self.scope.where(src.company)]
        if src.lines:  # the business days as a range of sold_at, which an index serves
            start, end = day_bounds(date_from, date_to, self.tz)
            conditions += [Sale.sold_at >= start, Sale.sold_at < end]
        else:
            conditions += [src.day >= date_from, src.day <= date_to]
        filters = ((src.company, q.company_id), (src.point, q.point_id), (src.product, q.product_id))
        for column, value in filters:
            if value is not None:
                conditions.append(column == value)
        return conditions

    def _rows(
        self, q: MetricsQuery, date_from: date, date_to: date, *, by_month: bool, products: Any = None
    ) -> Subquery:
        """Rows of (day, point_id and/or product_id, LINE_FIGURES...) covering the period, from
        the source that fits the query. By product, when days are not needed (`by_month`), the
        whole calendar months come from the monthly rollup (its `day` is the month's first) and
        only the days at the period's edges from the daily one: a year reads about 12 rows per
        product instead of 365. `products`: only these (a subquery of ids)."""
        src = self._source(q)
        parts = [(src, date_from, date_to)]
        if src is _PRODUCTS and by_month:
            months, edges = split_by_months(date_from, date_to)
            parts = [(_PRODUCTS, a, b) for a, b in edges] + ([(_MONTHS, *months)] if months else [])
        selects = []
        for part, a, b in parts:
            stmt = select(
                part.day.label("day"),
                *part.keys(),
                *(e.label(n) for n, e in part.sums.items()),
            ).where(*self._where(part, q, a, b))
            if products is not None:
                stmt = stmt.where(part.product.in_(products))
            selects.append(stmt)
        return (selects[0] if len(selects) == 1 else union_all(*selects)).subquery("source")

    @staticmethod
    def _sums(rows: Subquery) -> list[Any]:
        return [func.coalesce(func.sum(rows.c[name]), 0).label(name) for name in LINE_FIGURES]

    @staticmethod
    def _bucket(rows: Subquery, q: MetricsQuery) -> Any:
        # On a timestamp without time zone: no session-timezone conversion for every row.
        return cast(func.date_trunc(q.granularity, cast(rows.c.day, DateTime)), Date).label("bucket")

    async def buckets(self, q: MetricsQuery) -> Sequence[Any]:
        """Rows of (bucket, LINE_FIGURES...) of everything the filters select (no groups)."""
        whole = replace(q, group_by=None)
        rows = self._rows(whole, q.date_from, q.date_to, by_month=q.granularity == "month")
        bucket = self._bucket(rows, q)
        stmt = select(bucket, *self._sums(rows)).group_by(bucket)
        return (await self.session.execute(stmt)).all()

    async def group_buckets(self, q: MetricsQuery, limit: int) -> Sequence[Any]:
        """Rows of (bucket, grp, LINE_FIGURES...) of the `limit` groups (points or products)
        with the highest net sales (then the lower id), in that order."""
        rows = self._rows(q, q.date_from, q.date_to, by_month=q.granularity == "month")
        bucket = self._bucket(rows, q)
        if q.group_by is GroupBy.point:
            stmt = self._ranked_cells(rows, bucket, rows.c.point_id, limit)
        else:
            stmt = self._cells_of_top(rows, bucket, rows.c.product_id, limit)
        found: Sequence[Any] = (await self.session.execute(stmt)).all()
        return found

    def _ranked_cells(self, rows: Subquery, bucket: Any, grp: Any, limit: int) -> Select[Any]:
        """Few groups (a company's points): sum every (bucket, group) cell, rank the groups over
        the cells with a window, in one pass."""
        cells = select(bucket, grp.label("grp"), *self._sums(rows)).group_by(bucket, grp).subquery("cells")
        net = func.sum(cells.c.gross - cells.c.returns).over(partition_by=cells.c.grp)
        with_net = select(cells, net.label("net")).subquery("with_net")
        rank = func.dense_rank().over(order_by=(with_net.c.net.desc(), with_net.c.grp))
        ranked = select(with_net, rank.label("rank")).subquery("ranked")
        return select(ranked).where(ranked.c.rank <= limit).order_by(ranked.c.rank, ranked.c.bucket)

    def _cells_of_top(self, rows: Subquery, bucket: Any, grp: Any, limit: int) -> Select[Any]:
        """Many groups (products): rank them on one sum first, then sum the cells of the top
        ones only."""
        net = func.sum(rows.c.gross - rows.c.returns)
        top = select(grp.label("grp"), net.label("net")).group_by(grp).order_by(net.desc(), grp).limit(limit)
        top_cte = top.cte("top")
        cells = (
            select(bucket, grp.label("grp"), *self._sums(rows))
            .where(grp.in_(select(top_cte.c.grp)))
            .group_by(bucket, grp)
            .subquery("cells")
        )
        return (
            select(cells)
            .join(top_cte, top_cte.c.grp == cells.c.grp)
            .order_by(top_cte.c.net.desc(), top_cte.c.grp, cells.c.bucket)
        )

    async def totals(self, q: MetricsQuery, date_from: date, date_to: date) -> Any:
        rows = self._rows(replace(q, group_by=None), date_from, date_to, by_month=True)
        return (await self.session.execute(select(*self._sums(rows)))).one()

    async def top_products(
        self, q: MetricsQuery, *, by: TopBy, limit: int, previous: tuple[date, date]
    ) -> Sequence[Any]:
        """With a point, from its lines (index-only, see `Sale`); otherwise from the product
        rollups, by month where months are whole."""
        by_product = replace(q, group_by=GroupBy.product)
        rows = self._rows(by_product, q.date_from, q.date_to, by_month=True)
        net = func.sum(rows.c.gross) - func.sum(rows.c.returns)
        measures = {
            TopBy.revenue: net,
            TopBy.sales: func.sum(rows.c.lines),
            TopBy.quantity: func.sum(rows.c.quantity) - func.sum(rows.c.returned_quantity),
        }
        current = (
            select(
                rows.c.product_id,
                net.label("revenue"),
                measures[TopBy.sales].label("sales"),
                measures[TopBy.quantity].label("quantity"),
                func.sum(rows.c.gross).label("gross_sales"),
                func.sum(rows.c.returns).label("returns"),
                func.sum(rows.c.returned_quantity).label("returned_quantity"),
            )
            .group_by(rows.c.product_id)
            .order_by(measures[by].desc(), rows.c.product_id)
            .limit(limit)
            .cte("top")
        )
        prev = self._rows(by_product, *previous, by_month=True, products=select(current.c.product_id))
        before = (
            select(prev.c.product_id, (func.sum(prev.c.gross) - func.sum(prev.c.returns)).label("revenue"))
            .group_by(prev.c.product_id)
            .subquery("before")
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
            .order_by(current.c[by.value].desc(), current.c.product_id)
        )
        return (await self.session.execute(stmt)).all()

    async def payments(self, q: MetricsQuery, previous: tuple[date, date]) -> Sequence[Any]:
        """Per method: paid, payments, refunded, refunds in the period, and paid, refunded in
        the previous one (one read over both)."""
        now = _PAYMENTS.day >= q.date_from
        sums = [func.coalesce(func.sum(e).filter(now), 0).label(n) for n, e in _PAYMENTS.sums.items()]
        before = [
            func.coalesce(func.sum(_PAYMENTS.sums[n]).filter(~now), 0).label(f"previous_{n}")
            for n in ("paid", "refunded")
        ]
        stmt = (
            select(DailyPayments.method, *sums, *before)
            .where(*self._where(_PAYMENTS, q, previous[0], q.date_to))
            .group_by(DailyPayments.method)
        )
        rows: Sequence[Any] = (await self.session.execute(stmt)).all()
        return rows

    async def hours(self, q: MetricsQuery) -> Sequence[Any]:
        """Per hour of the day (business time): gross, receipts, returns, return_receipts."""
        sums = [func.coalesce(func.sum(e), 0).label(n) for n, e in _HOURS.sums.items()]
        stmt = (
            select(HourlyPointSales.hour, *sums)
            .where(*self._where(_HOURS, q, q.date_from, q.date_to))
            .group_by(HourlyPointSales.hour)
        )
        rows: Sequence[Any] = (await self.session.execute(stmt)).all()
        return rows

    async def names(self, group_by: GroupBy, ids: list[int]) -> dict[int, str]:
        model: Any = Point if group_by is GroupBy.point else Product
        rows = await self.session.execute(select(model.id, model.name).where(model.id.in_(ids)))
        return {row.id: row.name for row in rows}
