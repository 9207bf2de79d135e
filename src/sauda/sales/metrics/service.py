"""Business rules of the metrics: periods and buckets in the business timezone, and every figure
derived from the sums the repository reads. Amounts are net of returns: a return subtracts on
the day it was made, whatever the day of its original receipt."""

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal
from operator import attrgetter
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession

from sauda.errors import InvalidInput
from sauda.money import to_money
from sauda.sales.metrics.repository import LINE_FIGURES, MetricsQuery, MetricsRepository
from sauda.sales.metrics.schemas import (
    Bucket,
    Change,
    Figures,
    Granularity,
    GroupBy,
    GroupSeries,
    HourFigures,
    HoursOut,
    MethodFigures,
    MetricsOut,
    PaymentsOut,
    Period,
    PeriodBounds,
    TopBy,
    TopProduct,
    TopProductsOut,
)
from sauda.tenancy import Scope

MAX_METRICS_DAYS = 3 * 366
HUNDREDTH = Decimal("0.01")
ZERO = Decimal("0")


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


@dataclass(frozen=True, slots=True)
class Sums:
    """What the rollups add up (`LINE_FIGURES`); every figure is derived from these."""

    gross: Decimal = ZERO
    returns: Decimal = ZERO
    lines: int = 0
    quantity: Decimal = ZERO
    returned_quantity: Decimal = ZERO
    receipts: int = 0
    return_receipts: int = 0

    @classmethod
    def of(cls, row: Any) -> "Sums":
        return cls(*_line_figures(row))

    def __add__(self, other: "Sums") -> "Sums":
        return Sums(
            self.gross + other.gross,
            self.returns + other.returns,
            self.lines + other.lines,
            self.quantity + other.quantity,
            self.returned_quantity + other.returned_quantity,
            self.receipts + other.receipts,
            self.return_receipts + other.return_receipts,
        )


_line_figures = attrgetter(*LINE_FIGURES)


def _ratio(part: Decimal, whole: Decimal | int) -> Decimal:
    return (Decimal(part) / whole).quantize(HUNDREDTH, rounding=ROUND_HALF_UP)


def _percent_of(part: Decimal, whole: Decimal) -> float | None:
    return float(_ratio(part * 100, whole)) if whole else None


def figures(s: Sums) -> Figures:
    # Built from our own sums, every value already of its field's type: no validation needed,
    # which matters for hundreds of buckets.
    return Figures.model_construct(**_figures(s))


def _figures(s: Sums) -> dict[str, Any]:
    net = to_money(s.gross - s.returns)
    units = s.quantity - s.returned_quantity
    average = to_money(net / s.receipts) if s.receipts else to_money(0)
    return {
        "revenue": net,
        "sales": int(s.lines),
        "quantity": units,
        "average_ticket": average,
        "receipts": int(s.receipts),
        "return_receipts": int(s.return_receipts),
        "gross_sales": to_money(s.gross),
        "returns": to_money(s.returns),
        "net_sales": net,
        "average_receipt": average,
        "units_per_receipt": _ratio(units, s.receipts) if s.receipts else Decimal("0.00"),
        "returned_quantity": s.returned_quantity,
        "return_rate": _percent_of(s.returns, s.gross),
    }


_CHANGED = (
    "revenue",
    "sales",
    "quantity",
    "average_ticket",
    "receipts",
    "gross_sales",
    "returns",
    "net_sales",
    "average_receipt",
    "units_per_receipt",
)


def _percent(now: Decimal, before: Decimal) -> float | None:
    """Growth in percent; against a negative figure (more returned than sold) too."""
    if not before:
        return None
    return float(((now - before) / abs(before) * 100).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP))


def _change(now: Figures, before: Figures) -> Change:
    changes = {n: _percent(Decimal(getattr(now, n)), Decimal(getattr(before, n))) for n in _CHANGED}
    points = None
    if now.return_rate is not None and before.return_rate is not None:
        points = round(now.return_rate - before.return_rate, 2)
    return Change(**changes, return_rate=points)


def _series(starts: list[date], sums: dict[date, Sums]) -> list[Bucket]:
    return [Bucket.model_construct(start=start, **_figures(sums.get(start, Sums()))) for start in starts]


async def metrics(
    session: AsyncSession, scope: Scope, q: MetricsQuery, tz: ZoneInfo, *, groups_limit: int
) -> MetricsOut:
    """Totals and buckets cover everything the filters select (so by product too `receipts`
    counts receipts); each group's series covers that point or product."""
    check_period(q.date_from, q.date_to)
    repo = MetricsRepository(session, scope, tz)
    starts = bucket_starts(q.date_from, q.date_to, Granularity(q.granularity))
    groups: list[GroupSeries] | None = None
    by_bucket: dict[date, Sums] | None = None
    if q.group_by is not None:
        cells = await _group_cells(repo, q, groups_limit + 1)
        if q.group_by is GroupBy.point and len(cells) <= groups_limit:
            # Every point came back, and a receipt has one point: the points add up to the whole.
            by_bucket = defaultdict(Sums)
            for series in cells.values():
                for start, sums in series.items():
                    by_bucket[start] += sums
        groups = await _groups(repo, q.group_by, dict(list(cells.items())[:groups_limit]), starts)
    if by_bucket is None:
        by_bucket = {row.bucket: Sums.of(row) for row in await repo.buckets(q)}
    prev_from, prev_to = previous_period(q.date_from, q.date_to)
    totals = figures(sum(by_bucket.values(), Sums()))
    previous = figures(Sums.of(await repo.totals(q, prev_from, prev_to)))
    return MetricsOut(
        granularity=Granularity(q.granularity),
        timezone=tz.key,
        date_from=q.date_from,
        date_to=q.date_to,
        group_by=q.group_by,
        totals=totals,
        buckets=_series(starts, by_bucket),
        groups=groups,
        previous=Period(date_from=prev_from, date_to=prev_to, totals=previous),
        change=_change(totals, previous),
    )


async def _group_cells(repo: MetricsRepository, q: MetricsQuery, limit: int) -> dict[int, dict[date, Sums]]:
    """The best `limit` groups' sums by bucket, best first."""
    cells: dict[int, dict[date, Sums]] = {}
    for row in await repo.group_buckets(q, limit):
        cells.setdefault(row.grp, {})[row.bucket] = Sums.of(row)
    return cells


async def _groups(
    repo: MetricsRepository, group_by: GroupBy, cells: dict[int, dict[date, Sums]], starts: list[date]
) -> list[GroupSeries]:
    names = await repo.names(group_by, list(cells))
    return [
        GroupSeries(
            id=gid,
            name=names.get(gid, ""),
            totals=figures(sum(series.values(), Sums())),
            buckets=_series(starts, series),
        )
        for gid, series in cells.items()
    ]


async def top_products(
    session: AsyncSession, scope: Scope, q: MetricsQuery, tz: ZoneInfo, *, by: TopBy, limit: int
) -> TopProductsOut:
    check_period(q.date_from, q.date_to)
    rows = await MetricsRepository(session, scope, tz).top_products(
        q, by=by, limit=limit, previous=previous_period(q.date_from, q.date_to)
    )
    items = [
        TopProduct(
            product_id=r.product_id,
            sku=r.sku,
            name=r.name,
            revenue=to_money(r.revenue),
            sales=int(r.sales),
            quantity=r.quantity,
            gross_sales=to_money(r.gross_sales),
            returns=to_money(r.returns),
            returned_quantity=r.returned_quantity,
            previous_revenue=to_money(r.previous_revenue),
        )
        for r in rows
    ]
    return TopProductsOut(date_from=q.date_from, date_to=q.date_to, by=by, items=items)


async def payments(session: AsyncSession, scope: Scope, q: MetricsQuery, tz: ZoneInfo) -> PaymentsOut:
    check_period(q.date_from, q.date_to)
    previous = previous_period(q.date_from, q.date_to)
    rows = await MetricsRepository(session, scope, tz).payments(q, previous)
    paid = sum((r.paid for r in rows), ZERO)
    refunded = sum((r.refunded for r in rows), ZERO)
    methods = [
        MethodFigures(
            method=r.method,
            paid=to_money(r.paid),
            payments=int(r.payments),
            refunded=to_money(r.refunded),
            refunds=int(r.refunds),
            net=to_money(r.paid - r.refunded),
            share=_percent_of(r.paid, paid),
            previous_net=to_money(r.previous_paid - r.previous_refunded),
        )
        for r in rows
    ]
    methods.sort(key=lambda m: (-m.paid, -m.previous_net, m.method.value))
    return PaymentsOut(
        timezone=tz.key,
        date_from=q.date_from,
        date_to=q.date_to,
        paid=to_money(paid),
        refunded=to_money(refunded),
        net=to_money(paid - refunded),
        methods=methods,
        previous=PeriodBounds(date_from=previous[0], date_to=previous[1]),
    )


async def hours(session: AsyncSession, scope: Scope, q: MetricsQuery, tz: ZoneInfo) -> HoursOut:
    check_period(q.date_from, q.date_to)
    by_hour = {r.hour: r for r in await MetricsRepository(session, scope, tz).hours(q)}
    days = (q.date_to - q.date_from).days + 1
    items = [_hour(hour, by_hour.get(hour), days) for hour in range(24)]
    busiest = max(items, key=lambda h: (h.receipts, -h.hour))
    return HoursOut(
        timezone=tz.key,
        date_from=q.date_from,
        date_to=q.date_to,
        days=days,
        peak_hour=busiest.hour if busiest.receipts else None,
        hours=items,
    )


def _hour(hour: int, row: Any, days: int) -> HourFigures:
    gross = row.gross if row else ZERO
    returns = row.returns if row else ZERO
    receipts = int(row.receipts) if row else 0
    net = to_money(gross - returns)
    return HourFigures(
        hour=hour,
        receipts=receipts,
        return_receipts=int(row.return_receipts) if row else 0,
        gross_sales=to_money(gross),
        returns=to_money(returns),
        net_sales=net,
        average_receipt=to_money(net / receipts) if receipts else to_money(0),
        receipts_per_day=_ratio(Decimal(receipts), days),
    )
