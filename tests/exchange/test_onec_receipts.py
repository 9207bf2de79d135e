"""Receipts in the 1C exchange: whole receipts with nested lines and payments in the feeds, a
receipt re-sent when any of its lines or payments changes, tombstones, and receipts (returns
too) upserted from 1C with the rollups kept right."""

import asyncio
import uuid
from decimal import Decimal
from typing import Any

import httpx
from sqlalchemy import delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from sauda.config import Settings
from sauda.db import transaction
from sauda.exchange.entities import SPECS
from sauda.exchange.models import Entity
from sauda.sales.models import Payment, PaymentMethod, Receipt, Sale
from sauda.sales.receipts import service as receipts_service
from sauda.sales.receipts.repository import ReceiptRepository
from sauda.sales.receipts.schemas import ReturnCreate, ReturnLineIn
from sauda.tenancy import Scope
from tests.exchange.conftest import OneCSetup, make_onec
from tests.exchange.onec_client import OneCClient, apply, read_json
from tests.exchange.test_onec_module import CONTRACT_KEYS, NESTED_KEYS
from tests.exchange.test_onec_platform import BOM, EMPTY_DATE, prerequisites, put, sample
from tests.factories import Factory
from tests.sales.conftest import add_sale, assert_rollup_matches, make_shop

RECEIPTS = Entity.receipts
_RETURNED = "2026-03-12T20:00:00"
RECEIPT_KEYS = CONTRACT_KEYS["receipts"]  # the contract the 1C module reads
LINE_KEYS = NESTED_KEYS["receipts"]["lines"]
PAYMENT_KEYS = NESTED_KEYS["receipts"]["payments"]


def line(quantity: Any, price: Any, **values: Any) -> dict[str, Any]:
    return {"product_external_id": "ITEM-1", "quantity": quantity, "unit_price": price} | values


def receipt(key: str, lines: list[dict[str, Any]], **values: Any) -> dict[str, Any]:
    return sample(RECEIPTS, key, lines=lines, payments=[]) | values


async def _ready(onec: OneCClient) -> None:
    """The sample's point, customer and product, and a second product `ITEM-2`."""
    await prerequisites(onec)
    assert (await put(onec, Entity.products, [sample(Entity.products, "ITEM-2")]))[0]["status"] == "created"


async def _receipts(onec: OneCClient) -> dict[str, dict[str, Any]]:
    return {item["external_id"]: item for item in await onec.full_load("receipts")}


# --- the feed ---------------------------------------------------------------------------------------


async def test_the_feed_nests_lines_and_payments_in_each_receipt(
    onec_setup: OneCSetup, sessionmaker: async_sessionmaker[AsyncSession], settings: Settings
) -> None:
    onec = onec_setup.onec
    await _ready(onec)
    [created] = await put(onec, RECEIPTS, [sample(RECEIPTS, "CHK-1")])
    assert (created["status"], created["errors"]) == ("created", [])
    items = await onec.full_load("receipts", limit=1)
    assert len(items) == 1
    item = items[0]
    assert set(item) == RECEIPT_KEYS
    assert {k: v for k, v in item.items() if k not in ("lines", "payments", "id", "ref", "created_at")} == {
        "external_id": "CHK-1",
        "company_id": onec_setup.company.id,
        "point_id": item["point_id"],
        "point_ref": (await onec.full_load("points"))[0]["ref"],
        "customer_id": item["customer_id"],
        "customer_ref": (await onec.full_load("customers"))[0]["ref"],
        "kind": "sale",
        "number": "000123",
        "original_id": None,
        "original_ref": None,
        "sold_at": "2026-03-31T23:30:00",
        "total": Decimal("3091.00"),
        "deleted": False,
    }
    assert item["ref"] == str(uuid.UUID(item["ref"]))
    products = {p["external_id"]: p for p in await onec.full_load("products")}
    first, second = item["lines"]
    assert set(first) == set(second) == LINE_KEYS
    assert (first["line_no"], second["line_no"]) == (1, 2)
    assert first["product_ref"] == products["ITEM-1"]["ref"]
    assert first["product_id"] == products["ITEM-1"]["id"]
    # Money with two decimals, quantities with three, as the columns keep them.
    assert [str(first[k]) for k in ("quantity", "unit_price", "discount", "total")] == [
        "2.000",
        "1500.50",
        "0.00",
        "3001.00",
    ]
    assert (str(second["discount"]), str(second["total"]), second["returned_line_id"]) == (
        "9.00",
        "90.00",
        None,
    )
    assert all(set(payment) == PAYMENT_KEYS for payment in item["payments"])
    assert item["payments"] == [
        {"method": "card", "amount": Decimal("3001.00")},
        {"method": "cash", "amount": Decimal("90.00")},
    ]
    # The lines are the `sales` feed's records: the same ids and refs.
    sales = {s["id"]: s for s in await onec.full_load("sales")}
    assert {(line["id"], line["ref"]) for line in item["lines"]} == {(i, s["ref"]) for i, s in sales.items()}
    await assert_rollup_matches(sessionmaker, settings)


async def test_sales_made_elsewhere_are_receipts_in_the_feed_and_a_receipt_without_payments_has_none(
    onec_setup: OneCSetup,
) -> None:
    onec = onec_setup.onec
    await _ready(onec)
    await put(onec, Entity.sales, [sample(Entity.sales, "SALE-1")])
    free = receipt("FREE-1", [line(1, "0.00")])
    assert (await put(onec, RECEIPTS, [free]))[0]["status"] == "created"
    items = await _receipts(onec)
    assert [(line["external_id"], line["total"]) for line in items["SALE-1"]["lines"]] == [
        ("SALE-1", Decimal("3001.00"))
    ]
    assert items["SALE-1"]["payments"] == [{"method": "unknown", "amount": Decimal("3001.00")}]
    assert (items["FREE-1"]["total"], items["FREE-1"]["payments"]) == (Decimal("0.00"), [])


async def test_a_change_to_one_line_or_payment_resends_its_receipt(
    onec_setup: OneCSetup, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    onec = onec_setup.onec
    await _ready(onec)
    await put(onec, RECEIPTS, [sample(RECEIPTS, "CHK-1"), sample(RECEIPTS, "CHK-2")])
    mirror: dict[int, dict] = {}
    assert await onec.sync("receipts", mirror) == 1
    assert len(mirror) == 2
    by_key = {item["external_id"]: item for item in mirror.values()}
    line_id = by_key["CHK-2"]["lines"][1]["id"]

    # Plain SQL on one line, then on one payment: each re-sends its receipt only, whole.
    async with transaction(sessionmaker) as session:
        await session.execute(update(Sale).where(Sale.id == line_id).values(discount=Decimal("10.00")))
    batch = await onec.pull_changes("receipts")
    assert [(i["external_id"], [str(line["discount"]) for line in i["lines"]]) for i in batch["items"]] == [
        ("CHK-2", ["0.00", "10.00"])
    ]
    apply(mirror, batch["items"])
    await onec.ack("receipts", batch)
    async with transaction(sessionmaker) as session:
        await session.execute(
            update(Payment)
            .where(Payment.receipt_id == by_key["CHK-1"]["id"], Payment.method == PaymentMethod.cash)
            .values(method=PaymentMethod.kaspi_qr)
        )
    batch = await onec.pull_changes("receipts")
    assert [(i["external_id"], [p["method"] for p in i["payments"]]) for i in batch["items"]] == [
        ("CHK-1", ["card", "kaspi_qr"])
    ]
    apply(mirror, batch["items"])
    await onec.ack("receipts", batch)
    # A deleted line too (the receipt lives on).
    async with transaction(sessionmaker) as session:
        await session.execute(delete(Sale).where(Sale.id == line_id))
    await onec.sync("receipts", mirror)
    assert mirror == {item["id"]: item for item in await onec.full_load("receipts")}
    assert [len(item["lines"]) for item in mirror.values()] == [2, 1]


async def test_a_deleted_receipt_is_a_tombstone_with_its_identifiers_whatever_deletes_it(
    onec_setup: OneCSetup, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    """Its lines and payments go with it (ON DELETE CASCADE); their capture must not turn the
    receipt's tombstone back into a change of a live receipt."""
    onec = onec_setup.onec
    await _ready(onec)
    await put(onec, RECEIPTS, [sample(RECEIPTS, "CHK-1"), sample(RECEIPTS, "CHK-2")])
    mirror: dict[int, dict] = {}
    await onec.sync("receipts", mirror)
    live = {item["external_id"]: item for item in mirror.values()}
    async with transaction(sessionmaker) as session:  # plain SQL, not through the service
        await session.execute(delete(Receipt).where(Receipt.external_id == "CHK-1"))
    [tombstone] = (await onec.pull_changes("receipts"))["items"]
    assert set(tombstone) == RECEIPT_KEYS
    assert tombstone == dict.fromkeys(RECEIPT_KEYS) | {
        key: live["CHK-1"][key] for key in SPECS[RECEIPTS].identifiers
    } | {"deleted": True}


async def test_a_new_clients_first_batch_holds_every_receipt_and_the_snapshot_nests_too(
    onec_setup: OneCSetup,
) -> None:
    onec = onec_setup.onec
    await _ready(onec)
    await put(onec, RECEIPTS, [sample(RECEIPTS, f"CHK-{n}") for n in range(3)])
    batch = await onec.pull_changes("receipts", limit=2)
    assert (len(batch["items"]), batch["has_more"]) == (2, True)
    snapshot = read_json(await onec.send("GET", "/api/v1/exchange/receipts/snapshot.json"))
    assert snapshot["items"] == await onec.full_load("receipts")
    assert [len(item["lines"]) for item in snapshot["items"]] == [2, 2, 2]


# --- upserts from 1C ------------------------------------------------------------------------------


async def test_receipts_are_created_updated_unchanged_and_deleted(
    onec_setup: OneCSetup, sessionmaker: async_sessionmaker[AsyncSession], settings: Settings
) -> None:
    onec = onec_setup.onec
    await _ready(onec)
    one_c_ref = str(uuid.uuid4())
    first = sample(RECEIPTS, one_c_ref)
    [created] = await put(onec, RECEIPTS, [first])
    assert created["status"] == "created"
    before = (await _receipts(onec))[one_c_ref]
    assert before["ref"] == one_c_ref  # made in 1C: its reference is its ref
    assert [r["status"] for r in await put(onec, RECEIPTS, [first], bom=False)] == ["unchanged"]
    await assert_rollup_matches(sessionmaker, settings)

    # An update replaces the lines and payments: the receipt keeps its id and ref.
    changed = first | {
        "sold_at": "2026-04-01T09:15:00",
        "lines": [line(3, "100.00", product_external_id="ITEM-2", external_id="L-1")],
        "payments": [{"method": "kaspi_qr", "amount": "100.00"}, {"method": "kaspi_red", "amount": "200.00"}],
    }
    [updated] = await put(onec, RECEIPTS, [changed])
    assert (updated["status"], updated["id"]) == ("updated", created["id"])
    after = (await _receipts(onec))[one_c_ref]
    assert (after["id"], after["ref"], after["total"], after["sold_at"]) == (
        before["id"],
        one_c_ref,
        Decimal("300.00"),
        "2026-04-01T09:15:00",
    )
    assert [(line["line_no"], line["external_id"], line["quantity"]) for line in after["lines"]] == [
        (1, "L-1", Decimal("3.000"))
    ]
    assert [p["method"] for p in after["payments"]] == ["kaspi_qr", "kaspi_red"]
    assert [r["status"] for r in await put(onec, RECEIPTS, [changed])] == ["unchanged"]
    await assert_rollup_matches(sessionmaker, settings)

    # Only the payments differ: still an update.
    paid_in_cash = changed | {"payments": [{"method": "cash", "amount": "300.00"}]}
    assert [r["status"] for r in await put(onec, RECEIPTS, [paid_in_cash])] == ["updated"]
    assert [r["status"] for r in await put(onec, RECEIPTS, [paid_in_cash | {"payments": []}])] == ["updated"]
    assert (await _receipts(onec))[one_c_ref]["payments"] == [
        {"method": "unknown", "amount": Decimal("300.00")}
    ]

    deleted = await put(onec, RECEIPTS, [{"external_id": one_c_ref, "deleted": True}])
    assert (deleted[0]["status"], deleted[0]["id"]) == ("deleted", created["id"])
    assert await _receipts(onec) == {}
    async with sessionmaker() as session:
        assert await session.scalar(select(func.count()).select_from(Sale)) == 0
        assert await session.scalar(select(func.count()).select_from(Payment)) == 0
    assert await assert_rollup_matches(sessionmaker, settings) == 0


async def test_bad_receipts_are_item_errors_and_leave_nothing_behind(
    onec_setup: OneCSetup, sessionmaker: async_sessionmaker[AsyncSession], settings: Settings
) -> None:
    onec = onec_setup.onec
    await _ready(onec)
    results = await put(
        onec,
        RECEIPTS,
        [
            sample(RECEIPTS, "GOOD-1"),
            sample(RECEIPTS, "BAD-1", payments=[{"method": "card", "amount": "1.00"}]),
            receipt("BAD-2", [line(1, "10.00"), line(1, "10.00", product_external_id="NOPE")]),
            receipt("BAD-3", []),
            receipt("BAD-4", [line(1, "10.00", returned_line_no=1)]),
            receipt("BAD-5", [line(1, "10.00")], kind="sale", original_external_id="GOOD-1"),
            receipt("BAD-6", [line(1, "10.00")], payments=[{"method": "bitcoin", "amount": "10.00"}]),
            receipt("BAD-7", [line(1, "10.00", discount="11.00")]),
            receipt("GOOD-2", [line(1, "10.00")], point_external_id=None, point_code="P-POS-1", number=""),
        ],
    )
    assert [(r["status"], [e["field"] for e in r["errors"]]) for r in results] == [
        ("created", []),
        ("error", ["payments"]),
        ("error", ["lines[1].product_external_id"]),
        ("error", ["lines"]),
        ("error", ["original_external_id"]),
        ("error", ["original_external_id"]),
        ("error", ["payments[0].method"]),
        ("error", ["lines[0].discount"]),
        ("created", []),
    ]
    assert results[1]["errors"][0]["message"] == "add up to 1.00, the receipt's total is 3091.00"
    assert set(await _receipts(onec)) == {"GOOD-1", "GOOD-2"}
    assert (await _receipts(onec))["GOOD-2"]["number"] is None  # 1C's empty string: no number
    assert await assert_rollup_matches(sessionmaker, settings) == 3


async def test_returns_from_1c_return_at_most_what_is_left_at_the_original_prices(
    onec_setup: OneCSetup, sessionmaker: async_sessionmaker[AsyncSession], settings: Settings
) -> None:
    onec = onec_setup.onec
    await _ready(onec)
    sold = [
        line(2, "1500.50", external_id="CHK-1/1"),
        line(4, "100.00", discount="20.00", product_external_id="ITEM-2"),
    ]
    original = receipt("CHK-1", sold)
    await put(onec, RECEIPTS, [original])

    def a_return(key: str, *lines: dict[str, Any], **values: Any) -> dict[str, Any]:
        return receipt(key, list(lines), kind="return", original_external_id="CHK-1") | values

    results = await put(
        onec,
        RECEIPTS,
        [
            # By the line's key and by its number; 1C's own prices give way to the original's.
            a_return("RET-1", line(1, "1500.50", returned_line_external_id="CHK-1/1")),
            a_return(
                "RET-2",
                line(1, "100.00", product_external_id="ITEM-2", returned_line_no=2),
                payments=[{"method": "cash", "amount": "95.00"}],
            ),
            a_return("RET-3", line(2, "1500.50", returned_line_no=1)),  # only 1 left
            a_return("RET-4", line(1, "1500.50", returned_line_no=2)),  # another product
            a_return("RET-5", line(1, "1500.50", returned_line_no=7)),
            a_return("RET-6", line(1, "1500.50")),
            receipt("RET-7", [line(1, "1500.50")], kind="return"),  # without its original
        ],
    )
    assert [(r["status"], r["errors"]) for r in results] == [
        ("created", []),
        ("created", []),
        ("error", [{"field": "lines[0].quantity", "message": "at most 1.000 left to return"}]),
        (
            "error",
            [{"field": "lines[0].product_external_id", "message": "not the product of the returned line"}],
        ),
        ("error", [{"field": "lines[0].returned_line_no", "message": "not a line of the original receipt"}]),
        (
            "error",
            [
                {
                    "field": "lines[0].returned_line_no",
                    "message": "required in a return of a receipt (or returned_line_external_id)",
                }
            ],
        ),
        ("created", []),
    ]
    assert results[1]["notes"] == [
        {
            "field": "lines[0].unit_price",
            "message": "the returned line's price 100.00 and discount share 5.00 are used",
        }
    ]
    items = await _receipts(onec)
    sold = items["CHK-1"]["lines"]
    assert (items["RET-1"]["kind"], items["RET-1"]["original_id"], items["RET-1"]["original_ref"]) == (
        "return",
        items["CHK-1"]["id"],
        items["CHK-1"]["ref"],
    )
    assert [(r["returned_line_id"], r["total"]) for r in items["RET-2"]["lines"]] == [
        (sold[1]["id"], Decimal("95.00"))
    ]
    assert items["RET-2"]["payments"] == [{"method": "cash", "amount": Decimal("95.00")}]
    assert items["RET-7"]["original_id"] is None
    await assert_rollup_matches(sessionmaker, settings)

    # A return changed in 1C: what it returned itself is left to it again.
    three = a_return("RET-2", line(3, "100.00", product_external_id="ITEM-2", returned_line_no=2))
    assert [r["status"] for r in await put(onec, RECEIPTS, [three])] == ["updated"]
    assert (await _receipts(onec))["RET-2"]["total"] == Decimal("285.00")
    assert [r["status"] for r in await put(onec, RECEIPTS, [three])] == ["unchanged"]
    over = await put(
        onec,
        RECEIPTS,
        [a_return("RET-2", line(5, "100.00", product_external_id="ITEM-2", returned_line_no=2))],
    )
    assert over[0]["errors"] == [{"field": "lines[0].quantity", "message": "at most 4.000 left to return"}]

    # The original cannot change or go while it has returns; a return can.
    for item in (original | {"number": "9"}, {"external_id": "CHK-1", "deleted": True}):
        [refused] = await put(onec, RECEIPTS, [item])
        assert refused["errors"] == [{"field": "id", "message": "the receipt has returns"}]
    assert [r["status"] for r in await put(onec, RECEIPTS, [{"external_id": "RET-1", "deleted": True}])] == [
        "deleted"
    ]
    assert (await _receipts(onec)).keys() == {"CHK-1", "RET-2", "RET-7"}
    await assert_rollup_matches(sessionmaker, settings)


async def test_numbers_in_lines_and_payments_are_rounded_like_okr_with_notes(
    onec_setup: OneCSetup, sessionmaker: async_sessionmaker[AsyncSession], settings: Settings
) -> None:
    onec = onec_setup.onec
    await _ready(onec)
    # As ЗаписатьJSON writes what 1C computed: 27 digits.
    body = (
        '{"items": [{"external_id": "CHK-1", "point_external_id": "POS-1", "sold_at": "2026-03-01T10:00:00",'
        ' "lines": [{"product_external_id": "ITEM-1", "quantity": 0.333333333333333333333333333,'
        ' "unit_price": 99.995, "discount": 0.005}],'
        ' "payments": [{"method": "card", "amount": 33.2899999999999999999999999}]}]}'
    )
    response = await onec.send("PUT", "/api/v1/exchange/receipts", BOM + body.encode())
    [result] = read_json(response)["results"]
    assert result["status"] == "created", result
    assert [
        (n["field"], n["message"].removesuffix(" (half up, as 1C's Окр(x, 2))")) for n in result["notes"]
    ] == [
        ("lines[0].quantity", "rounded 0.333333333333333333333333333 to 0.333 (half up, as 1C's Окр(x, 3))"),
        ("lines[0].unit_price", "rounded 99.995 to 100.00"),
        ("lines[0].discount", "rounded 0.005 to 0.01"),
        ("payments[0].amount", "rounded 33.2899999999999999999999999 to 33.29"),
    ]
    [item] = (await _receipts(onec)).values()
    assert (item["total"], item["lines"][0]["quantity"]) == (Decimal("33.29"), Decimal("0.333"))
    again = read_json(await onec.send("PUT", "/api/v1/exchange/receipts", body.encode()))["results"][0]
    assert (again["status"], len(again["notes"])) == ("unchanged", 4)
    await assert_rollup_matches(sessionmaker, settings)


async def test_an_empty_1c_date_is_an_item_error(onec_setup: OneCSetup) -> None:
    onec = onec_setup.onec
    await _ready(onec)
    results = await put(onec, RECEIPTS, [sample(RECEIPTS, "A"), sample(RECEIPTS, "B", sold_at=EMPTY_DATE)])
    assert [r["status"] for r in results] == ["created", "error"]
    assert results[1]["errors"] == [
        {"field": "sold_at", "message": "required: 0001-01-01T00:00:00 is 1C's empty date, no date"}
    ]


async def test_a_client_of_all_companies_writes_receipts_into_the_company_each_names(
    client: httpx.AsyncClient,
    factory: Factory,
    sessionmaker: async_sessionmaker[AsyncSession],
    settings: Settings,
) -> None:
    home, shop = await factory.company(), await factory.company()
    network = await make_onec(client, factory, home, login="onec-net", all_companies=True)
    for company in (home, shop):
        for entity, key in (
            (Entity.products, "ITEM-1"),
            (Entity.points, "POS-1"),
            (Entity.customers, "CUST-0002"),
        ):
            await put(network.onec, entity, [sample(entity, key, company_id=company.id)])
    results = await put(
        network.onec,
        RECEIPTS,
        [
            sample(RECEIPTS, "CHK-1"),
            sample(RECEIPTS, "CHK-1", company_id=shop.id),
            sample(RECEIPTS, "CHK-1", company_id=home.id),
            sample(RECEIPTS, "CHK-2", company_id=2_000_000_000),
        ],
    )
    assert [r["status"] for r in results] == ["error", "created", "created", "error"]
    async with sessionmaker() as session:
        placed = (
            await session.execute(select(Receipt.company_id, Receipt.point_id).order_by(Receipt.company_id))
        ).all()
    points = {p["company_id"]: p["id"] for p in await network.onec.full_load("points")}
    assert [tuple(row) for row in placed] == sorted((c, points[c]) for c in (home.id, shop.id))
    # Its feed holds both companies' receipts; one company's client only its own.
    assert {r["company_id"] for r in await network.onec.full_load("receipts")} == {home.id, shop.id}
    single = await make_onec(client, factory, shop, login="onec-shop")
    assert {r["company_id"] for r in await single.onec.full_load("receipts")} == {shop.id}
    await assert_rollup_matches(sessionmaker, settings)


# --- writers at once --------------------------------------------------------------------------------


async def test_1c_receipt_batches_returns_and_deletions_at_once_never_deadlock(
    client: httpx.AsyncClient,
    factory: Factory,
    sessionmaker: async_sessionmaker[AsyncSession],
    settings: Settings,
) -> None:
    """Two 1C batches replace the same receipts in opposite orders and return their lines, while
    returns are made through the service and one-line sales deleted through the API."""
    shop = await make_shop(factory, sessionmaker)
    onec = (await make_onec(client, factory, shop.company)).onec
    skus = [p.sku for p in shop.products]
    codes = [p.code for p in shop.points]

    def sale(n: int, price: int) -> dict[str, Any]:
        lines = [
            {
                "product_sku": skus[k % 2],
                "quantity": 5,
                "unit_price": f"{price + k}.00",
                "external_id": f"S{n}/{k}",
            }
            for k in range(2)
        ]
        return {
            "external_id": f"S{n}",
            "point_code": codes[n % 2],
            "sold_at": f"2026-03-1{n % 3}T1{n % 10}:00:00",
            "lines": lines,
        }

    originals = [sale(n, 100) for n in range(6)]
    assert {
        r["status"]
        for r in read_json(await onec.put("/api/v1/exchange/receipts", {"items": originals}))["results"]
    } == {"created"}
    one_line = [
        await add_sale(sessionmaker, settings, shop, sold_at=f"2026-03-1{n % 3}T12:00:00+05:00")
        for n in range(4)
    ]

    async def batch(b: int) -> list[str]:
        order = range(6) if b == 0 else reversed(range(6))
        items = []
        for n in order:
            if n < 3:  # replaced: new prices
                items.append(sale(n, 200 + b))
            else:  # returned: one of each line, by its key
                lines = [
                    {
                        "product_sku": skus[k % 2],
                        "quantity": 1,
                        "unit_price": "1.00",
                        "returned_line_external_id": f"S{n}/{k}",
                    }
                    for k in range(2)
                ]
                head = {"external_id": f"R{n}-{b}", "point_code": codes[0], "kind": "return"}
                items.append(head | {"original_external_id": f"S{n}", "sold_at": _RETURNED, "lines": lines})
        response = await onec.put("/api/v1/exchange/receipts", {"items": items})
        assert response.status_code == 200, response.text
        return [r["status"] for r in read_json(response)["results"]]

    async def service_returns() -> None:
        for n in range(3, 6):
            async with transaction(sessionmaker) as session:
                scope = Scope.company(shop.company.id)
                repo = ReceiptRepository(session, scope)
                original_id = await session.scalar(select(Receipt.id).where(Receipt.external_id == f"S{n}"))
                assert original_id is not None
                original = await repo.get_for_update(original_id)
                line_ids = [line.id for line in await repo.lines(original.id)]
                data = ReturnCreate(
                    sold_at="2026-03-12T21:00:00",
                    lines=[ReturnLineIn(line_id=i, quantity=Decimal(2)) for i in line_ids],
                )
                await receipts_service.create_return(session, scope, original, data, settings.tz)

    async def deletions() -> list[int]:
        return [
            (await client.delete(f"/api/v1/sales/{s.id}", headers=shop.headers)).status_code for s in one_line
        ]

    done = await asyncio.gather(batch(0), batch(1), service_returns(), deletions(), return_exceptions=True)
    assert [f"{type(d).__name__}: {d}" for d in done if isinstance(d, BaseException)] == []
    expected = ["updated"] * 3 + ["created"] * 3
    assert (done[0], done[1], done[3]) == (expected, expected[::-1], [204] * 4)
    async with sessionmaker() as session:
        returned = await session.scalar(select(func.sum(Sale.quantity)).where(Sale.kind == "return"))
        prices = set(await session.scalars(select(Sale.unit_price).where(Sale.external_id == "S0/0")))
    assert returned == 3 * 2 * (1 + 1 + 2)  # 3 originals × 2 lines × (two 1C returns + 2 by the service)
    assert prices <= {Decimal("200.00"), Decimal("201.00")}
    await assert_rollup_matches(sessionmaker, settings)
