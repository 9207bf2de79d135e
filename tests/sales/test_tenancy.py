"""Another company's points, products, customers, sales, receipts and imports are 404, never 403."""

import re

import httpx
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from sauda.config import Settings
from tests.factories import Factory
from tests.sales.conftest import Shop, add_sale, make_shop, sale_json

OWNED = ("point_id", "customer_id", "sale_id", "receipt_id")


async def test_every_sales_route_is_404_for_another_company(
    app: FastAPI,
    client: httpx.AsyncClient,
    shop: Shop,
    factory: Factory,
    sessionmaker: async_sessionmaker[AsyncSession],
    settings: Settings,
) -> None:
    sale = await add_sale(sessionmaker, settings, shop)
    intruder = await make_shop(factory, sessionmaker)
    ids = {
        "point_id": shop.points[0].id,
        "customer_id": shop.customer.id,
        "sale_id": sale.id,
        "receipt_id": sale.receipt_id,
    }
    routes = [
        (method.upper(), path)
        for path, operations in app.openapi()["paths"].items()
        if any(f"{{{p}}}" in path for p in OWNED)
        for method in sorted(operations)
    ]
    assert len(routes) == 13
    for method, path in routes:
        url = re.sub(r"\{(\w+)\}", lambda m: str(ids[m.group(1)]), path)
        response = await client.request(method, url, json={}, headers=intruder.headers)
        assert response.status_code == 404, f"{method} {path}: {response.status_code} {response.text}"


async def test_references_to_another_companys_objects_are_404(
    client: httpx.AsyncClient, shop: Shop, factory: Factory, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    theirs = await make_shop(factory, sessionmaker)
    for field, value in (
        ("point_id", theirs.points[0].id),
        ("product_id", theirs.products[0].id),
        ("customer_id", theirs.customer.id),
    ):
        response = await sale_json(client, shop, **{field: value})
        assert response.status_code == 404, (field, response.text)
        assert response.json()["error"] == "not_found"
    sale = (await sale_json(client, shop)).json()
    moved = await client.patch(
        f"/api/v1/sales/{sale['id']}", json={"product_id": theirs.products[0].id}, headers=shop.headers
    )
    assert moved.status_code == 404


async def test_lists_metrics_and_exports_show_only_own_rows(
    client: httpx.AsyncClient,
    shop: Shop,
    factory: Factory,
    sessionmaker: async_sessionmaker[AsyncSession],
    settings: Settings,
) -> None:
    await add_sale(sessionmaker, settings, shop)
    theirs = await make_shop(factory, sessionmaker)
    h = theirs.headers
    assert (await client.get("/api/v1/sales", headers=h)).json()["total"] == 0
    assert (await client.get("/api/v1/points", params={"company_id": shop.company.id}, headers=h)).json()[
        "total"
    ] == 0
    assert (await client.get("/api/v1/customers", headers=h)).json()["total"] == 1  # their own
    metrics = await client.get(
        "/api/v1/sales/metrics", params={"date_from": "2026-03-01", "date_to": "2026-03-31"}, headers=h
    )
    assert metrics.json()["totals"]["sales"] == 0
    export = await client.get("/api/v1/sales/export", headers=h)
    assert export.text.strip().count("\n") == 0  # the header only
    point = await client.post(
        "/api/v1/points", json={"code": "X", "name": "X", "company_id": shop.company.id}, headers=h
    )
    assert point.status_code == 404
