"""Admin views of sales: lists with filters and search, writes through the service."""

from datetime import datetime
from decimal import Decimal

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from sauda.config import Settings
from sauda.db import transaction
from sauda.sales.models import Point, Sale
from sauda.sales.receipts.repository import ReceiptRepository
from sauda.sales.receipts.schemas import ReturnCreate, ReturnLineIn
from sauda.sales.receipts.service import create_return
from sauda.tenancy import Scope
from tests.factories import Factory
from tests.sales.conftest import Shop, add_sale, assert_rollup_matches
from tests.test_admin import login


@pytest.fixture
async def admin_client(client: httpx.AsyncClient, factory: Factory) -> httpx.AsyncClient:
    admin = await factory.admin()
    assert (await login(client, admin.email)).status_code == 302
    return client


@pytest.mark.parametrize(
    ("path", "params", "expected"),
    [
        ("/admin/point/list", {"search": "Магазин 2"}, "Магазин 2"),
        ("/admin/point/list", {"kind": "store", "city": "Алматы"}, "Магазин 1"),
        ("/admin/customer/list", {"search": "Айгуль"}, "Айгуль"),
        ("/admin/sale/list", {"search": "ADM-1"}, "ADM-1"),
        ("/admin/receipt/list", {"search": "ADM-1", "kind": "sale"}, "Магазин 1"),
        ("/admin/sale/list", {"total": "1000", "total_op": "equals"}, "ADM-1"),
        ("/admin/sales-import/list", {"status": "queued"}, "Sales import"),
    ],
)
async def test_lists_filter_and_search(
    admin_client: httpx.AsyncClient,
    shop: Shop,
    sessionmaker: async_sessionmaker[AsyncSession],
    settings: Settings,
    path: str,
    params: dict[str, str],
    expected: str,
) -> None:
    await add_sale(sessionmaker, settings, shop, external_id="ADM-1", customer_id=shop.customer.id)
    response = await admin_client.get(path, params=params)
    assert response.status_code == 200, response.text
    assert expected in response.text


async def test_point_create_goes_through_the_service(
    admin_client: httpx.AsyncClient, shop: Shop, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    form = {"company": str(shop.company.id), "code": shop.points[0].code, "name": "Дубль", "kind": "store"}
    duplicate = await admin_client.post("/admin/point/create", data=form | {"save": "Save"})
    assert duplicate.status_code == 400
    assert "already used" in duplicate.text
    created = await admin_client.post("/admin/point/create", data=form | {"code": "NEW-1", "save": "Save"})
    assert created.status_code == 302
    async with sessionmaker() as session:
        assert await session.scalar(select(Point.name).where(Point.code == "NEW-1")) == "Дубль"


async def test_sale_delete_keeps_the_rollup(
    admin_client: httpx.AsyncClient,
    shop: Shop,
    sessionmaker: async_sessionmaker[AsyncSession],
    settings: Settings,
) -> None:
    sale = await add_sale(sessionmaker, settings, shop)
    await add_sale(sessionmaker, settings, shop)
    response = await admin_client.delete("/admin/sale/delete", params={"pks": str(sale.id)})
    assert response.status_code == 200, response.text
    async with sessionmaker() as session:
        assert await session.scalar(select(func.count()).select_from(Sale)) == 1
    assert await assert_rollup_matches(sessionmaker, settings) == 1
    assert (await admin_client.get("/admin/sale/create")).status_code == 403


async def test_receipt_delete_goes_through_the_service(
    admin_client: httpx.AsyncClient,
    shop: Shop,
    sessionmaker: async_sessionmaker[AsyncSession],
    settings: Settings,
) -> None:
    sale = await add_sale(sessionmaker, settings, shop, quantity=Decimal(2))
    data = ReturnCreate(
        sold_at=datetime(2026, 3, 11, 12), lines=[ReturnLineIn(line_id=sale.id, quantity=Decimal(1))]
    )
    async with transaction(sessionmaker) as session:
        original = await ReceiptRepository(session, Scope.everything()).get_for_update(sale.receipt_id)
        back = await create_return(session, Scope.everything(), original, data, settings.tz)
    returns = await admin_client.get("/admin/receipt/list", params={"kind": "return"})
    assert f"/admin/receipt/details/{back.id}" in returns.text
    assert f"/admin/receipt/details/{sale.receipt_id}" not in returns.text
    details = await admin_client.get(f"/admin/receipt/details/{back.id}")
    assert details.status_code == 200, details.text
    assert "Магазин 1" in details.text
    assert "unknown 1000.00" in details.text  # its payment
    refused = await admin_client.delete("/admin/receipt/delete", params={"pks": str(sale.receipt_id)})
    assert "has returns" in httpx.URL(refused.text).params["error"]
    assert await assert_rollup_matches(sessionmaker, settings) == 2
    for receipt_id in (back.id, sale.receipt_id):
        response = await admin_client.delete("/admin/receipt/delete", params={"pks": str(receipt_id)})
        assert response.status_code == 200, response.text
        assert await assert_rollup_matches(sessionmaker, settings) == (1 if receipt_id == back.id else 0)
    assert (await admin_client.get("/admin/receipt/create")).status_code == 403
