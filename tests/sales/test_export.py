"""Export of the filtered list as CSV and XLSX, parsed back."""

import csv
import io
from collections.abc import AsyncIterator, Callable, Sequence
from decimal import Decimal
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from openpyxl import load_workbook
from sqlalchemy import Select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from sauda.config import Settings
from sauda.sales import export, router
from sauda.sales.export import HEADER
from sauda.sales.models import Sale
from tests.sales.conftest import Shop, add_sale

EXPORT = "/api/v1/sales/export"


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
        "",  # a sale through /sales has no till number
        "E-1",  # its receipt's external id is the sale's
        "sale",
        "unknown",
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


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("customer_id", 2**31),
        ("point_id", 2**31),
        ("company_id", 2**63),
        ("date_from", "0001-01-01"),
        ("date_to", "9999-12-31"),
        ("total_min", "1e400"),
        ("total_max", "NaN"),
        ("search", "a\x00b"),
    ],
)
@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
async def test_a_filter_out_of_range_is_a_422_before_any_byte(
    client: httpx.AsyncClient, shop: Shop, fmt: str, field: str, value: Any
) -> None:
    response = await client.get(EXPORT, params={"format": fmt, field: value}, headers=shop.headers)
    assert response.status_code == 422
    assert response.headers["content-type"].startswith("application/json")
    assert response.json()["error"] == "validation_error"
    assert [f["field"] for f in response.json()["fields"]] == [field]


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
async def test_a_database_error_on_the_first_query_is_a_json_error(
    app: FastAPI, shop: Shop, monkeypatch: pytest.MonkeyPatch, fmt: str
) -> None:
    real = router.export_statement

    def out_of_range(sales: Select[Sale], limit: int, **options: Any) -> Select[Any]:
        # What an unchecked customer_id=2147483648 did: the database refuses the query.
        return real(sales, limit, **options).where(Sale.customer_id == 2**31)

    monkeypatch.setattr(router, "export_statement", out_of_range)
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        response = await client.get(EXPORT, params={"format": fmt}, headers=shop.headers)
    # The database's refusal meets the last line of defence: a JSON 4xx, not a 200 and a header.
    assert response.status_code == 422
    assert response.json()["error"] == "validation_error"
    assert response.headers["content-type"].startswith("application/json")


async def _read_into(received: bytearray, response: httpx.Response) -> None:
    async for chunk in response.aiter_raw():
        received += chunk


@pytest.fixture
def break_exports(monkeypatch: pytest.MonkeyPatch) -> Callable[[], None]:
    """From the call on, exports read one row per batch and fail after the first batch."""
    real = export._rows

    async def breaks(*args: Any) -> AsyncIterator[Sequence[Any]]:
        async for rows in real(*args):
            yield rows
            raise RuntimeError("the database went away")

    def apply() -> None:
        monkeypatch.setattr(export, "BATCH", 1)
        monkeypatch.setattr(export, "_rows", breaks)

    return apply


async def test_a_csv_failing_mid_stream_is_a_cut_transfer(
    served: str,
    shop: Shop,
    sessionmaker: async_sessionmaker[AsyncSession],
    settings: Settings,
    break_exports: Callable[[], None],
) -> None:
    await _three_sales(shop, sessionmaker, settings)
    async with httpx.AsyncClient(base_url=served, headers=shop.headers) as client:
        whole = await client.get(EXPORT)
        assert len(whole.text.splitlines()) == 4  # the same server sends a whole file if all is well
        break_exports()
        received = bytearray()
        async with client.stream("GET", EXPORT) as response:
            assert response.status_code == 200
            with pytest.raises(httpx.RemoteProtocolError, match="incomplete chunked read"):
                await _read_into(received, response)
    # The header and the first batch went out; the end of the body never did.
    lines = received.decode("utf-8-sig").splitlines()
    assert (tuple(lines[0].split(",")), lines[1][:4], len(lines)) == (HEADER, "E-3,", 2)


async def test_an_xlsx_failing_mid_way_is_an_error_response(
    served: str,
    shop: Shop,
    sessionmaker: async_sessionmaker[AsyncSession],
    settings: Settings,
    break_exports: Callable[[], None],
) -> None:
    await _three_sales(shop, sessionmaker, settings)
    break_exports()
    async with httpx.AsyncClient(base_url=served, headers=shop.headers) as client:
        response = await client.get(EXPORT, params={"format": "xlsx"})
    # The workbook is sent only once whole, so the status can still tell.
    assert response.status_code == 500
    assert response.json() == {"error": "internal_error", "detail": "Internal server error"}


async def test_an_empty_csv_export_is_its_header(client: httpx.AsyncClient, shop: Shop) -> None:
    response = await client.get(EXPORT, headers=shop.headers)
    assert response.status_code == 200
    assert response.content.decode("utf-8-sig") == ",".join(HEADER) + "\r\n"
