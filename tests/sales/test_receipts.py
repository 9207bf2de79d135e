"""Receipts and returns through /api/v1/receipts: lines, payments, totals, what is left to return,
filters, tenancy, and the older /sales routes as the one-line view of receipts. The rollups are
checked against the receipts after the writes."""

from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from sauda.config import Settings
from tests.factories import Factory
from tests.sales.conftest import Shop, add_sale, assert_rollup_matches, make_shop, sale_json

URL = "/api/v1/receipts"


def line(shop: Shop, n: int = 0, **values: Any) -> dict[str, Any]:
    return {"product_id": shop.products[n].id, "quantity": "1", "unit_price": "1000.00"} | values


def receipt_body(shop: Shop, **values: Any) -> dict[str, Any]:
    return {
        "point_id": shop.points[0].id,
        "sold_at": "2026-03-10T12:00:00",
        "lines": [line(shop)],
    } | values


async def post_receipt(client: httpx.AsyncClient, shop: Shop, **values: Any) -> dict[str, Any]:
    response = await client.post(URL, json=receipt_body(shop, **values), headers=shop.headers)
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


async def post_return(
    client: httpx.AsyncClient, shop: Shop, receipt_id: int, lines: list[tuple[int, str]], **values: Any
) -> httpx.Response:
    body = {
        "sold_at": "2026-03-12T10:00:00",
        "lines": [{"line_id": line_id, "quantity": quantity} for line_id, quantity in lines],
    } | values
    return await client.post(f"{URL}/{receipt_id}/returns", json=body, headers=shop.headers)


async def listed(client: httpx.AsyncClient, shop: Shop, **params: Any) -> list[int]:
    response = await client.get(URL, params=params, headers=shop.headers)
    assert response.status_code == 200, response.text
    return [item["id"] for item in response.json()["items"]]


async def test_a_receipt_with_lines_and_payments(
    client: httpx.AsyncClient, shop: Shop, sessionmaker: async_sessionmaker[AsyncSession], settings: Settings
) -> None:
    lines = [
        line(shop, 0, quantity="2", unit_price="1500.50", discount="1.00", external_id="L-1"),
        line(shop, 1, quantity="0.755", unit_price="999.99"),
        line(shop, 0, quantity="1", unit_price="0.00"),
    ]
    payments = [{"method": "cash", "amount": "2000.00"}, {"method": "kaspi_qr", "amount": "1754.99"}]
    created = await post_receipt(
        client,
        shop,
        lines=lines,
        payments=payments,
        number="0042",
        external_id="CHK-42",
        customer_id=shop.customer.id,
        sold_at="2026-03-31T23:30:00",
    )
    assert created["total"] == 3754.99  # 3000.00 + 754.99 (0.755 × 999.99 = 754.99245) + 0
    assert [(x["line_no"], x["total"], x["returned_quantity"]) for x in created["lines"]] == [
        (1, 3000.0, 0.0),
        (2, 754.99, 0.0),
        (3, 0.0, 0.0),
    ]
    assert created["payments"] == [
        {"method": "cash", "amount": 2000.0},
        {"method": "kaspi_qr", "amount": 1754.99},
    ]
    assert (created["kind"], created["number"], created["original_id"]) == ("sale", "0042", None)
    assert (created["company_id"], created["customer_id"]) == (shop.company.id, shop.customer.id)
    assert created["sold_at"] == "2026-03-31T18:30:00Z"  # business time in, UTC out
    fetched = await client.get(f"{URL}/{created['id']}", headers=shop.headers)
    assert fetched.json() == created
    # Every line is a sale of the older /sales list.
    sales = await client.get("/api/v1/sales", params={"ordering": "total"}, headers=shop.headers)
    assert [s["id"] for s in sales.json()["items"]] == [x["id"] for x in reversed(created["lines"])]
    assert await assert_rollup_matches(sessionmaker, settings) == 3


async def test_payments_must_add_up_to_the_total(client: httpx.AsyncClient, shop: Shop) -> None:
    two = [line(shop, 0, unit_price="600.00"), line(shop, 1, unit_price="400.00")]
    short = await client.post(
        URL,
        json=receipt_body(shop, lines=two, payments=[{"method": "card", "amount": "999.99"}]),
        headers=shop.headers,
    )
    assert short.status_code == 422, short.text
    assert short.json()["fields"] == [
        {"field": "payments", "message": "add up to 999.99, the receipt's total is 1000.00"}
    ]
    wrong_total = await client.post(
        URL, json=receipt_body(shop, lines=[two[0], two[1] | {"total": "399.00"}]), headers=shop.headers
    )
    assert wrong_total.status_code == 422
    assert wrong_total.json()["fields"][0]["field"] == "lines[1].total"
    zero = await client.post(
        URL, json=receipt_body(shop, payments=[{"method": "cash", "amount": "0"}]), headers=shop.headers
    )
    assert zero.status_code == 422
    assert zero.json()["fields"][0]["field"] == "payments[0].amount"
    unpaid = await post_receipt(client, shop, lines=two)
    assert unpaid["payments"] == [{"method": "unknown", "amount": 1000.0}]
    taken = await client.post(URL, json=receipt_body(shop, external_id="X", lines=two), headers=shop.headers)
    again = await client.post(URL, json=receipt_body(shop, external_id="X", lines=two), headers=shop.headers)
    assert (taken.status_code, again.status_code) == (201, 409)
    assert again.json()["fields"][0]["field"] == "external_id"


async def test_a_line_returns_at_most_what_is_left(
    client: httpx.AsyncClient, shop: Shop, sessionmaker: async_sessionmaker[AsyncSession], settings: Settings
) -> None:
    receipt = await post_receipt(
        client,
        shop,
        lines=[line(shop, 0, quantity="3", unit_price="100.00"), line(shop, 1, unit_price="50.00")],
        payments=[{"method": "card", "amount": "350.00"}],
    )
    first, second = (x["id"] for x in receipt["lines"])
    part = await post_return(
        client, shop, receipt["id"], [(first, "1")], payments=[{"method": "card", "amount": "100.00"}]
    )
    assert part.status_code == 201, part.text
    back = part.json()
    assert (back["kind"], back["original_id"], back["point_id"], back["total"]) == (
        "return",
        receipt["id"],
        shop.points[0].id,
        100.0,
    )
    assert [(x["returned_line_id"], x["quantity"], x["returned_quantity"]) for x in back["lines"]] == [
        (first, 1.0, None)
    ]
    assert await assert_rollup_matches(sessionmaker, settings) == 3  # lines of sales and returns
    rest = await post_return(client, shop, receipt["id"], [(first, "2"), (second, "1")])
    assert rest.status_code == 201, rest.text
    assert rest.json()["payments"] == [{"method": "unknown", "amount": 250.0}]
    one_more = await post_return(client, shop, receipt["id"], [(second, "0.001"), (first, "1")])
    assert one_more.status_code == 409, one_more.text
    assert one_more.json()["detail"] == f"Line {second} has 0.000 left to return"
    assert one_more.json()["fields"] == [
        {"field": "lines[0].quantity", "message": "at most 0.000 left to return"}
    ]
    original = (await client.get(f"{URL}/{receipt['id']}", headers=shop.headers)).json()
    assert [x["returned_quantity"] for x in original["lines"]] == [3.0, 1.0]
    returns = (await client.get(f"{URL}/{receipt['id']}/returns", headers=shop.headers)).json()
    assert [r["id"] for r in returns["items"]] == [back["id"], rest.json()["id"]]
    assert returns["items"][1]["lines"][1]["returned_line_id"] == second
    assert await assert_rollup_matches(sessionmaker, settings) == 5


async def test_two_lines_of_one_return_share_what_is_left(client: httpx.AsyncClient, shop: Shop) -> None:
    receipt = await post_receipt(client, shop, lines=[line(shop, 0, quantity="2")])
    line_id = receipt["lines"][0]["id"]
    both = await post_return(client, shop, receipt["id"], [(line_id, "1.5"), (line_id, "1")])
    assert both.status_code == 409
    assert both.json()["fields"] == [
        {"field": "lines[1].quantity", "message": "at most 0.500 left to return"}
    ]


async def test_a_return_takes_its_share_of_the_discount(
    client: httpx.AsyncClient, shop: Shop, sessionmaker: async_sessionmaker[AsyncSession], settings: Settings
) -> None:
    receipt = await post_receipt(
        client, shop, lines=[line(shop, 0, quantity="3", unit_price="100.00", discount="10.00")]
    )
    line_id = receipt["lines"][0]["id"]
    assert receipt["total"] == 290.0
    one = (await post_return(client, shop, receipt["id"], [(line_id, "1")])).json()
    two = (await post_return(client, shop, receipt["id"], [(line_id, "2")])).json()
    assert [(r["lines"][0]["discount"], r["lines"][0]["unit_price"], r["total"]) for r in (one, two)] == [
        (3.33, 100.0, 96.67),
        (6.67, 100.0, 193.33),
    ]
    assert one["total"] + two["total"] == 290.0  # all of it returned: all of it refunded
    assert await assert_rollup_matches(sessionmaker, settings) == 3


async def test_returns_without_a_receipt_and_of_returns(
    client: httpx.AsyncClient, shop: Shop, sessionmaker: async_sessionmaker[AsyncSession], settings: Settings
) -> None:
    orphan = await post_receipt(client, shop, kind="return", payments=[{"method": "cash", "amount": "1000"}])
    assert (orphan["kind"], orphan["original_id"], orphan["lines"][0]["returned_quantity"]) == (
        "return",
        None,
        None,
    )
    of_return = await post_return(client, shop, orphan["id"], [(orphan["lines"][0]["id"], "1")])
    assert of_return.status_code == 422
    assert of_return.json()["fields"][0]["field"] == "receipt_id"
    sale = await post_receipt(client, shop)
    foreign_line = await post_return(client, shop, sale["id"], [(orphan["lines"][0]["id"], "1")])
    assert foreign_line.status_code == 422
    assert foreign_line.json()["fields"][0]["field"] == "lines[0].line_id"
    elsewhere = await post_return(
        client, shop, sale["id"], [(sale["lines"][0]["id"], "1")], point_id=shop.points[1].id
    )
    assert elsewhere.json()["point_id"] == shop.points[1].id
    metrics = await client.get(
        "/api/v1/sales/metrics",
        params={"date_from": "2026-03-01", "date_to": "2026-03-31"},
        headers=shop.headers,
    )
    assert metrics.status_code == 200
    assert await assert_rollup_matches(sessionmaker, settings) == 3


async def test_a_receipt_with_returns_cannot_be_deleted(
    client: httpx.AsyncClient, shop: Shop, sessionmaker: async_sessionmaker[AsyncSession], settings: Settings
) -> None:
    receipt = await post_receipt(client, shop, lines=[line(shop, 0, quantity="2"), line(shop, 1)])
    back = (await post_return(client, shop, receipt["id"], [(receipt["lines"][0]["id"], "1")])).json()
    refused = await client.delete(f"{URL}/{receipt['id']}", headers=shop.headers)
    assert refused.status_code == 409
    assert refused.json()["detail"] == f"Receipt {receipt['id']} has returns: delete them first"
    assert await assert_rollup_matches(sessionmaker, settings) == 3
    assert (await client.delete(f"{URL}/{back['id']}", headers=shop.headers)).status_code == 204
    assert await assert_rollup_matches(sessionmaker, settings) == 2
    assert (await client.delete(f"{URL}/{receipt['id']}", headers=shop.headers)).status_code == 204
    assert (await client.get(f"{URL}/{receipt['id']}", headers=shop.headers)).status_code == 404
    assert (await client.get("/api/v1/sales", headers=shop.headers)).json()["total"] == 0
    assert await assert_rollup_matches(sessionmaker, settings) == 0


async def test_filters_and_ordering(client: httpx.AsyncClient, shop: Shop) -> None:
    late = await post_receipt(
        client,
        shop,
        sold_at="2026-03-31T23:30:00",  # 18:30 UTC: still 31 March in Almaty
        number="A-1",
        lines=[line(shop, 0, unit_price="300.00")],
        payments=[{"method": "cash", "amount": "100"}, {"method": "kaspi_red", "amount": "200"}],
    )
    april = await post_receipt(
        client,
        shop,
        sold_at="2026-03-31T19:30:00Z",  # 00:30 on 1 April in Almaty
        external_id="EXT-2",
        point_id=shop.points[1].id,
        customer_id=shop.customer.id,
        lines=[line(shop, 1, unit_price="500.00")],
        payments=[{"method": "card", "amount": "500"}],
    )
    returned = [(late["lines"][0]["id"], "1")]
    back = (
        await post_return(client, shop, late["id"], returned, number="A-1", sold_at="2026-04-02T10:00")
    ).json()
    march = {"date_from": "2026-03-01", "date_to": "2026-03-31"}
    assert await listed(client, shop, **march) == [late["id"]]
    assert await listed(client, shop, date_from="2026-04-01", date_to="2026-04-01") == [april["id"]]
    assert await listed(client, shop) == [back["id"], april["id"], late["id"]]  # -sold_at, then -id
    assert await listed(client, shop, ordering="sold_at") == [late["id"], april["id"], back["id"]]
    assert await listed(client, shop, ordering="-total") == [april["id"], back["id"], late["id"]]
    assert await listed(client, shop, ordering="total") == [late["id"], back["id"], april["id"]]
    assert await listed(client, shop, kind="return") == [back["id"]]
    assert await listed(client, shop, kind="sale", ordering="sold_at") == [late["id"], april["id"]]
    assert await listed(client, shop, method="kaspi_red") == [late["id"]]
    assert await listed(client, shop, method="unknown") == [back["id"]]
    assert await listed(client, shop, method="transfer") == []
    assert await listed(client, shop, search="A-1") == [back["id"], late["id"]]
    assert await listed(client, shop, search="EXT-2") == [april["id"]]
    assert await listed(client, shop, search="A-") == []  # exact, not a part
    assert await listed(client, shop, point_id=shop.points[1].id) == [april["id"]]
    assert await listed(client, shop, customer_id=shop.customer.id) == [april["id"]]
    assert await listed(client, shop, total_min="300.01", total_max="500") == [april["id"]]
    assert await listed(client, shop, company_id=shop.company.id, limit=1, page=3) == [late["id"]]
    page = (await client.get(URL, params={"method": "cash"}, headers=shop.headers)).json()
    assert page["items"][0]["payments"] == [
        {"method": "cash", "amount": 100.0},
        {"method": "kaspi_red", "amount": 200.0},
    ]
    assert "lines" not in page["items"][0]
    for params in (
        {"method": "bitcoin"},
        {"kind": "refund"},
        {"ordering": "quantity"},
        {"date_from": "1999-12-31"},
    ):
        response = await client.get(URL, params=params, headers=shop.headers)
        assert response.status_code == 422, params
        assert response.json()["fields"][0]["field"] == next(iter(params))


async def test_another_companys_receipts_are_404(
    client: httpx.AsyncClient, shop: Shop, factory: Factory, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    receipt = await post_receipt(client, shop)
    intruder = await make_shop(factory, sessionmaker)
    h = intruder.headers
    assert (await client.get(f"{URL}/{receipt['id']}", headers=h)).status_code == 404
    assert (await client.delete(f"{URL}/{receipt['id']}", headers=h)).status_code == 404
    assert (await client.get(f"{URL}/{receipt['id']}/returns", headers=h)).status_code == 404
    stolen = await post_return(client, intruder, receipt["id"], [(receipt["lines"][0]["id"], "1")])
    assert stolen.status_code == 404
    assert (await client.get(URL, headers=h)).json()["total"] == 0
    assert (await client.get(URL, params={"company_id": shop.company.id}, headers=h)).json()["total"] == 0
    for body in (
        receipt_body(shop),  # their point
        receipt_body(intruder, lines=[line(shop)]),  # their product
        receipt_body(intruder, customer_id=shop.customer.id),
    ):
        response = await client.post(URL, json=body, headers=h)
        assert response.status_code == 404, response.text
    own = (await client.get(f"{URL}/{receipt['id']}", headers=shop.headers)).json()
    assert own["lines"][0]["returned_quantity"] == 0.0
    admin = await factory.headers(await factory.admin())
    assert (await client.get(URL, headers=admin)).json()["total"] == 1
    assert (await client.get(f"{URL}/9223372036854775808", headers=admin)).status_code == 404


async def test_sales_are_one_line_receipts(
    client: httpx.AsyncClient, shop: Shop, sessionmaker: async_sessionmaker[AsyncSession], settings: Settings
) -> None:
    sale = (await sale_json(client, shop, external_id="S-1")).json()
    receipts = (await client.get(URL, headers=shop.headers)).json()["items"]
    assert [(r["external_id"], r["total"], r["payments"]) for r in receipts] == [
        ("S-1", sale["total"], [{"method": "unknown", "amount": sale["total"]}])
    ]
    receipt = (await client.get(f"{URL}/{receipts[0]['id']}", headers=shop.headers)).json()
    assert [x["id"] for x in receipt["lines"]] == [sale["id"]]
    patched = await client.patch(f"/api/v1/sales/{sale['id']}", json={"quantity": "3"}, headers=shop.headers)
    assert patched.status_code == 200, patched.text
    receipt = (await client.get(f"{URL}/{receipt['id']}", headers=shop.headers)).json()
    assert receipt["total"] == patched.json()["total"] == receipt["payments"][0]["amount"]
    # A line of a receipt of several lines, or of a return, is changed through its receipt.
    several = await post_receipt(client, shop, lines=[line(shop, 0), line(shop, 1)])
    refused = await client.patch(
        f"/api/v1/sales/{several['lines'][0]['id']}", json={"quantity": "2"}, headers=shop.headers
    )
    assert refused.status_code == 409
    assert "/api/v1/receipts" in refused.json()["detail"]
    back = (await post_return(client, shop, receipt["id"], [(sale["id"], "1")])).json()
    # A sale with returns keeps what they were made at, and at least what they took back.
    sale_url = f"/api/v1/sales/{sale['id']}"
    for change, field in (
        ({"quantity": "0.999"}, "quantity"),
        ({"unit_price": "1.00"}, "unit_price"),
        ({"product_id": shop.products[1].id, "quantity": "5"}, "product_id"),
    ):
        refused = await client.patch(sale_url, json=change, headers=shop.headers)
        assert refused.status_code == 409, change
        assert refused.json()["fields"][0]["field"] == field
    assert (await client.patch(sale_url, json={"quantity": "1"}, headers=shop.headers)).status_code == 200
    for sale_id in (sale["id"], back["lines"][0]["id"]):
        assert (await client.delete(f"/api/v1/sales/{sale_id}", headers=shop.headers)).status_code == 409
    assert await assert_rollup_matches(sessionmaker, settings) == 4


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"lines": []}, "lines"),
        ({"payments": [{"method": "cash", "amount": "1"}] * 21}, "payments"),
        ({"kind": "refund"}, "kind"),
        ({"total": "1000"}, "total"),
        ({"company_id": 1}, "company_id"),
        ({"sold_at": "1999-12-31T12:00:00"}, "sold_at"),
        ({"number": "x" * 65}, "number"),
    ],
)
async def test_receipt_input_is_bounded(
    client: httpx.AsyncClient, shop: Shop, body: dict[str, Any], field: str
) -> None:
    response = await client.post(URL, json=receipt_body(shop, **body), headers=shop.headers)
    assert response.status_code == 422, response.text
    assert response.json()["fields"][0]["field"] == field


async def test_an_admin_writes_receipts_of_any_company(
    client: httpx.AsyncClient,
    shop: Shop,
    factory: Factory,
    sessionmaker: async_sessionmaker[AsyncSession],
    settings: Settings,
) -> None:
    await add_sale(sessionmaker, settings, shop)
    admin = await factory.headers(await factory.admin())
    response = await client.post(URL, json=receipt_body(shop), headers=admin)
    assert response.status_code == 201, response.text
    assert response.json()["company_id"] == shop.company.id
    theirs = await make_shop(factory, sessionmaker)
    await client.post(URL, json=receipt_body(theirs), headers=admin)
    assert (await client.get(URL, params={"company_id": theirs.company.id}, headers=admin)).json()[
        "total"
    ] == 1
    assert await assert_rollup_matches(sessionmaker, settings) == 3
