"""Export of the filtered list as CSV and XLSX, parsed back."""

import csv
import io
from decimal import Decimal

import httpx
from openpyxl import load_workbook
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from sauda.config import Settings
from sauda.sales.export import HEADER
from tests.sales.conftest import Shop, add_sale


async def _three_sales(
    shop: Shop, sessionmaker: async_sessionmaker[AsyncSession], settings: Settings
) -> None:
    await add_sale(
        sessionmaker,
        settings,
        shop,
        external_id="E-1",
        unit_price=Decimal("1000.50"),
        quantity=Decimal("1.5"),
        customer_id=shop.customer.id,
        sold_at="2026-03-31T23:30:00+05:00",
    )
    await add_sale(sessionmaker, settings, shop, external_id="E-2", point_id=shop.points[1].id)
    await add_sale(sessionmaker, settings, shop, external_id="E-3", sold_at="2026-04-01T00:30:00+05:00")


async def test_csv_export_uses_the_list_filters(
    client: httpx.AsyncClient, shop: Shop, sessionmaker: async_sessionmaker[AsyncSession], settings: Settings
) -> None:
    await _three_sales(shop, sessionmaker, settings)
    params = {
        "format": "csv",
        "date_from": "2026-03-01",
        "date_to": "2026-03-31",
        "point_id": shop.points[0].id,
    }
    response = await client.get("/api/v1/sales/export", params=params, headers=shop.headers)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    assert 'filename="sales.csv"' in response.headers["content-disposition"]
    rows = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))
    assert tuple(rows[0]) == HEADER
    assert rows[1] == [
        "E-1",
        "2026-03-31 23:30:00",
        shop.points[0].code,
        shop.products[0].sku,
        "1.500",
        "1000.50",
        "0.00",
        "1500.75",
        shop.customer.external_id,
        "Айгуль",
        "Магазин 1",
        shop.products[0].name,
    ]
    assert len(rows) == 2


async def test_xlsx_export(
    client: httpx.AsyncClient, shop: Shop, sessionmaker: async_sessionmaker[AsyncSession], settings: Settings
) -> None:
    await _three_sales(shop, sessionmaker, settings)
    response = await client.get(
        "/api/v1/sales/export", params={"format": "xlsx", "ordering": "sold_at"}, headers=shop.headers
    )
    assert response.status_code == 200
    assert "spreadsheetml" in response.headers["content-type"]
    sheet = load_workbook(io.BytesIO(response.content), read_only=True).worksheets[0]
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0] == HEADER
    assert [r[0] for r in rows[1:]] == ["E-2", "E-1", "E-3"]
    assert str(rows[2][1]) == "2026-03-31 23:30:00"
    assert rows[2][7] == 1500.75


async def test_an_export_imports_back(
    client: httpx.AsyncClient,
    shop: Shop,
    sessionmaker: async_sessionmaker[AsyncSession],
    settings: Settings,
    run_worker: object,
) -> None:
    from tests.sales.test_imports import imported

    await _three_sales(shop, sessionmaker, settings)
    exported = await client.get("/api/v1/sales/export", headers=shop.headers)
    body = await imported(client, shop, run_worker, exported.content)  # type: ignore[arg-type]
    assert (body["status"], body["rows_duplicate"]) == ("succeeded", 3)


async def test_unknown_format_is_422(client: httpx.AsyncClient, shop: Shop) -> None:
    response = await client.get("/api/v1/sales/export", params={"format": "pdf"}, headers=shop.headers)
    assert response.status_code == 422
    assert response.json()["fields"][0]["field"] == "format"
