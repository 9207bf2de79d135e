"""Import of sales files through a real arq worker: happy paths, duplicates, all-or-nothing,
row errors, malformed files."""

import io
import os
from pathlib import Path
from typing import Any

import httpx
import pytest
from openpyxl import Workbook
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from sauda.config import Settings
from sauda.network.models import Product
from sauda.sales.models import Customer, Point, Sale
from tests.conftest import RunWorker
from tests.sales.conftest import Shop, assert_rollup_matches

DOCS = Path(__file__).resolve().parents[2] / "docs"
IMPORTS = "/api/v1/sales/imports"
HEADER = "external_id,sold_at,point_code,product_sku,quantity,unit_price,discount,total\n"


async def upload(
    client: httpx.AsyncClient, shop: Shop, content: bytes, name: str = "sales.csv", **form: Any
) -> httpx.Response:
    data = {k: str(v).lower() if isinstance(v, bool) else str(v) for k, v in form.items()}
    return await client.post(IMPORTS, files={"file": (name, content)}, data=data, headers=shop.headers)


async def imported(
    client: httpx.AsyncClient,
    shop: Shop,
    run_worker: RunWorker,
    content: bytes,
    name: str = "sales.csv",
    **form: Any,
) -> dict[str, Any]:
    response = await upload(client, shop, content, name, **form)
    assert response.status_code == 202, response.text
    assert response.json()["status"] == "queued"
    await run_worker()
    status = await client.get(f"{IMPORTS}/{response.json()['id']}", headers=shop.headers)
    assert status.status_code == 200
    body: dict[str, Any] = status.json()
    return body


async def count(sessionmaker: async_sessionmaker[AsyncSession], model: Any, **where: Any) -> int:
    async with sessionmaker() as session:
        stmt = select(func.count()).select_from(model).filter_by(**where)
        return int(await session.scalar(stmt) or 0)


def rows_for(shop: Shop, *rows: str) -> bytes:
    p, q = shop.points[0].code, shop.products[0].sku
    return (HEADER + "".join(r.format(p=p, q=q) + "\n" for r in rows)).encode()


@pytest.mark.parametrize("sample", ["sales-import-sample.csv", "sales-import-sample.xlsx"])
async def test_samples_import_with_create_missing(
    client: httpx.AsyncClient,
    shop: Shop,
    run_worker: RunWorker,
    sessionmaker: async_sessionmaker[AsyncSession],
    settings: Settings,
    sample: str,
) -> None:
    content = (DOCS / sample).read_bytes()
    body = await imported(client, shop, run_worker, content, sample, create_missing=True)
    assert body["status"] == "succeeded", body
    assert (body["rows_read"], body["rows_inserted"], body["rows_failed"], body["errors"]) == (4, 4, 0, [])
    assert body["format"] == sample.rsplit(".", 1)[1]
    company = shop.company.id
    assert await count(sessionmaker, Point, company_id=company, code="AST-02") == 1
    assert await count(sessionmaker, Product, company_id=company, sku="COFFEE-1KG") == 1
    assert await count(sessionmaker, Customer, company_id=company, external_id="C-1001") == 1
    sales = (await client.get("/api/v1/sales", params={"search": "CHK-0003-1"}, headers=shop.headers)).json()
    assert sales["items"][0]["total"] == 13000.0
    assert sales["items"][0]["quantity"] == 1.5
    # 23:30 Almaty on the 20th is the 20th.
    late = (await client.get("/api/v1/sales", params={"search": "CHK-0002-1"}, headers=shop.headers)).json()
    assert late["items"][0]["sold_at"].startswith("2026-11-20T18:30:00")
    assert await assert_rollup_matches(sessionmaker, settings) == 4
    again = await imported(client, shop, run_worker, content, sample, create_missing=True)
    assert (again["status"], again["rows_inserted"], again["rows_duplicate"]) == ("succeeded", 0, 4)
    assert await assert_rollup_matches(sessionmaker, settings) == 4


async def test_unknown_references_without_create_missing_fail_everything(
    client: httpx.AsyncClient,
    shop: Shop,
    run_worker: RunWorker,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    content = rows_for(
        shop,
        "A-1,2026-03-01 10:00,{p},{q},1,100.00,,",
        "A-2,2026-03-01 10:00,NOPE,{q},1,100.00,,",
        "A-3,2026-03-01 10:00,{p},MISSING-SKU,1,100.00,,",
    )
    body = await imported(client, shop, run_worker, content)
    assert body["status"] == "failed"
    assert body["rows_inserted"] == 0
    assert body["rows_failed"] == 2
    assert body["errors"] == [
        {"row": 3, "column": "point_code", "message": "no point with code 'NOPE'"},
        {"row": 4, "column": "product_sku", "message": "no product with SKU 'MISSING-SKU'"},
    ]
    assert "Nothing was imported" in body["error"]
    assert await count(sessionmaker, Sale) == 0


async def test_row_errors_name_row_and_column(
    client: httpx.AsyncClient,
    shop: Shop,
    run_worker: RunWorker,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    content = rows_for(
        shop,
        "B-1,2026-03-01 10:00,{p},{q},1,100.00,,",
        "B-2,not a date,{p},{q},1,100.00,,",
        "B-3,2026-03-01 10:00,{p},{q},0,100.00,,",
        "B-4,2026-03-01 10:00,{p},{q},1,abc,,",
        "B-5,2026-03-01 10:00,{p},{q},2,100.00,10.00,999.00",
        "B-6,2026-03-01 10:00,{p},{q},1,100.00,500.00,",
        ",2026-03-01 10:00,{p},{q},1,100.00,,",
        "B-1,2026-03-02 10:00,{p},{q},1,100.00,,",
    )
    body = await imported(client, shop, run_worker, content)
    assert body["status"] == "failed"
    assert [(e["row"], e["column"]) for e in body["errors"]] == [
        (3, "sold_at"),
        (4, "quantity"),
        (5, "unit_price"),
        (6, "total"),
        (7, "discount"),
        (8, "external_id"),
        (9, "external_id"),
    ]
    assert body["errors"][3]["message"] == "is 999.00, but quantity × unit_price − discount = 190.00"
    assert body["errors"][6]["message"] == "external id 'B-1' already in row 2"
    assert body["rows_failed"] == 7
    assert await count(sessionmaker, Sale) == 0


async def test_partial_import_keeps_good_rows(
    client: httpx.AsyncClient,
    shop: Shop,
    run_worker: RunWorker,
    sessionmaker: async_sessionmaker[AsyncSession],
    settings: Settings,
) -> None:
    content = rows_for(
        shop, "C-1,2026-03-01 10:00,{p},{q},1,100.00,,", "C-2,2026-03-01 10:00,{p},{q},-1,100.00,,"
    )
    body = await imported(client, shop, run_worker, content, all_or_nothing=False)
    assert (body["status"], body["rows_inserted"], body["rows_failed"]) == ("succeeded", 1, 1)
    assert body["errors"][0]["column"] == "quantity"
    assert await assert_rollup_matches(sessionmaker, settings) == 1


async def test_semicolons_decimal_commas_and_cp1251(
    client: httpx.AsyncClient, shop: Shop, run_worker: RunWorker
) -> None:
    text = (
        "external_id;sold_at;point_code;product_sku;quantity;unit_price;customer_name\n"
        f"D-1;31.03.2026 23:30;{shop.points[0].code};{shop.products[0].sku};1,5;1 000,50;Покупатель\n"
    )
    wrong = await upload(client, shop, text.encode("cp1251"))
    assert wrong.status_code == 422
    assert "not UTF-8" in wrong.json()["detail"]
    assert "cp1251" in wrong.json()["detail"]
    body = await imported(client, shop, run_worker, text.encode("cp1251"), encoding="cp1251")
    assert body["status"] == "succeeded", body
    sale = (await client.get("/api/v1/sales", headers=shop.headers)).json()["items"][0]
    assert (sale["total"], sale["sold_at"][:19]) == (1500.75, "2026-03-31T18:30:00")


async def test_last_line_without_newline(
    client: httpx.AsyncClient, shop: Shop, run_worker: RunWorker
) -> None:
    content = rows_for(shop, "H-1,2026-03-01 10:00,{p},{q},1,1.00,,").rstrip(b"\n")
    body = await imported(client, shop, run_worker, content)
    assert (body["status"], body["rows_inserted"]) == ("succeeded", 1)


async def test_import_status_of_another_company_is_404(
    client: httpx.AsyncClient, shop: Shop, factory: Any, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    from tests.sales.conftest import make_shop

    other = await make_shop(factory, sessionmaker)
    response = await upload(client, shop, rows_for(shop, "E-1,2026-03-01 10:00,{p},{q},1,1.00,,"))
    theirs = await client.get(f"{IMPORTS}/{response.json()['id']}", headers=other.headers)
    assert theirs.status_code == 404
    listed = await client.get(IMPORTS, headers=other.headers)
    assert listed.json()["total"] == 0


def _xlsx(rows: list[list[Any]]) -> bytes:
    workbook = Workbook()
    for row in rows:
        workbook.active.append(row)
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


def _damaged_xlsx() -> bytes:
    """A real workbook whose sheet XML is cut in the middle."""
    import zipfile

    row = ["X", "2026-03-01 10:00", "P", "S", 1, 1]
    source = zipfile.ZipFile(io.BytesIO(_xlsx([HEADER.strip().split(",")[:6]] + [row] * 2000)))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as damaged:
        for item in source.infolist():
            data = source.read(item)
            damaged.writestr(item, data[: len(data) // 2] if "worksheets/sheet" in item.filename else data)
    return out.getvalue()


MALFORMED = {
    "empty": (b"", "sales.csv", "empty"),
    "header only": (HEADER.encode() + b"\n,,\n", "sales.csv", "no rows"),
    "wrong header": (b"id,date,amount\n1,2026-01-01,5\n", "sales.csv", "Wrong header"),
    "not utf-8": ("внешний_id;дата\n".encode("cp1251"), "sales.csv", "not UTF-8"),
    "binary garbage": (os.urandom(4096), "sales.csv", None),
    "xlsx that is not a workbook": (b"PK\x03\x04" + os.urandom(2000), "sales.xlsx", "not a readable .xlsx"),
    "named xlsx, is text": (b"hello", "sales.xlsx", "not an Excel workbook"),
    "old xls": (b"\xd0\xcf\x11\xe0" + os.urandom(100), "sales.xls", ".xls"),
    "empty workbook": (_xlsx([]), "sales.xlsx", "empty"),
    "workbook wrong header": (_xlsx([["a", "b"], [1, 2]]), "sales.xlsx", "Wrong header"),
}


@pytest.mark.parametrize("case", list(MALFORMED))
async def test_malformed_files_are_a_clear_422(client: httpx.AsyncClient, shop: Shop, case: str) -> None:
    content, name, words = MALFORMED[case]
    response = await upload(client, shop, content, name)
    assert response.status_code == 422, response.text
    assert response.json()["error"] == "invalid_file"
    if words:
        assert words in response.json()["detail"]


async def test_bad_bytes_deep_in_the_file_fail_the_import(
    client: httpx.AsyncClient,
    shop: Shop,
    run_worker: RunWorker,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    good = "".join(f"F-{n},2026-03-01 10:00,{{p}},{{q}},1,1.00,," for n in range(1))
    content = (
        rows_for(shop, *[good.replace("F-0", f"F-{n}") for n in range(5000)]) + b"F-x,\xff\xfe garbage\n"
    )
    body = await imported(client, shop, run_worker, content)
    assert body["status"] == "failed"
    assert "not UTF-8" in body["error"]
    assert await count(sessionmaker, Sale) == 0


async def test_damaged_workbook_fails_the_import(
    client: httpx.AsyncClient, shop: Shop, run_worker: RunWorker
) -> None:
    body = await imported(client, shop, run_worker, _damaged_xlsx(), "sales.xlsx")
    assert body["status"] == "failed"
    assert "damaged" in body["error"]


async def test_fifty_megabytes_of_garbage(client: httpx.AsyncClient, shop: Shop) -> None:
    garbage = os.urandom(1024 * 1024) * 50
    response = await upload(client, shop, garbage)
    assert response.status_code == 422
    assert response.json()["error"] == "invalid_file"


async def test_too_large_is_413(client: httpx.AsyncClient, shop: Shop, settings: Settings) -> None:
    limit = settings.sales.import_max_bytes
    settings.sales.import_max_bytes = 1000
    try:
        content = rows_for(shop, *[f"G-{n},2026-03-01 10:00,{{p}},{{q}},1,1.00,," for n in range(100)])
        response = await upload(client, shop, content)
    finally:
        settings.sales.import_max_bytes = limit
    assert response.status_code == 413
    assert response.json()["error"] == "file_too_large"


async def test_unknown_encoding_is_422(client: httpx.AsyncClient, shop: Shop) -> None:
    response = await upload(client, shop, HEADER.encode(), encoding="latin-1")
    assert response.status_code == 422
    assert response.json()["fields"][0]["field"] == "encoding"
