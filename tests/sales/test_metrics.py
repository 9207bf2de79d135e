"""Metrics in the business timezone (Asia/Almaty, UTC+5), zero-filled, from the rollups."""

from decimal import Decimal

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from sauda.config import Settings
from sauda.sales.metrics.schemas import Granularity
from sauda.sales.metrics.service import bucket_starts
from tests.sales.conftest import Shop, add_sale

METRICS = "/api/v1/sales/metrics"


@pytest.fixture
async def boundary_sales(
    shop: Shop, sessionmaker: async_sessionmaker[AsyncSession], settings: Settings
) -> Shop:
    """23:30 Almaty on 31 March is 18:30 UTC: March. 00:30 on 1 April Almaty is still 31 March in
    UTC: April. The third sale is at 23:30 on Sunday 29 March, Almaty time."""
    await add_sale(sessionmaker, settings, shop, unit_price=Decimal("100"), sold_at="2026-03-31T18:30:00Z")
    await add_sale(sessionmaker, settings, shop, unit_price=Decimal("200"), sold_at="2026-03-31T19:30:00Z")
    await add_sale(
        sessionmaker,
        settings,
        shop,
        unit_price=Decimal("50"),
        quantity=Decimal("2"),
        point_id=shop.points[1].id,
        product_id=shop.products[1].id,
        sold_at="2026-03-29T18:30:00Z",
    )
    return shop


async def _metrics(client: httpx.AsyncClient, shop: Shop, **params: object) -> dict:
    response = await client.get(METRICS, params=params, headers=shop.headers)
    assert response.status_code == 200, response.text
    return response.json()


def _older(figures: dict) -> dict:
    return {k: figures[k] for k in ("revenue", "sales", "quantity", "average_ticket")}


def _revenues(body: dict) -> dict[str, float]:
    return {b["start"]: b["revenue"] for b in body["buckets"]}


async def test_month_buckets_follow_almaty_time(client: httpx.AsyncClient, boundary_sales: Shop) -> None:
    body = await _metrics(
        client, boundary_sales, granularity="month", date_from="2026-02-01", date_to="2026-04-30"
    )
    assert _revenues(body) == {"2026-02-01": 0.0, "2026-03-01": 200.0, "2026-04-01": 200.0}
    march = body["buckets"][1]
    assert (march["sales"], march["quantity"], march["average_ticket"]) == (2, 3.0, 100.0)
    # A sale of the older routes is a one-line receipt: the older figures keep their values.
    assert _older(body["totals"]) == {"revenue": 400.0, "sales": 3, "quantity": 4.0, "average_ticket": 133.33}
    assert (body["totals"]["receipts"], body["totals"]["average_receipt"]) == (3, 133.33)
    assert body["timezone"] == "Asia/Almaty"


async def test_day_buckets_are_zero_filled(client: httpx.AsyncClient, boundary_sales: Shop) -> None:
    body = await _metrics(
        client, boundary_sales, granularity="day", date_from="2026-03-29", date_to="2026-04-02"
    )
    assert _revenues(body) == {
        "2026-03-29": 100.0,
        "2026-03-30": 0.0,
        "2026-03-31": 100.0,
        "2026-04-01": 200.0,
        "2026-04-02": 0.0,
    }
    assert body["buckets"][1] == {
        "start": "2026-03-30",
        "revenue": 0.0,
        "sales": 0,
        "quantity": 0.0,
        "average_ticket": 0.0,
        "receipts": 0,
        "return_receipts": 0,
        "gross_sales": 0.0,
        "returns": 0.0,
        "net_sales": 0.0,
        "average_receipt": 0.0,
        "units_per_receipt": 0.0,
        "returned_quantity": 0.0,
        "return_rate": None,
    }


async def test_week_buckets_start_on_monday_in_almaty(
    client: httpx.AsyncClient, boundary_sales: Shop
) -> None:
    body = await _metrics(
        client, boundary_sales, granularity="week", date_from="2026-03-23", date_to="2026-04-05"
    )
    # Sunday 29 March 23:30 belongs to the week of 23 March; 31 March and 1 April to that of 30 March.
    assert _revenues(body) == {"2026-03-23": 100.0, "2026-03-30": 300.0}


async def test_week_boundary_sale_late_sunday_utc(
    client: httpx.AsyncClient, shop: Shop, sessionmaker: async_sessionmaker[AsyncSession], settings: Settings
) -> None:
    # Sunday 29 March 19:30 UTC is Monday 30 March 00:30 in Almaty: the next week.
    await add_sale(sessionmaker, settings, shop, unit_price=Decimal("70"), sold_at="2026-03-29T19:30:00Z")
    body = await _metrics(client, shop, granularity="week", date_from="2026-03-23", date_to="2026-04-05")
    assert _revenues(body) == {"2026-03-23": 0.0, "2026-03-30": 70.0}


async def test_group_by_point_and_product(client: httpx.AsyncClient, boundary_sales: Shop) -> None:
    shop = boundary_sales
    params = {"granularity": "month", "date_from": "2026-03-01", "date_to": "2026-04-30"}
    by_point = await _metrics(client, shop, group_by="point", **params)
    series = {g["id"]: _revenues_of(g) for g in by_point["groups"]}
    assert series == {
        shop.points[0].id: {"2026-03-01": 100.0, "2026-04-01": 200.0},
        shop.points[1].id: {"2026-03-01": 100.0, "2026-04-01": 0.0},
    }
    assert by_point["groups"][0]["name"] == "Магазин 1"
    by_product = await _metrics(client, shop, group_by="product", **params)
    assert {g["id"]: g["totals"]["revenue"] for g in by_product["groups"]} == {
        shop.products[0].id: 300.0,
        shop.products[1].id: 100.0,
    }
    # Point and product together: no rollup keeps both, so it aggregates sales directly.
    both = await _metrics(client, shop, group_by="product", point_id=shop.points[0].id, **params)
    assert {g["id"]: g["totals"]["revenue"] for g in both["groups"]} == {shop.products[0].id: 300.0}


def _revenues_of(group: dict) -> dict[str, float]:
    return {b["start"]: b["revenue"] for b in group["buckets"]}


async def test_previous_period_comparison(client: httpx.AsyncClient, boundary_sales: Shop) -> None:
    body = await _metrics(
        client, boundary_sales, granularity="day", date_from="2026-04-01", date_to="2026-04-03"
    )
    assert body["previous"]["date_from"] == "2026-03-29"
    assert body["previous"]["date_to"] == "2026-03-31"
    assert body["previous"]["totals"]["revenue"] == 200.0
    assert body["totals"]["revenue"] == 200.0
    assert body["change"]["revenue"] == 0.0
    assert body["change"]["sales"] == -50.0


async def test_top_products(client: httpx.AsyncClient, boundary_sales: Shop) -> None:
    shop = boundary_sales
    response = await client.get(
        f"{METRICS}/top-products",
        params={"date_from": "2026-03-01", "date_to": "2026-04-30", "limit": 1},
        headers=shop.headers,
    )
    assert response.status_code == 200, response.text
    items = response.json()["items"]
    assert [(i["product_id"], i["revenue"], i["sales"]) for i in items] == [(shop.products[0].id, 300.0, 2)]
    by_qty = await client.get(
        f"{METRICS}/top-products",
        params={"date_from": "2026-03-01", "date_to": "2026-04-30", "by": "quantity"},
        headers=shop.headers,
    )
    assert [i["quantity"] for i in by_qty.json()["items"]] == [2.0, 2.0]


@pytest.mark.parametrize("path", ["", "/top-products", "/payments", "/hours"])
async def test_bad_periods_are_422(client: httpx.AsyncClient, shop: Shop, path: str) -> None:
    for date_from, date_to in (("2026-04-01", "2026-03-01"), ("2020-01-01", "2026-03-01")):
        bad = await client.get(
            f"{METRICS}{path}", params={"date_from": date_from, "date_to": date_to}, headers=shop.headers
        )
        assert bad.status_code == 422
        assert bad.json()["fields"][0]["field"] == "date_to"


async def test_unknown_granularity_is_422(client: httpx.AsyncClient, shop: Shop) -> None:
    granularity = await client.get(
        METRICS,
        params={"date_from": "2026-03-01", "date_to": "2026-03-02", "granularity": "hour"},
        headers=shop.headers,
    )
    assert granularity.json()["fields"][0]["field"] == "granularity"


def test_bucket_starts() -> None:
    from datetime import date

    assert bucket_starts(date(2026, 1, 31), date(2026, 3, 1), Granularity.month) == [
        date(2026, 1, 1),
        date(2026, 2, 1),
        date(2026, 3, 1),
    ]
    assert bucket_starts(date(2026, 3, 4), date(2026, 3, 16), Granularity.week) == [
        date(2026, 3, 2),
        date(2026, 3, 9),
        date(2026, 3, 16),
    ]
