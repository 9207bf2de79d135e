"""Metrics of receipts: several lines, several payment methods, returns (partial and full, on the
day of the sale and later), hours of the day in business time (Asia/Almaty, UTC+5).

The week of 10 March 2026 (Almaty time):

| receipt | when (Almaty)   | point | lines                                  | payments               |
|---------|-----------------|-------|----------------------------------------|------------------------|
| D       | 08 Mar 09:00    | 1     | p0 1 × 1000                            | cash 1000              |
| A       | 10 Mar 12:15    | 1     | p0 2 × 1000; p1 1 × 500 − 50           | cash 1000, card 1450   |
| B       | 10 Mar 23:30    | 2     | p0 1 × 1000                            | kaspi_qr 1000          |
| R2      | 10 Mar 23:45    | 2     | returns all of B                       | kaspi_qr 1000 back     |
| C       | 11 Mar 00:10    | 2     | p1 3 × 500                             | kaspi_red 1500         |
| E       | 11 Mar 12:40    | 1     | p1 1 × 500                             | card 500               |
| R1      | 12 Mar 10:00    | 1     | returns 1 of A's p0 line               | cash 1000 back         |

D alone is the previous period of 10–12 March (7–9 March).
"""

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from sauda.config import Settings
from sauda.db import transaction
from sauda.sales.models import PaymentMethod, Receipt
from sauda.sales.receipts.repository import ReceiptRepository
from sauda.sales.receipts.schemas import LineIn, PaymentIn, ReceiptCreate, ReturnCreate, ReturnLineIn
from sauda.sales.receipts.service import create_receipt, create_return
from sauda.tenancy import Scope
from tests.factories import Factory
from tests.sales.conftest import Shop, assert_rollup_matches, make_shop

METRICS = "/api/v1/sales/metrics"
WEEK = {"date_from": "2026-03-10", "date_to": "2026-03-12"}


@dataclass
class Till:
    """Writes receipts and returns of one shop through the receipts service."""

    sessionmaker: async_sessionmaker[AsyncSession]
    settings: Settings
    shop: Shop

    async def sell(
        self,
        sold_at: str,
        lines: list[tuple[int, str, str, str]],
        payments: list[tuple[PaymentMethod, str]] = (),  # type: ignore[assignment]
        *,
        point: int = 0,
    ) -> Receipt:
        """`lines`: (product index, quantity, unit price, discount)."""
        data = ReceiptCreate(
            point_id=self.shop.points[point].id,
            sold_at=sold_at,  # type: ignore[arg-type]
            lines=[
                LineIn(
                    product_id=self.shop.products[p].id,
                    quantity=Decimal(q),
                    unit_price=Decimal(price),
                    discount=Decimal(off),
                )
                for p, q, price, off in lines
            ],
            payments=[PaymentIn(method=m, amount=Decimal(a)) for m, a in payments],
        )
        async with transaction(self.sessionmaker) as session:
            return await create_receipt(session, Scope.everything(), data, self.settings.tz)

    async def take_back(
        self,
        original: Receipt,
        sold_at: str,
        lines: list[tuple[int, str]],
        payments: list[tuple[PaymentMethod, str]] = (),  # type: ignore[assignment]
    ) -> Receipt:
        """`lines`: (line number of the original, quantity)."""
        async with transaction(self.sessionmaker) as session:
            receipts = ReceiptRepository(session, Scope.everything())
            locked = await receipts.get_for_update(original.id)
            ids = {line.line_no: line.id for line in await receipts.lines(original.id)}
            data = ReturnCreate(
                sold_at=sold_at,  # type: ignore[arg-type]
                lines=[ReturnLineIn(line_id=ids[n], quantity=Decimal(q)) for n, q in lines],
                payments=[PaymentIn(method=m, amount=Decimal(a)) for m, a in payments],
            )
            return await create_return(session, Scope.everything(), locked, data, self.settings.tz)


@pytest.fixture
def till(shop: Shop, sessionmaker: async_sessionmaker[AsyncSession], settings: Settings) -> Till:
    return Till(sessionmaker, settings, shop)


CASH, CARD, QR, RED = PaymentMethod.cash, PaymentMethod.card, PaymentMethod.kaspi_qr, PaymentMethod.kaspi_red


@pytest.fixture
async def week(till: Till, sessionmaker: async_sessionmaker[AsyncSession], settings: Settings) -> Shop:
    await till.sell("2026-03-08T09:00:00+05:00", [(0, "1", "1000", "0")], [(CASH, "1000")])
    a = await till.sell(
        "2026-03-10T12:15:00+05:00",
        [(0, "2", "1000", "0"), (1, "1", "500", "50")],
        [(CASH, "1000"), (CARD, "1450")],
    )
    b = await till.sell("2026-03-10T23:30:00+05:00", [(0, "1", "1000", "0")], [(QR, "1000")], point=1)
    await till.take_back(b, "2026-03-10T23:45:00+05:00", [(1, "1")], [(QR, "1000")])
    await till.sell("2026-03-11T00:10:00+05:00", [(1, "3", "500", "0")], [(RED, "1500")], point=1)
    await till.sell("2026-03-11T12:40:00+05:00", [(1, "1", "500", "0")], [(CARD, "500")])
    await till.take_back(a, "2026-03-12T10:00:00+05:00", [(1, "1")], [(CASH, "1000")])
    await assert_rollup_matches(sessionmaker, settings)
    return till.shop


async def _get(client: httpx.AsyncClient, path: str, headers: dict[str, str], **params: Any) -> dict:
    response = await client.get(path, params=params, headers=headers)
    assert response.status_code == 200, response.text
    return response.json()


async def test_figures_of_receipts_with_returns(client: httpx.AsyncClient, week: Shop) -> None:
    body = await _get(client, METRICS, week.headers, granularity="day", **WEEK)
    assert body["totals"] == {
        "revenue": 3450.0,
        "sales": 5,
        "quantity": 6.0,
        "average_ticket": 862.5,
        "receipts": 4,
        "return_receipts": 2,
        "gross_sales": 5450.0,
        "returns": 2000.0,
        "net_sales": 3450.0,
        "average_receipt": 862.5,
        "units_per_receipt": 1.5,
        "returned_quantity": 2.0,
        "return_rate": 36.7,
    }
    days = {b["start"]: b for b in body["buckets"]}
    # 10 March: A and B sold, B returned in full the same evening.
    assert (days["2026-03-10"]["gross_sales"], days["2026-03-10"]["returns"]) == (3450.0, 1000.0)
    assert (days["2026-03-10"]["receipts"], days["2026-03-10"]["average_receipt"]) == (2, 1225.0)
    assert (days["2026-03-10"]["units_per_receipt"], days["2026-03-10"]["return_rate"]) == (1.5, 28.99)
    # 11 March: C (just after midnight in Almaty, still 10 March in UTC) and E.
    assert (days["2026-03-11"]["net_sales"], days["2026-03-11"]["receipts"]) == (2000.0, 2)
    assert days["2026-03-11"]["units_per_receipt"] == 2.0
    # 12 March: only part of A came back, two days after its sale: it subtracts on that day.
    assert days["2026-03-12"] | {"start": None} == {
        "start": None,
        "revenue": -1000.0,
        "sales": 0,
        "quantity": -1.0,
        "average_ticket": 0.0,
        "receipts": 0,
        "return_receipts": 1,
        "gross_sales": 0.0,
        "returns": 1000.0,
        "net_sales": -1000.0,
        "average_receipt": 0.0,
        "units_per_receipt": 0.0,
        "returned_quantity": 1.0,
        "return_rate": None,
    }


async def test_previous_period_and_change(client: httpx.AsyncClient, week: Shop) -> None:
    body = await _get(client, METRICS, week.headers, granularity="week", **WEEK)
    assert (body["previous"]["date_from"], body["previous"]["date_to"]) == ("2026-03-07", "2026-03-09")
    before = body["previous"]["totals"]
    assert (before["net_sales"], before["receipts"], before["average_receipt"]) == (1000.0, 1, 1000.0)
    assert before["return_rate"] == 0.0
    change = body["change"]
    assert (change["net_sales"], change["revenue"], change["receipts"]) == (245.0, 245.0, 300.0)
    assert (change["average_receipt"], change["average_ticket"]) == (-13.8, -13.8)
    assert change["returns"] is None  # nothing was returned before
    assert change["return_rate"] == 36.7  # percentage points
    assert [b["start"] for b in body["buckets"]] == ["2026-03-09"]


async def test_by_point_and_by_product(client: httpx.AsyncClient, week: Shop) -> None:
    shop = week
    by_point = await _get(client, METRICS, shop.headers, granularity="month", group_by="point", **WEEK)
    points = {g["id"]: g["totals"] for g in by_point["groups"]}
    assert [g["id"] for g in by_point["groups"]] == [shop.points[0].id, shop.points[1].id]  # by net
    first, second = points[shop.points[0].id], points[shop.points[1].id]
    assert (first["gross_sales"], first["returns"], first["receipts"], first["average_receipt"]) == (
        2950.0,
        1000.0,
        2,
        975.0,
    )
    assert (second["gross_sales"], second["returns"], second["receipts"], second["return_receipts"]) == (
        2500.0,
        1000.0,
        2,
        1,
    )
    only_second = await _get(client, METRICS, shop.headers, point_id=shop.points[1].id, **WEEK)
    assert only_second["totals"] == second

    by_product = await _get(client, METRICS, shop.headers, group_by="product", **WEEK)
    products = {g["id"]: g["totals"] for g in by_product["groups"]}
    assert [g["id"] for g in by_product["groups"]] == [shop.products[1].id, shop.products[0].id]
    p0, p1 = products[shop.products[0].id], products[shop.products[1].id]
    assert (p0["net_sales"], p0["quantity"], p0["returned_quantity"], p0["return_rate"]) == (
        1000.0,
        1.0,
        2.0,
        66.67,
    )
    assert (p1["net_sales"], p1["quantity"], p1["receipts"]) == (2450.0, 5.0, 3)
    # By product a receipt counts once per line of the product; the totals count receipts.
    assert (p0["receipts"], by_product["totals"]["receipts"], by_product["totals"]["net_sales"]) == (
        2,
        4,
        3450.0,
    )
    top = await _get(client, METRICS, shop.headers, group_by="point", groups_limit=1, **WEEK)
    assert [g["id"] for g in top["groups"]] == [shop.points[0].id]
    assert top["totals"] == by_point["totals"]

    # A point and a product together are read from the lines: A's p0 line, then one of it back.
    both = await _get(
        client, METRICS, shop.headers, point_id=shop.points[0].id, product_id=shop.products[0].id, **WEEK
    )
    assert (both["totals"]["gross_sales"], both["totals"]["returns"], both["totals"]["receipts"]) == (
        2000.0,
        1000.0,
        1,
    )
    grouped = await _get(
        client, METRICS, shop.headers, group_by="product", point_id=shop.points[0].id, **WEEK
    )
    assert {g["id"]: g["totals"]["net_sales"] for g in grouped["groups"]} == {
        shop.products[0].id: 1000.0,
        shop.products[1].id: 950.0,
    }


async def test_payment_split(client: httpx.AsyncClient, week: Shop) -> None:
    body = await _get(client, f"{METRICS}/payments", week.headers, **WEEK)
    assert (body["paid"], body["refunded"], body["net"]) == (5450.0, 2000.0, 3450.0)
    assert body["previous"] == {"date_from": "2026-03-07", "date_to": "2026-03-09"}
    methods = [
        (
            m["method"],
            m["paid"],
            m["payments"],
            m["refunded"],
            m["refunds"],
            m["net"],
            m["share"],
            m["previous_net"],
        )
        for m in body["methods"]
    ]
    assert methods == [
        ("card", 1950.0, 2, 0.0, 0, 1950.0, 35.78, 0.0),
        ("kaspi_red", 1500.0, 1, 0.0, 0, 1500.0, 27.52, 0.0),
        ("cash", 1000.0, 1, 1000.0, 1, 0.0, 18.35, 1000.0),
        ("kaspi_qr", 1000.0, 1, 1000.0, 1, 0.0, 18.35, 0.0),
    ]
    # The methods' net adds up to the net sales.
    totals = (await _get(client, METRICS, week.headers, **WEEK))["totals"]
    assert sum(m["net"] for m in body["methods"]) == totals["net_sales"]

    second = await _get(client, f"{METRICS}/payments", week.headers, point_id=week.points[1].id, **WEEK)
    assert [(m["method"], m["paid"], m["refunded"]) for m in second["methods"]] == [
        ("kaspi_red", 1500.0, 0.0),
        ("kaspi_qr", 1000.0, 1000.0),
    ]
    nothing = await _get(
        client, f"{METRICS}/payments", week.headers, date_from="2026-01-01", date_to="2026-01-31"
    )
    assert (nothing["methods"], nothing["net"]) == ([], 0.0)


async def test_hours_of_the_day_in_business_time(client: httpx.AsyncClient, week: Shop) -> None:
    body = await _get(client, f"{METRICS}/hours", week.headers, **WEEK)
    assert body["timezone"] == "Asia/Almaty"
    assert [h["hour"] for h in body["hours"]] == list(range(24))
    busy = {
        h["hour"]: (h["receipts"], h["return_receipts"], h["net_sales"])
        for h in body["hours"]
        if any((h["receipts"], h["return_receipts"]))
    }
    # B at 23:30 and its return at 23:45 on 10 March are hour 23 (18:30 UTC); C at 00:10 on 11
    # March is hour 0 (19:10 UTC the day before); A and E at 12:xx; R1 at 10:00.
    assert busy == {0: (1, 0, 1500.0), 10: (0, 1, -1000.0), 12: (2, 0, 2950.0), 23: (1, 1, 0.0)}
    assert body["peak_hour"] == 12
    noon = body["hours"][12]
    assert (noon["average_receipt"], noon["receipts_per_day"], body["days"]) == (1475.0, 0.67, 3)
    assert body["hours"][5] == {
        "hour": 5,
        "receipts": 0,
        "return_receipts": 0,
        "gross_sales": 0.0,
        "returns": 0.0,
        "net_sales": 0.0,
        "average_receipt": 0.0,
        "receipts_per_day": 0.0,
    }

    tenth = await _get(client, f"{METRICS}/hours", week.headers, date_from="2026-03-10", date_to="2026-03-10")
    assert {h["hour"]: h["receipts"] for h in tenth["hours"] if h["receipts"]} == {12: 1, 23: 1}
    second = await _get(client, f"{METRICS}/hours", week.headers, point_id=week.points[1].id, **WEEK)
    assert {h["hour"]: h["receipts"] for h in second["hours"] if h["receipts"]} == {0: 1, 23: 1}
    assert second["peak_hour"] == 0  # a tie goes to the earlier hour
    empty = await _get(client, f"{METRICS}/hours", week.headers, date_from="2026-01-01", date_to="2026-01-02")
    assert empty["peak_hour"] is None


async def test_top_products_are_net_of_returns(client: httpx.AsyncClient, week: Shop) -> None:
    shop = week
    body = await _get(client, f"{METRICS}/top-products", shop.headers, **WEEK)
    assert [
        (i["product_id"], i["revenue"], i["gross_sales"], i["returns"], i["quantity"]) for i in body["items"]
    ] == [
        (shop.products[1].id, 2450.0, 2450.0, 0.0, 5.0),
        (shop.products[0].id, 1000.0, 3000.0, 2000.0, 1.0),
    ]
    assert body["items"][1]["previous_revenue"] == 1000.0  # D
    first_point = await _get(
        client, f"{METRICS}/top-products", shop.headers, point_id=shop.points[0].id, **WEEK
    )
    assert [(i["product_id"], i["revenue"], i["returned_quantity"]) for i in first_point["items"]] == [
        (shop.products[0].id, 1000.0, 1.0),
        (shop.products[1].id, 950.0, 0.0),
    ]
    assert first_point["items"][0]["previous_revenue"] == 1000.0


async def test_company_filter_and_tenancy(
    client: httpx.AsyncClient,
    week: Shop,
    factory: Factory,
    sessionmaker: async_sessionmaker[AsyncSession],
    settings: Settings,
) -> None:
    other = await make_shop(factory, sessionmaker)
    await Till(sessionmaker, settings, other).sell(
        "2026-03-11T15:00:00+05:00", [(0, "1", "700", "0")], [(CARD, "700")]
    )
    admin = await factory.headers(await factory.admin())
    for path, read in (
        (METRICS, lambda b: b["totals"]["net_sales"]),
        (f"{METRICS}/payments", lambda b: b["net"]),
        (f"{METRICS}/hours", lambda b: sum(h["net_sales"] for h in b["hours"])),
        (f"{METRICS}/top-products", lambda b: sum(i["revenue"] for i in b["items"])),
    ):
        assert read(await _get(client, path, admin, **WEEK)) == 4150.0, path
        assert read(await _get(client, path, admin, company_id=week.company.id, **WEEK)) == 3450.0, path
        assert read(await _get(client, path, other.headers, **WEEK)) == 700.0, path
        # An employee naming another company sees nothing of it.
        assert read(await _get(client, path, other.headers, company_id=week.company.id, **WEEK)) == 0.0, path
