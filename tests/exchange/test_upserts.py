"""Upserts from 1C keyed by its reference UUIDs: idempotent, per-item results, nothing half written."""

import uuid
from datetime import date
from decimal import Decimal

import httpx
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from sauda.network.models import Product
from sauda.sales.models import DailyPointSales, Point, Sale
from tests.conftest import FixedClock
from tests.exchange.conftest import OneCSetup, make_onec
from tests.exchange.onec_client import read_json
from tests.factories import Factory

REF = [str(uuid.UUID(int=n)) for n in range(1, 10)]


def _product(ref: str, **values: object) -> dict[str, object]:
    return {
        "external_id": ref,
        "sku": f"1C-{ref[-4:]}",
        "name": "Чайник",
        "release_date": "2025-03-01",
    } | values


async def _put(
    setup: OneCSetup, entity: str, items: list[dict[str, object]], *, bom: bool = False
) -> list[dict]:
    response = await setup.onec.put(f"/api/v1/exchange/{entity}", {"items": items}, bom=bom)
    assert response.status_code == 200, response.text
    results: list[dict] = read_json(response)["results"]
    return results


async def test_products_are_created_then_updated_then_unchanged(
    onec_setup: OneCSetup, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    items = [_product(REF[0]), _product(REF[1], name="Утюг")]
    created = await _put(onec_setup, "products", items, bom=True)
    assert [r["status"] for r in created] == ["created", "created"]
    assert all(r["errors"] == [] and r["external_id"] in REF for r in created)
    assert [r["status"] for r in await _put(onec_setup, "products", items)] == ["unchanged", "unchanged"]
    updated = await _put(onec_setup, "products", [_product(REF[0], name="Электрочайник")])
    assert updated[0]["status"] == "updated"
    assert updated[0]["id"] == created[0]["id"]
    async with sessionmaker() as session:
        names = (await session.scalars(select(Product.name).order_by(Product.id))).all()
    assert names == ["Электрочайник", "Утюг"]


async def test_bad_items_are_reported_and_the_good_ones_land(
    onec_setup: OneCSetup, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    results = await _put(
        onec_setup,
        "products",
        [
            _product(REF[0]),
            _product("line\nbreak"),
            _product(REF[1], release_date="31.02.2025"),
            _product(REF[2], sku=_product(REF[0])["sku"]),  # the SKU of the first one
            "not an object",
        ],
    )
    assert [r["status"] for r in results] == ["created", "error", "error", "error", "error"]
    assert results[1]["errors"][0]["field"] == "external_id"
    assert results[2]["errors"][0]["field"] == "release_date"
    assert results[3]["errors"][0]["field"] == "sku"
    async with sessionmaker() as session:
        assert await session.scalar(select(func.count()).select_from(Product)) == 1


async def test_a_product_from_the_future_is_an_item_error(
    onec_setup: OneCSetup, sessionmaker: async_sessionmaker[AsyncSession], fixed_clock: FixedClock
) -> None:
    results = await _put(
        onec_setup,
        "products",
        [_product(REF[0], release_date="2026-03-03"), _product(REF[1], release_date="2026-03-02")],
    )
    assert [r["status"] for r in results] == ["error", "created"]
    assert results[0]["errors"] == [
        {"field": "release_date", "message": "must not be in the future (today is 2026-03-02)"}
    ]
    moved = await _put(onec_setup, "products", [_product(REF[1], release_date="2026-03-04")])
    assert moved[0]["status"] == "error"
    async with sessionmaker() as session:
        dates = (await session.scalars(select(Product.release_date))).all()
    assert dates == [date(2026, 3, 2)]


async def test_points_customers_and_sales_by_reference(
    onec_setup: OneCSetup, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    await _put(onec_setup, "products", [_product(REF[0])])
    point = {"external_id": REF[1], "code": "MAIN", "name": "Магазин на Абая", "city": "Алматы"}
    assert (await _put(onec_setup, "points", [point]))[0]["status"] == "created"
    customer = {"external_id": REF[2], "name": "ТОО Покупатель", "email": "buyer@example.kz"}
    assert (await _put(onec_setup, "customers", [customer]))[0]["status"] == "created"
    sale = {
        "external_id": REF[3],
        "point_external_id": REF[1],
        "product_external_id": REF[0],
        "customer_external_id": REF[2],
        "quantity": 2,
        "unit_price": 1500.50,
        "sold_at": "2026-03-31T23:30:00",
    }
    assert (await _put(onec_setup, "sales", [sale]))[0]["status"] == "created"
    assert (await _put(onec_setup, "sales", [sale]))[0]["status"] == "unchanged"
    assert (await _put(onec_setup, "sales", [sale | {"quantity": 3}]))[0]["status"] == "updated"
    async with sessionmaker() as session:
        stored = await session.scalar(select(Sale))
        rollup = (await session.scalars(select(DailyPointSales))).all()
    assert stored is not None
    assert stored.total == Decimal("4501.50")
    # 23:30 in Almaty on 31 March: that day, however UTC sees it; the rollup follows the update.
    assert [(r.day.isoformat(), r.revenue, r.sales_count) for r in rollup] == [
        ("2026-03-31", Decimal("4501.50"), 1)
    ]
    feed = await onec_setup.onec.full_load("sales")
    assert feed[0]["sold_at"] == "2026-03-31T23:30:00"
    points = await onec_setup.onec.full_load("points")
    assert feed[0]["point_ref"] == points[0]["ref"] == REF[1]  # made in 1C: its 1C reference
    assert feed[0]["total"] == Decimal("4501.50")


async def test_sale_with_unknown_references_is_an_item_error(onec_setup: OneCSetup) -> None:
    sale = {
        "external_id": REF[3],
        "point_code": "NOPE",
        "product_sku": "NOPE",
        "quantity": 1,
        "unit_price": 1,
        "sold_at": "2026-03-01T10:00:00",
    }
    result = (await _put(onec_setup, "sales", [sale]))[0]
    assert result["status"] == "error"
    assert result["errors"][0]["field"] == "point_external_id"


async def test_references_of_another_company_are_not_found(
    client: httpx.AsyncClient,
    factory: Factory,
    onec_setup: OneCSetup,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    other = await make_onec(client, factory, await factory.company(), login="other-1c")
    await _put(other, "points", [{"external_id": REF[1], "code": "MAIN", "name": "Чужой"}])
    await _put(onec_setup, "products", [_product(REF[0])])
    sale = {
        "external_id": REF[3],
        "point_external_id": REF[1],
        "product_external_id": REF[0],
        "quantity": 1,
        "unit_price": 1,
        "sold_at": "2026-03-01T10:00:00",
    }
    assert (await _put(onec_setup, "sales", [sale]))[0]["status"] == "error"
    # The same 1C reference in two companies is two records.
    assert (await _put(onec_setup, "points", [{"external_id": REF[1], "code": "MAIN", "name": "Свой"}]))[0][
        "status"
    ] == "created"
    async with sessionmaker() as session:
        assert await session.scalar(select(func.count()).select_from(Point)) == 2


async def test_body_problems_are_422(onec_setup: OneCSetup) -> None:
    response = await onec_setup.onec.send("PUT", "/api/v1/exchange/products", b"{not json")
    assert response.status_code == 422
    response = await onec_setup.onec.put("/api/v1/exchange/products", {"items": [{}] * 1001})
    assert response.status_code == 422
    assert read_json(response)["fields"][0]["field"] == "items"
    response = await onec_setup.onec.put("/api/v1/exchange/companies", {"items": []})
    assert response.status_code == 422
