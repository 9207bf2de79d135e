"""Points, customers and sales through the API: CRUD, validation, filters, totals."""

from decimal import Decimal

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from sauda.config import Settings
from tests.factories import Factory
from tests.sales.conftest import Shop, add_sale, assert_rollup_matches, sale_json


async def test_point_crud(client: httpx.AsyncClient, shop: Shop) -> None:
    body = {"code": "ALM-3", "name": "Мега Алматы", "city": "Алматы", "kind": "kiosk"}
    created = await client.post("/api/v1/points", json=body, headers=shop.headers)
    assert created.status_code == 201, created.text
    point = created.json()
    assert (point["company_id"], point["kind"], point["is_active"]) == (shop.company.id, "kiosk", True)
    taken = await client.post("/api/v1/points", json=body, headers=shop.headers)
    assert taken.status_code == 409
    assert taken.json()["fields"][0]["field"] == "code"
    patched = await client.patch(
        f"/api/v1/points/{point['id']}", json={"is_active": False}, headers=shop.headers
    )
    assert patched.json()["is_active"] is False
    listed = await client.get("/api/v1/points", params={"search": "мега"}, headers=shop.headers)
    assert [p["code"] for p in listed.json()["items"]] == ["ALM-3"]
    assert (await client.delete(f"/api/v1/points/{point['id']}", headers=shop.headers)).status_code == 204
    assert (await client.get(f"/api/v1/points/{point['id']}", headers=shop.headers)).status_code == 404


async def test_point_with_sales_cannot_be_deleted(
    client: httpx.AsyncClient, shop: Shop, sessionmaker: async_sessionmaker[AsyncSession], settings: Settings
) -> None:
    await add_sale(sessionmaker, settings, shop)
    point = await client.delete(f"/api/v1/points/{shop.points[0].id}", headers=shop.headers)
    assert point.status_code == 409, point.text
    product = await client.delete(f"/api/v1/products/{shop.products[0].id}", headers=shop.headers)
    assert product.status_code == 409, product.text


async def test_customer_crud_and_validation(client: httpx.AsyncClient, shop: Shop) -> None:
    bad = await client.post(
        "/api/v1/customers", json={"name": "Ерлан", "email": "not-an-email"}, headers=shop.headers
    )
    assert bad.status_code == 422
    assert bad.json()["fields"][0]["field"] == "email"
    body = {"name": "Ерлан", "phone": "+7 701 123 45 67", "external_id": "POS-77"}
    created = await client.post("/api/v1/customers", json=body, headers=shop.headers)
    assert created.status_code == 201, created.text
    cid = created.json()["id"]
    assert (await client.post("/api/v1/customers", json=body, headers=shop.headers)).status_code == 409
    found = await client.get("/api/v1/customers", params={"search": "POS-77"}, headers=shop.headers)
    assert [c["id"] for c in found.json()["items"]] == [cid]
    patched = await client.patch(f"/api/v1/customers/{cid}", json={"phone": None}, headers=shop.headers)
    assert patched.json()["phone"] is None
    assert (await client.delete(f"/api/v1/customers/{cid}", headers=shop.headers)).status_code == 204


async def test_sale_total_is_computed_server_side(client: httpx.AsyncClient, shop: Shop) -> None:
    response = await sale_json(client, shop, customer_id=shop.customer.id, external_id="R-1")
    assert response.status_code == 201, response.text
    sale = response.json()
    assert sale["total"] == 3000.00  # 2 × 1500.50 − 1.00
    assert sale["quantity"] == 2.0
    assert sale["company_id"] == shop.company.id
    fetched = await client.get(f"/api/v1/sales/{sale['id']}", headers=shop.headers)
    assert fetched.json() == sale


async def test_wrong_total_is_422_naming_total(client: httpx.AsyncClient, shop: Shop) -> None:
    response = await sale_json(client, shop, total="3001.00")
    assert response.status_code == 422
    assert response.json()["fields"] == [
        {"field": "total", "message": "must be quantity × unit price − discount = 3000.00"}
    ]
    assert (await sale_json(client, shop, total="3000")).status_code == 201


async def test_sale_validation_names_the_field(client: httpx.AsyncClient, shop: Shop) -> None:
    cases = {
        "quantity": {"quantity": "0"},
        "unit_price": {"unit_price": "-1"},
        "discount": {"discount": "5000"},
        "sold_at": {"sold_at": "yesterday"},
        "company_id": {"company_id": 1},
        "point_id": {"point_id": "x"},
    }
    for field, change in cases.items():
        response = await sale_json(client, shop, **change)
        assert response.status_code == 422, (field, response.text)
        assert response.json()["fields"][0]["field"] == field, response.json()


async def test_duplicate_external_id_is_409(client: httpx.AsyncClient, shop: Shop) -> None:
    assert (await sale_json(client, shop, external_id="X-1")).status_code == 201
    again = await sale_json(client, shop, external_id="X-1")
    assert again.status_code == 409
    assert again.json()["fields"][0]["field"] == "external_id"


async def test_update_recomputes_total_and_delete(
    client: httpx.AsyncClient, shop: Shop, sessionmaker: async_sessionmaker[AsyncSession], settings: Settings
) -> None:
    sale = (await sale_json(client, shop)).json()
    url = f"/api/v1/sales/{sale['id']}"
    patched = await client.patch(
        url, json={"quantity": "3", "point_id": shop.points[1].id}, headers=shop.headers
    )
    assert patched.status_code == 200, patched.text
    assert (patched.json()["total"], patched.json()["point_id"]) == (4500.50, shop.points[1].id)
    wrong = await client.patch(url, json={"total": "1.00"}, headers=shop.headers)
    assert wrong.status_code == 422
    assert wrong.json()["fields"][0]["field"] == "total"
    nulled = await client.patch(url, json={"quantity": None}, headers=shop.headers)
    assert nulled.status_code == 422
    assert await assert_rollup_matches(sessionmaker, settings) == 1
    assert (await client.delete(url, headers=shop.headers)).status_code == 204
    assert (await client.get(url, headers=shop.headers)).status_code == 404
    assert await assert_rollup_matches(sessionmaker, settings) == 0


async def test_list_filters_search_sorting(
    client: httpx.AsyncClient, shop: Shop, sessionmaker: async_sessionmaker[AsyncSession], settings: Settings
) -> None:
    await add_sale(
        sessionmaker, settings, shop, unit_price=Decimal("100"), sold_at="2026-03-01T10:00:00+05:00"
    )
    await add_sale(
        sessionmaker,
        settings,
        shop,
        unit_price=Decimal("500"),
        point_id=shop.points[1].id,
        customer_id=shop.customer.id,
        sold_at="2026-03-31T23:30:00+05:00",
        external_id="LATE",
    )
    await add_sale(
        sessionmaker,
        settings,
        shop,
        unit_price=Decimal("900"),
        product_id=shop.products[1].id,
        sold_at="2026-04-01T00:30:00+05:00",
    )

    async def totals(**params: object) -> list[float]:
        response = await client.get("/api/v1/sales", params=params, headers=shop.headers)
        assert response.status_code == 200, response.text
        return [s["total"] for s in response.json()["items"]]

    assert await totals() == [900.0, 500.0, 100.0]
    assert await totals(date_from="2026-03-01", date_to="2026-03-31") == [500.0, 100.0]
    assert await totals(point_id=shop.points[1].id) == [500.0]
    assert await totals(product_id=shop.products[1].id) == [900.0]
    assert await totals(customer_id=shop.customer.id) == [500.0]
    assert await totals(total_min="200", total_max="600") == [500.0]
    assert await totals(search="LATE") == [500.0]
    assert await totals(search="Айгуль") == [500.0]
    assert await totals(search=shop.products[1].sku) == [900.0]
    assert await totals(ordering="total") == [100.0, 500.0, 900.0]
    page = await client.get("/api/v1/sales", params={"limit": 2, "page": 2}, headers=shop.headers)
    assert (page.json()["total"], page.json()["pages"], len(page.json()["items"])) == (3, 2, 1)
    bad = await client.get("/api/v1/sales", params={"date_from": "31.03.2026"}, headers=shop.headers)
    assert bad.status_code == 422
    assert bad.json()["fields"][0]["field"] == "date_from"


async def test_naive_sold_at_is_business_time(client: httpx.AsyncClient, shop: Shop) -> None:
    response = await sale_json(client, shop, sold_at="2026-03-31T23:30:00")
    assert response.json()["sold_at"].startswith("2026-03-31T18:30:00")


async def test_admin_names_the_company_of_a_point(
    client: httpx.AsyncClient, factory: Factory, shop: Shop
) -> None:
    headers = await factory.headers(await factory.admin())
    missing = await client.post("/api/v1/points", json={"code": "A", "name": "A"}, headers=headers)
    assert missing.status_code == 422
    assert missing.json()["fields"][0]["field"] == "company_id"
    ok = await client.post(
        "/api/v1/points", json={"code": "A", "name": "A", "company_id": shop.company.id}, headers=headers
    )
    assert ok.status_code == 201


async def test_deleting_a_company_takes_its_sales_and_rollups(
    client: httpx.AsyncClient,
    shop: Shop,
    factory: Factory,
    sessionmaker: async_sessionmaker[AsyncSession],
    settings: Settings,
) -> None:
    from sqlalchemy import delete

    from sauda.auth.models import User
    from sauda.db import transaction

    await add_sale(sessionmaker, settings, shop, customer_id=shop.customer.id)
    async with transaction(sessionmaker) as session:
        await session.execute(delete(User).where(User.company_id == shop.company.id))
    headers = await factory.headers(await factory.admin())
    response = await client.delete(f"/api/v1/companies/{shop.company.id}", headers=headers)
    assert response.status_code == 204, response.text
    assert await assert_rollup_matches(sessionmaker, settings) == 0


async def test_unique_values_taken_concurrently_are_409_not_500(
    client: httpx.AsyncClient, shop: Shop, monkeypatch: pytest.MonkeyPatch
) -> None:
    """As if another transaction inserted the value between the check and the insert."""
    from sauda.sales.repository import CustomerRepository, PointRepository, SaleRepository

    async def never_taken(*_: object, **__: object) -> bool:
        return False

    for repository in (SaleRepository, PointRepository):
        monkeypatch.setattr(
            repository, "external_id_taken" if repository is SaleRepository else "code_taken", never_taken
        )
    monkeypatch.setattr(CustomerRepository, "external_id_taken", never_taken)
    assert (await sale_json(client, shop, external_id="RACE")).status_code == 201
    sale = await sale_json(client, shop, external_id="RACE")
    point = await client.post(
        "/api/v1/points", json={"code": shop.points[0].code, "name": "X"}, headers=shop.headers
    )
    customer = await client.post(
        "/api/v1/customers",
        json={"name": "X", "external_id": shop.customer.external_id},
        headers=shop.headers,
    )
    for response, field in ((sale, "external_id"), (point, "code"), (customer, "external_id")):
        assert response.status_code == 409, response.text
        assert response.json()["fields"][0]["field"] == field
