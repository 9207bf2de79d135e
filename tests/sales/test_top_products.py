"""Top products, and monthly metrics by product, from the monthly rollup (whole months) plus the
daily one (the days at the edges) equal a direct aggregate over the receipt lines, for periods
crossing month edges."""

import random
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from sauda.config import Settings
from sauda.db import transaction
from sauda.sales.metrics.repository import split_by_months
from sauda.sales.models import Receipt
from tests.factories import Factory
from tests.sales.conftest import Shop, assert_rollup_matches
from tests.sales.test_receipt_metrics import Till

METRICS = "/api/v1/sales/metrics"
TOP = f"{METRICS}/top-products"
FIRST, DAYS = date(2026, 1, 20), 100  # 20 January .. 29 April 2026

DIRECT = """
SELECT product_id,
       coalesce(sum(total) FILTER (WHERE kind = 'sale'), 0)
         - coalesce(sum(total) FILTER (WHERE kind = 'return'), 0) AS revenue,
       count(*) FILTER (WHERE kind = 'sale') AS sales,
       coalesce(sum(quantity) FILTER (WHERE kind = 'sale'), 0)
         - coalesce(sum(quantity) FILTER (WHERE kind = 'return'), 0) AS quantity,
       coalesce(sum(total) FILTER (WHERE kind = 'sale'), 0) AS gross_sales,
       coalesce(sum(total) FILTER (WHERE kind = 'return'), 0) AS returns,
       coalesce(sum(quantity) FILTER (WHERE kind = 'return'), 0) AS returned_quantity
FROM sales
WHERE company_id = :company AND (sold_at AT TIME ZONE :tz)::date BETWEEN :date_from AND :date_to
  AND (CAST(:point AS int) IS NULL OR point_id = :point)
GROUP BY product_id
"""


@pytest.fixture
async def months(
    shop: Shop, factory: Factory, sessionmaker: async_sessionmaker[AsyncSession], settings: Settings
) -> Shop:
    """~90 receipts of 1–3 lines over 100 days, some around midnight in Almaty, and returns of
    some of them (in part or whole) up to 40 days later, often in the next month."""
    shop.products += [await factory.product(shop.company) for _ in range(4)]
    till = Till(sessionmaker, settings, shop)
    rng = random.Random(14)
    sold: list[tuple[Receipt, date, int]] = []
    for _ in range(90):
        day = FIRST + timedelta(days=rng.randrange(DAYS))
        lines = [
            (p, str(rng.randint(1, 4)), f"{rng.randint(100, 5000)}.{rng.randint(0, 99):02}", "0")
            for p in rng.sample(range(len(shop.products)), rng.randint(1, 3))
        ]
        receipt = await till.sell(_moment(rng, day), lines, point=rng.randrange(2))
        sold.append((receipt, day, len(lines)))
    for receipt, day, count in rng.sample(sold, 25):
        back = [(n, "1") for n in range(1, count + 1) if rng.random() < 0.7] or [(1, "1")]
        later = day + timedelta(days=rng.randint(0, 40))
        await till.take_back(receipt, _moment(rng, later), back)
    await assert_rollup_matches(sessionmaker, settings)
    return shop


def _moment(rng: random.Random, day: date) -> str:
    hour = rng.choice([0, 0, 9, 13, 18, 23, 23])
    return f"{day.isoformat()}T{hour:02}:{rng.randint(0, 59):02}:00+05:00"


def _periods() -> list[tuple[date, date]]:
    fixed = [
        (date(2026, 2, 1), date(2026, 3, 31)),  # whole months only
        (date(2026, 1, 31), date(2026, 3, 1)),  # one day either side of a whole month
        (date(2026, 2, 15), date(2026, 2, 20)),  # inside one month
        (date(2026, 2, 28), date(2026, 3, 1)),  # across a month edge, no whole month
        (date(2026, 1, 1), date(2026, 12, 31)),  # a year
        (date(2026, 3, 1), date(2026, 3, 1)),
    ]
    rng = random.Random(2026)
    randoms = []
    for _ in range(8):
        start = date(2026, 1, 1) + timedelta(days=rng.randrange(130))
        randoms.append((start, start + timedelta(days=rng.randrange(1, 100))))
    return fixed + randoms


async def _direct(
    sessionmaker: async_sessionmaker[AsyncSession],
    settings: Settings,
    shop: Shop,
    period: tuple[date, date],
    point: int | None = None,
) -> dict[int, tuple[Any, ...]]:
    params = {"company": shop.company.id, "tz": settings.timezone, "point": point}
    async with sessionmaker() as session:
        rows = await session.execute(text(DIRECT), params | {"date_from": period[0], "date_to": period[1]})
        return {r.product_id: tuple(Decimal(v) for v in r[1:]) for r in rows}


def _as_figures(item: dict) -> tuple[Decimal, ...]:
    names = ("revenue", "sales", "quantity", "gross_sales", "returns", "returned_quantity")
    return tuple(Decimal(str(item[n])) for n in names)


def _previous(period: tuple[date, date]) -> tuple[date, date]:
    length = period[1] - period[0] + timedelta(days=1)
    return period[0] - length, period[0] - timedelta(days=1)


async def _compare(
    client: httpx.AsyncClient,
    sessionmaker: async_sessionmaker[AsyncSession],
    settings: Settings,
    shop: Shop,
    period: tuple[date, date],
    point: int | None = None,
) -> None:
    params: dict[str, Any] = {"date_from": period[0], "date_to": period[1], "limit": 100}
    if point is not None:
        params["point_id"] = point
    response = await client.get(TOP, params=params, headers=shop.headers)
    assert response.status_code == 200, response.text
    items = response.json()["items"]
    expected = await _direct(sessionmaker, settings, shop, period, point)
    assert {i["product_id"]: _as_figures(i) for i in items} == expected, period
    ranked = sorted(expected, key=lambda p: (-expected[p][0], p))
    assert [i["product_id"] for i in items] == ranked, period
    before = await _direct(sessionmaker, settings, shop, _previous(period), point)
    zero = (Decimal(0),)
    assert {i["product_id"]: Decimal(str(i["previous_revenue"])) for i in items} == {
        p: before.get(p, zero)[0] for p in ranked
    }, period
    await _compare_metrics(client, shop, params, expected)


async def _compare_metrics(
    client: httpx.AsyncClient, shop: Shop, params: dict[str, Any], expected: dict[int, tuple[Any, ...]]
) -> None:
    """The same figures per product from the metrics by month, and each product alone."""
    params = {k: v for k, v in params.items() if k != "limit"} | {"granularity": "month"}
    response = await client.get(METRICS, params=params | {"group_by": "product"}, headers=shop.headers)
    assert response.status_code == 200, response.text
    names = ("net_sales", "sales", "quantity", "gross_sales", "returns", "returned_quantity")
    groups = {g["id"]: tuple(Decimal(str(g["totals"][n])) for n in names) for g in response.json()["groups"]}
    assert groups == expected, params
    for product, figures in list(expected.items())[:2]:
        alone = await client.get(METRICS, params=params | {"product_id": product}, headers=shop.headers)
        totals = alone.json()["totals"]
        assert tuple(Decimal(str(totals[n])) for n in names) == figures, params


async def test_top_products_and_metrics_by_product_equal_the_lines(
    client: httpx.AsyncClient,
    months: Shop,
    sessionmaker: async_sessionmaker[AsyncSession],
    settings: Settings,
) -> None:
    for period in _periods():
        await _compare(client, sessionmaker, settings, months, period)
        await _compare(client, sessionmaker, settings, months, period, point=months.points[1].id)


async def test_whole_months_are_read_from_the_monthly_rollup(
    client: httpx.AsyncClient,
    months: Shop,
    sessionmaker: async_sessionmaker[AsyncSession],
    settings: Settings,
) -> None:
    """With the daily product rows of February and March gone, the periods made of those whole
    months (and daily edges outside them) still add up; the monthly rows gone, they do not."""
    async with transaction(sessionmaker) as session:
        await session.execute(
            text("DELETE FROM sales_daily_products WHERE day BETWEEN '2026-02-01' AND '2026-03-31'")
        )
    await _compare(client, sessionmaker, settings, months, (date(2026, 2, 1), date(2026, 3, 31)))
    await _compare(client, sessionmaker, settings, months, (date(2026, 1, 25), date(2026, 4, 5)))
    async with transaction(sessionmaker) as session:
        await session.execute(text("DELETE FROM sales_monthly_products WHERE month = '2026-03-01'"))
    with pytest.raises(AssertionError):
        await _compare(client, sessionmaker, settings, months, (date(2026, 2, 1), date(2026, 3, 31)))


def test_split_by_months() -> None:
    d = date
    assert split_by_months(d(2026, 1, 1), d(2026, 12, 31)) == ((d(2026, 1, 1), d(2026, 12, 1)), [])
    assert split_by_months(d(2025, 7, 15), d(2026, 7, 14)) == (
        (d(2025, 8, 1), d(2026, 6, 1)),
        [(d(2025, 7, 15), d(2025, 7, 31)), (d(2026, 7, 1), d(2026, 7, 14))],
    )
    assert split_by_months(d(2026, 2, 28), d(2026, 3, 1)) == (None, [(d(2026, 2, 28), d(2026, 3, 1))])
    assert split_by_months(d(2026, 2, 1), d(2026, 2, 28)) == ((d(2026, 2, 1), d(2026, 2, 1)), [])
    assert split_by_months(d(2024, 2, 1), d(2024, 2, 28)) == (None, [(d(2024, 2, 1), d(2024, 2, 28))])
    assert split_by_months(d(2026, 1, 31), d(2026, 3, 1)) == (
        (d(2026, 2, 1), d(2026, 2, 1)),
        [(d(2026, 1, 31), d(2026, 1, 31)), (d(2026, 3, 1), d(2026, 3, 1))],
    )
