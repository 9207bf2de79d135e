"""Import of receipts (receipt number, kind, payment method, company columns) through a real
worker, and the export that imports back: into another company, into the same one (nothing
twice), and an admin's file of several companies."""

import csv
import io
from datetime import datetime
from decimal import Decimal
from typing import Any

import httpx
import pytest
from openpyxl import load_workbook
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from sauda.config import Settings
from sauda.db import transaction
from sauda.network.models import Product
from sauda.sales.models import Customer, Payment, Point, Receipt, ReceiptKind, Sale
from sauda.sales.receipts.repository import ReceiptRepository
from sauda.sales.receipts.schemas import LineIn, PaymentIn, ReceiptCreate, ReturnCreate, ReturnLineIn
from sauda.sales.receipts.service import create_receipt, create_return, delete_receipt
from sauda.tenancy import Scope
from tests.conftest import RunWorker
from tests.factories import Factory
from tests.sales.conftest import Shop, assert_rollup_matches, make_shop
from tests.sales.test_imports import count, imported

EXPORT = "/api/v1/sales/export"
LAYOUT = (
    "external_id",
    "sold_at",
    "point_code",
    "product_sku",
    "quantity",
    "unit_price",
    "discount",
    "total",
)
COLUMNS = ",".join((*LAYOUT, "receipt", "kind", "payment_method"))


def _file(shop: Shop, *rows: str, header: str = COLUMNS) -> bytes:
    p, q, r = shop.points[0].code, shop.products[0].sku, shop.products[1].sku
    return (
        header + "\n" + "".join(row.format(p=p, p2=shop.points[1].code, q=q, r=r) + "\n" for row in rows)
    ).encode()


async def receipts_of(
    sessionmaker: async_sessionmaker[AsyncSession], company_id: int
) -> list[dict[str, Any]]:
    """A company's receipts as a file would show them: no ids, codes instead of references."""
    async with sessionmaker() as session:
        stmt = (
            select(Receipt, Point.code, Customer.external_id)
            .join(Point, Point.id == Receipt.point_id)
            .outerjoin(Customer, Customer.id == Receipt.customer_id)
            .where(Receipt.company_id == company_id)
            .order_by(Receipt.sold_at, Receipt.total, Receipt.id)
        )
        found = []
        for receipt, point, customer in (await session.execute(stmt)).all():
            lines = await session.execute(
                select(
                    Sale.line_no,
                    Sale.kind,
                    Product.sku,
                    Sale.quantity,
                    Sale.unit_price,
                    Sale.discount,
                    Sale.total,
                )
                .join(Product, Product.id == Sale.product_id)
                .where(Sale.receipt_id == receipt.id)
                .order_by(Sale.line_no)
            )
            payments = await session.execute(
                select(Payment.method, Payment.amount)
                .where(Payment.receipt_id == receipt.id)
                .order_by(Payment.id)
            )
            found.append(
                {
                    "number": receipt.number,
                    "kind": receipt.kind,
                    "sold_at": receipt.sold_at,
                    "point": point,
                    "customer": customer,
                    "total": receipt.total,
                    "lines": [tuple(line) for line in lines],
                    "payments": [tuple(p) for p in payments],
                }
            )
        return found


async def test_lines_with_a_receipt_number_are_one_receipt_and_import_once(
    client: httpx.AsyncClient,
    shop: Shop,
    run_worker: RunWorker,
    sessionmaker: async_sessionmaker[AsyncSession],
    settings: Settings,
) -> None:
    content = _file(
        shop,
        "A-1,2026-03-01 10:00,{p},{q},2,100.00,,,101,sale,card",
        "A-2,2026-03-01 10:00,{p},{r},1,50.50,0.50,,101,продажа,Карта",
        "A-3,2026-03-01 10:00,{p2},{q},1,10.00,,,101,,",  # the same number at another point
        "A-4,2026-03-01 11:00,{p},{q},1,100.00,,,R-7,возврат,наличные",
        "A-5,2026-03-01 12:00,{p},{r},3,0.00,,,,,",  # no number: a receipt of its own; zero total
        "A-6,2026-03-01 10:00,{p},{r},1,5.00,,,101,sale,card",  # row 7 belongs to receipt 101 too
    )
    body = await imported(client, shop, run_worker, content)
    assert (body["status"], body["rows_inserted"], body["errors"]) == ("succeeded", 6, []), body
    at = datetime.fromisoformat
    assert await receipts_of(sessionmaker, shop.company.id) == [
        {
            "number": "101",
            "kind": ReceiptKind.sale,
            "sold_at": at("2026-03-01T10:00:00+05:00"),
            "point": shop.points[1].code,
            "customer": None,
            "total": Decimal("10.00"),
            "lines": [(1, ReceiptKind.sale, shop.products[0].sku, 1, 10, 0, Decimal("10.00"))],
            "payments": [("unknown", Decimal("10.00"))],
        },
        {
            "number": "101",
            "kind": ReceiptKind.sale,
            "sold_at": at("2026-03-01T10:00:00+05:00"),
            "point": shop.points[0].code,
            "customer": None,
            "total": Decimal("255.00"),
            "lines": [
                (1, ReceiptKind.sale, shop.products[0].sku, 2, 100, 0, Decimal("200.00")),
                (2, ReceiptKind.sale, shop.products[1].sku, 1, Decimal("50.50"), Decimal("0.50"), 50),
                (3, ReceiptKind.sale, shop.products[1].sku, 1, 5, 0, 5),
            ],
            "payments": [("card", Decimal("255.00"))],
        },
        {
            "number": "R-7",
            "kind": ReceiptKind.return_,
            "sold_at": at("2026-03-01T11:00:00+05:00"),
            "point": shop.points[0].code,
            "customer": None,
            "total": Decimal("100.00"),
            "lines": [(1, ReceiptKind.return_, shop.products[0].sku, 1, 100, 0, 100)],
            "payments": [("cash", Decimal("100.00"))],
        },
        {
            "number": None,
            "kind": ReceiptKind.sale,
            "sold_at": at("2026-03-01T12:00:00+05:00"),
            "point": shop.points[0].code,
            "customer": None,
            "total": Decimal("0.00"),
            "lines": [(1, ReceiptKind.sale, shop.products[1].sku, 3, 0, 0, 0)],
            "payments": [],
        },
    ]
    async with sessionmaker() as session:
        keys = set(await session.scalars(select(Receipt.external_id)))
        originals = set(await session.scalars(select(Receipt.original_id)))
    assert keys == {"A-1", "A-3", "A-4", "A-5"}  # each receipt's first line
    assert originals == {None}  # a return in a file has no original
    assert await assert_rollup_matches(sessionmaker, settings) == 6
    again = await imported(client, shop, run_worker, content)
    assert (again["status"], again["rows_inserted"], again["rows_duplicate"]) == ("succeeded", 0, 6)
    # The same lines in another order: the same receipts, still nothing twice.
    lines = content.decode().splitlines()
    shuffled = "\n".join([lines[0], *reversed(lines[1:])]).encode()
    third = await imported(client, shop, run_worker, shuffled)
    assert (third["status"], third["rows_inserted"], third["rows_duplicate"]) == ("succeeded", 0, 6)
    assert await assert_rollup_matches(sessionmaker, settings) == 6


@pytest.mark.parametrize("all_or_nothing", [True, False], ids=["all_or_nothing", "partial"])
async def test_a_receipt_with_a_bad_line_is_left_out_whole(
    client: httpx.AsyncClient,
    shop: Shop,
    run_worker: RunWorker,
    sessionmaker: async_sessionmaker[AsyncSession],
    settings: Settings,
    all_or_nothing: bool,
) -> None:
    content = _file(
        shop,
        "B-1,2026-03-01 10:00,{p},{q},1,100.00,,,201,sale,card",
        "B-2,2026-03-01 10:00,{p},{q},1,100.00,,,201,sale,cash",  # another method: row error
        "B-3,2026-03-01 10:00,{p},{q},1,100.00,,,202,sale,card",
        "B-4,2026-03-01 10:00,{p},{q},-1,100.00,,,202,sale,card",  # a negative quantity
        "B-5,2026-03-01 10:00,{p},{q},1,100.00,,,203,sale,card=60.00; cash=50.00",  # 110 ≠ 100
        "B-6,2026-03-01 10:00,{p},{q},1,100.00,,,204,sale,card=60.00; kaspi red=40",
        "B-7,2026-03-01 10:00,{p},NOPE,1,100.00,,,205,sale,card",
        "B-8,2026-03-01 10:00,{p},{q},1,100.00,,,205,sale,card",
    )
    body = await imported(client, shop, run_worker, content, all_or_nothing=all_or_nothing)
    errors = [(e["row"], e["column"], e["message"]) for e in body["errors"]]
    expected = [
        (3, "payment_method", "differs from row 2, the first line of its receipt"),
        (5, "quantity", "must be greater than 0: mark a return with kind=return and positive quantities"),
        (6, "payment_method", "the payments add up to 110.00, the receipt's total is 100.00"),
        (8, "product_sku", "no product with SKU 'NOPE'"),
    ]
    left_out = [
        (2, None, "left out with its receipt: row 3 has errors"),
        (4, None, "left out with its receipt: row 5 has errors"),
        (9, None, "left out with its receipt: row 8 has errors"),
    ]
    if all_or_nothing:
        assert (body["status"], body["rows_inserted"], body["rows_failed"]) == ("failed", 0, 4)
        assert errors == expected
        assert await count(sessionmaker, Receipt) == 0
        return
    assert errors == sorted(expected + left_out)
    assert (body["status"], body["rows_inserted"], body["rows_failed"]) == ("succeeded", 1, 7)
    assert await receipts_of(sessionmaker, shop.company.id) == [
        {
            "number": "204",
            "kind": ReceiptKind.sale,
            "sold_at": datetime.fromisoformat("2026-03-01T10:00:00+05:00"),
            "point": shop.points[0].code,
            "customer": None,
            "total": Decimal("100.00"),
            "lines": [(1, ReceiptKind.sale, shop.products[0].sku, 1, 100, 0, 100)],
            "payments": [("card", Decimal("60.00")), ("kaspi_red", Decimal("40.00"))],
        }
    ]
    assert await assert_rollup_matches(sessionmaker, settings) == 1


async def test_a_receipt_imported_before_with_other_lines_is_a_row_error(
    client: httpx.AsyncClient,
    shop: Shop,
    run_worker: RunWorker,
    sessionmaker: async_sessionmaker[AsyncSession],
    settings: Settings,
) -> None:
    first = _file(shop, "C-1,2026-03-01 10:00,{p},{q},1,100.00,,,301,sale,card")
    assert (await imported(client, shop, run_worker, first))["rows_inserted"] == 1
    grown = _file(
        shop,
        "C-1,2026-03-01 10:00,{p},{q},1,100.00,,,301,sale,card",
        "C-2,2026-03-01 10:00,{p},{q},1,100.00,,,301,sale,card",
        "C-9,2026-03-01 11:00,{p},{q},1,1.00,,,,sale,card",
    )
    body = await imported(client, shop, run_worker, grown, all_or_nothing=False)
    assert [(e["row"], e["column"], e["message"]) for e in body["errors"]] == [
        (2, "external_id", "external id 'C-1' is already imported, in a receipt with other lines"),
        (3, None, "left out with its receipt: row 2 has errors"),
    ]
    assert (body["rows_inserted"], body["rows_failed"]) == (1, 2)
    assert await assert_rollup_matches(sessionmaker, settings) == 2


async def _receipts_of_every_kind(
    sessionmaker: async_sessionmaker[AsyncSession], settings: Settings, shop: Shop
) -> None:
    """Through the receipts service: lines without external ids, split payments, a customer, a
    return of part of a receipt, a return without one, a receipt without a number or payment."""
    p, q = shop.products
    async with transaction(sessionmaker) as session:
        scope = Scope.everything()
        sale = await create_receipt(
            session,
            scope,
            ReceiptCreate(
                point_id=shop.points[0].id,
                customer_id=shop.customer.id,
                number="0042",
                sold_at=datetime(2026, 3, 2, 18, 30),
                external_id="T-42",
                lines=[
                    LineIn(product_id=p.id, quantity=Decimal("1.5"), unit_price=Decimal("1000.00")),
                    LineIn(
                        product_id=q.id,
                        quantity=Decimal(2),
                        unit_price=Decimal("250.25"),
                        discount=Decimal(1),
                    ),
                ],
                payments=[
                    PaymentIn(method="card", amount=Decimal("1500.00")),
                    PaymentIn(method="kaspi_qr", amount=Decimal("499.50")),
                ],
            ),
            settings.tz,
        )
        await session.refresh(sale, ["lines"])
        await create_return(
            session,
            scope,
            await ReceiptRepository(session, scope).get_for_update(sale.id),
            ReturnCreate(
                number="R-0042",
                sold_at=datetime(2026, 3, 3, 9, 0),
                lines=[ReturnLineIn(line_id=sale.lines[1].id, quantity=Decimal(1))],
                payments=[PaymentIn(method="cash", amount=Decimal("249.75"))],
            ),
            settings.tz,
        )
        for n, (kind, price) in enumerate([(ReceiptKind.return_, "80.00"), (ReceiptKind.sale, "0.00")]):
            await create_receipt(
                session,
                scope,
                ReceiptCreate(
                    point_id=shop.points[1].id,
                    kind=kind,
                    sold_at=datetime(2026, 3, 4, 12, n),
                    lines=[LineIn(product_id=q.id, quantity=Decimal(1), unit_price=Decimal(price))],
                ),
                settings.tz,
            )


def _rows(content: bytes, fmt: str) -> list[list[Any]]:
    if fmt == "csv":
        return list(csv.reader(io.StringIO(content.decode("utf-8-sig"))))
    sheet = load_workbook(io.BytesIO(content), read_only=True).worksheets[0]
    return [list(row) for row in sheet.iter_rows(values_only=True)]


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
async def test_an_export_imports_into_another_company_as_the_same_receipts(
    client: httpx.AsyncClient,
    factory: Factory,
    shop: Shop,
    run_worker: RunWorker,
    sessionmaker: async_sessionmaker[AsyncSession],
    settings: Settings,
    fmt: str,
) -> None:
    await _receipts_of_every_kind(sessionmaker, settings, shop)
    exported = await client.get(EXPORT, params={"format": fmt}, headers=shop.headers)
    assert exported.status_code == 200
    rows = _rows(exported.content, fmt)
    assert "company_id" not in rows[0]  # an employee's export: one company
    other = await make_shop(factory, sessionmaker)
    body = await imported(client, other, run_worker, exported.content, f"sales.{fmt}", create_missing=True)
    assert (body["status"], body["rows_inserted"], body["errors"]) == ("succeeded", 5, []), body
    theirs = await receipts_of(sessionmaker, other.company.id)
    assert theirs == await receipts_of(sessionmaker, shop.company.id)
    assert [r["kind"] for r in theirs] == [
        ReceiptKind.sale,
        ReceiptKind.return_,
        ReceiptKind.return_,
        ReceiptKind.sale,
    ]
    assert theirs[0]["customer"] == shop.customer.external_id
    # Back into the company it came from: every receipt is there already, lines found by ref.
    again = await imported(client, shop, run_worker, exported.content, f"sales.{fmt}")
    assert (again["status"], again["rows_inserted"], again["rows_duplicate"]) == ("succeeded", 0, 5), again
    assert await assert_rollup_matches(sessionmaker, settings) == 10


async def test_an_admins_export_has_the_company_and_imports_back_company_by_company(
    client: httpx.AsyncClient,
    factory: Factory,
    shop: Shop,
    run_worker: RunWorker,
    sessionmaker: async_sessionmaker[AsyncSession],
    settings: Settings,
) -> None:
    other = await make_shop(factory, sessionmaker)
    for owner, number in ((shop, "1"), (other, "2")):
        content = _file(owner, f"{number}-1,2026-03-01 10:00,{{p}},{{q}},1,10.00,,,{number},sale,card")
        assert (await imported(client, owner, run_worker, content))["rows_inserted"] == 1
    admin_headers = await factory.headers(await factory.admin())
    exported = await client.get(EXPORT, params={"ordering": "total"}, headers=admin_headers)
    rows = _rows(exported.content, "csv")
    assert rows[0][-1] == "company_id"
    assert sorted(row[-1] for row in rows[1:]) == sorted([str(shop.company.id), str(other.company.id)])
    before = await receipts_of(sessionmaker, other.company.id)

    async def admin_import(**form: Any) -> dict[str, Any]:
        data = {k: str(v).lower() if isinstance(v, bool) else str(v) for k, v in form.items()}
        response = await client.post(
            "/api/v1/sales/imports",
            files={"file": ("all.csv", exported.content)},
            data=data,
            headers=admin_headers,
        )
        assert response.status_code == 202, response.text
        await run_worker()
        status = await client.get(f"/api/v1/sales/imports/{response.json()['id']}", headers=admin_headers)
        body: dict[str, Any] = status.json()
        return body

    # Naming no company, each row goes into its own: all there already.
    body = await admin_import()
    assert (body["status"], body["company_id"], body["rows_duplicate"]) == ("succeeded", None, 2), body
    # One company named: the other's rows are row errors.
    body = await admin_import(company_id=shop.company.id, all_or_nothing=False)
    wrong = f"the row is of company {other.company.id}, the import is into company {shop.company.id}"
    assert [(e["column"], e["message"][: len(wrong)]) for e in body["errors"]] == [("company_id", wrong)]
    assert (body["status"], body["rows_duplicate"], body["rows_failed"]) == ("succeeded", 1, 1)
    # An employee cannot import another company's rows, nor see an import of several.
    theirs = await imported(client, shop, run_worker, exported.content)
    assert theirs["status"] == "failed"
    assert [e["column"] for e in theirs["errors"]] == ["company_id"]
    assert (await client.get("/api/v1/sales/imports", headers=other.headers)).json()["total"] == 1
    # A company's receipts lost: the admin's file brings them back.
    async with transaction(sessionmaker) as session:
        receipt = await session.scalar(select(Receipt).where(Receipt.company_id == other.company.id))
        assert receipt is not None
        await delete_receipt(session, receipt, settings.tz)
    body = await admin_import()
    assert (body["status"], body["rows_inserted"], body["rows_duplicate"]) == ("succeeded", 1, 1), body
    assert await receipts_of(sessionmaker, other.company.id) == before
    assert await assert_rollup_matches(sessionmaker, settings) == 2


async def test_an_admin_import_without_a_company_needs_the_column(
    client: httpx.AsyncClient,
    factory: Factory,
    shop: Shop,
    run_worker: RunWorker,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    admin_headers = await factory.headers(await factory.admin())
    content = _file(shop, "D-1,2026-03-01 10:00,{p},{q},1,10.00,,,1,sale,card")
    response = await client.post(
        "/api/v1/sales/imports", files={"file": ("a.csv", content)}, headers=admin_headers
    )
    assert response.status_code == 422
    assert response.json()["fields"][0]["field"] == "company_id"
    # With the column, a company that does not exist is a row error.
    content = _file(
        shop,
        f"D-1,2026-03-01 10:00,{{p}},{{q}},1,10.00,,,1,sale,card,{shop.company.id}",
        "D-2,2026-03-01 10:00,{p},{q},1,10.00,,,1,sale,card,999999",
        header=COLUMNS + ",company_id",
    )
    response = await client.post(
        "/api/v1/sales/imports", files={"file": ("a.csv", content)}, headers=admin_headers
    )
    assert response.status_code == 202
    await run_worker()
    body = (await client.get(f"/api/v1/sales/imports/{response.json()['id']}", headers=admin_headers)).json()
    assert (body["status"], body["company_id"]) == ("failed", None)
    assert body["errors"] == [{"row": 3, "column": "company_id", "message": "no company 999999"}]
    assert await count(sessionmaker, Receipt) == 0


async def test_today_sample_makes_one_line_receipts_paid_unknown(
    client: httpx.AsyncClient,
    shop: Shop,
    run_worker: RunWorker,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    from tests.sales.test_imports import DOCS

    content = (DOCS / "sales-import-sample.csv").read_bytes()
    body = await imported(client, shop, run_worker, content, create_missing=True)
    assert (body["status"], body["rows_inserted"]) == ("succeeded", 4)
    found = await receipts_of(sessionmaker, shop.company.id)
    assert [len(r["lines"]) for r in found] == [1, 1, 1, 1]
    assert {r["payments"][0][0] for r in found} == {"unknown"}
    assert all(r["number"] is None and r["kind"] is ReceiptKind.sale for r in found)
    async with sessionmaker() as session:
        keys = set(await session.scalars(select(Receipt.external_id)))
    assert keys == {"CHK-0001-1", "CHK-0001-2", "CHK-0002-1", "CHK-0003-1"}


async def test_the_receipts_sample_imports_as_documented(
    client: httpx.AsyncClient,
    shop: Shop,
    run_worker: RunWorker,
    sessionmaker: async_sessionmaker[AsyncSession],
    settings: Settings,
) -> None:
    from tests.sales.test_imports import DOCS

    content = (DOCS / "sales-import-receipts-sample.csv").read_bytes()
    body = await imported(client, shop, run_worker, content, create_missing=True)
    assert (body["status"], body["rows_inserted"], body["errors"]) == ("succeeded", 6, []), body
    found = await receipts_of(sessionmaker, shop.company.id)
    assert [(r["number"], r["kind"], len(r["lines"]), r["total"], r["payments"]) for r in found] == [
        ("0101", "sale", 2, Decimal("284970.00"), [("card", 200000), ("kaspi_qr", 84970)]),
        ("0102", "sale", 2, Decimal("122480.00"), [("kaspi_red", Decimal("122480.00"))]),
        (None, "sale", 1, Decimal("13000.00"), [("unknown", 13000)]),
        ("В-0007", "return", 1, Decimal("2490.00"), [("cash", Decimal("2490.00"))]),
    ]
    assert await assert_rollup_matches(sessionmaker, settings) == 6
