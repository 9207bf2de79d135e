"""The exchange driven the way the 1C platform drives it: empty dates, 27-digit numbers, BOMs,
free-text keys, deletion marks, a client of all companies; and a 1C copy kept from changes alone
that never goes stale. Rules are checked for every entity and every field they apply to."""

import json
import re
import uuid
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Annotated, Any, get_args, get_origin

import httpx
import pytest
from pydantic import BaseModel
from sqlalchemy import delete, func, inspect, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from sauda.db import transaction
from sauda.exchange import service
from sauda.exchange.entities import SPECS, Parts
from sauda.exchange.models import Entity
from sauda.exchange.schemas import EmptyDate, Rounded
from sauda.exchange.upserts import UPSERTS
from sauda.network.models import Company, Product
from sauda.sales.models import Customer, DailyPointSales, Point, Sale
from tests.conftest import FixedClock
from tests.exchange.conftest import OneCSetup, make_onec
from tests.exchange.onec_client import OneCClient, read_json
from tests.factories import Factory

BOM = b"\xef\xbb\xbf"
EMPTY_DATE = "0001-01-01T00:00:00"


def sample(entity: Entity, key: str, **values: Any) -> dict[str, Any]:
    """A valid item of each entity 1C can send; sales refer to the records of `prerequisites`."""
    items = {
        Entity.products: {"sku": f"SKU-{key}", "name": "Чайник", "release_date": "2025-03-01T00:00:00"},
        Entity.customers: {"name": "ТОО Покупатель", "phone": "+77010000000"},
        Entity.points: {"code": f"P-{key}", "name": "Магазин"},
        Entity.sales: {
            "point_external_id": "POS-1",
            "product_external_id": "ITEM-1",
            "customer_external_id": "CUST-0002",
            "quantity": 2,
            "unit_price": "1500.50",
            "sold_at": "2026-03-31T23:30:00",
        },
        Entity.receipts: {
            "point_external_id": "POS-1",
            "customer_external_id": "CUST-0002",
            "number": "000123",
            "sold_at": "2026-03-31T23:30:00",
            "lines": [
                {"product_external_id": "ITEM-1", "quantity": 2, "unit_price": "1500.50"},
                {"product_external_id": "ITEM-1", "quantity": 1, "unit_price": "99.00", "discount": "9.00"},
            ],
            "payments": [{"method": "card", "amount": "3001.00"}, {"method": "cash", "amount": "90.00"}],
        },
    }
    return {"external_id": key} | items[entity] | values


async def put(onec: OneCClient, entity: Entity | str, items: list[Any], *, bom: bool = True) -> list[dict]:
    body = json.dumps({"items": items}, ensure_ascii=False).encode()
    response = await onec.send("PUT", f"/api/v1/exchange/{entity}", (BOM if bom else b"") + body)
    assert response.status_code == 200, response.text
    results: list[dict] = read_json(response)["results"]
    return results


async def prerequisites(onec: OneCClient) -> None:
    """What the sample sale refers to, keyed by free text as a POS or another system names them."""
    for entity, key in (
        (Entity.products, "ITEM-1"),
        (Entity.points, "POS-1"),
        (Entity.customers, "CUST-0002"),
    ):
        assert (await put(onec, entity, [sample(entity, key)]))[0]["status"] == "created"


def _bare(annotation: Any) -> Any:
    return get_args(annotation)[0] if get_origin(annotation) is Annotated else annotation


def _fields_of_type(schema: Any, *types: type) -> list[str]:
    """Fields of these types, optional ones too."""
    names = []
    for name, info in schema.model_fields.items():
        annotation = info.annotation
        if _bare(annotation) in types or any(_bare(arg) in types for arg in get_args(annotation)):
            names.append(name)
    return names


# --- the rules hold for every field they apply to -------------------------------------------


def _schemas(schema: Any) -> list[Any]:
    """The schema and those of the objects nested in its lists (a receipt's lines, payments)."""
    nested = [
        arg
        for info in schema.model_fields.values()
        if get_origin(info.annotation) is list
        for arg in get_args(info.annotation)
        if isinstance(arg, type) and issubclass(arg, BaseModel)
    ]
    return [schema, *(s for n in nested for s in _schemas(n))]


def test_nested_schemas_are_walked() -> None:
    assert {s.__name__ for s in _schemas(UPSERTS[Entity.receipts].schema)} == {
        "ReceiptIn",
        "ReceiptLineIn",
        "PaymentFromOneC",
    }


@pytest.mark.parametrize(
    "schema", [s for u in UPSERTS.values() for s in _schemas(u.schema)], ids=lambda s: s.__name__
)
def test_every_date_and_number_from_1c_follows_the_1c_rules(schema: Any) -> None:
    for name in _fields_of_type(schema, date, datetime):
        assert any(isinstance(m, EmptyDate) for m in schema.model_fields[name].metadata), (
            f"{schema.__name__}.{name} does not read 1C's empty date: use OneCDate / OneCDateTime"
        )
    for name in _fields_of_type(schema, Decimal):
        assert any(isinstance(m, Rounded) for m in schema.model_fields[name].metadata), (
            f"{schema.__name__}.{name} does not round like Окр(): use OneCMoney / OneCQuantity"
        )


def _date_fields(required: bool) -> list[tuple[Entity, str]]:
    return [
        (entity, name)
        for entity, upsert in UPSERTS.items()
        for name in _fields_of_type(upsert.schema, date, datetime)
        if any(m == EmptyDate(required) for m in upsert.schema.model_fields[name].metadata)
    ]


@pytest.mark.parametrize(("entity", "field"), _date_fields(required=True))
async def test_an_empty_1c_date_where_one_is_required_is_an_item_error_and_the_others_land(
    onec_setup: OneCSetup, entity: Entity, field: str
) -> None:
    await prerequisites(onec_setup.onec)
    items = [sample(entity, "A-1"), sample(entity, "A-2", **{field: EMPTY_DATE}), sample(entity, "A-3")]
    results = await put(onec_setup.onec, entity, items)
    assert [r["status"] for r in results] == ["created", "error", "created"]
    assert results[1]["errors"] == [
        {"field": field, "message": "required: 0001-01-01T00:00:00 is 1C's empty date, no date"}
    ]


@pytest.mark.parametrize(("entity", "field"), _date_fields(required=False))
async def test_an_empty_1c_date_where_one_is_optional_is_no_date(
    onec_setup: OneCSetup, fixed_clock: FixedClock, entity: Entity, field: str
) -> None:
    fixed_clock.at = datetime(2026, 11, 30, 20, 0, tzinfo=UTC)  # 1 December in Almaty
    onec = onec_setup.onec
    await prerequisites(onec)
    [created] = await put(onec, entity, [sample(entity, "A-1", **{field: EMPTY_DATE})])
    assert created["status"] == "created"
    assert created["notes"] == [{"field": field, "message": "not sent: set to 2026-12-01"}]
    stored = next(i for i in await onec.full_load(entity) if i["external_id"] == "A-1")
    assert stored[field] == "2026-12-01T00:00:00"
    # An existing record keeps its date when 1C sends it empty, or leaves it out.
    await put(onec, entity, [sample(entity, "A-1", **{field: "2025-05-05T00:00:00"})])
    empty = sample(entity, "A-1", **{field: EMPTY_DATE})
    left_out = {k: v for k, v in sample(entity, "A-1").items() if k != field}
    for item in (empty, left_out):
        [kept] = await put(onec, entity, [item])
        assert (kept["status"], kept["notes"]) == ("unchanged", [])
    stored = next(i for i in await onec.full_load(entity) if i["external_id"] == "A-1")
    assert stored[field] == "2025-05-05T00:00:00"


def test_both_kinds_of_1c_dates_are_tested() -> None:
    assert _date_fields(required=True)
    assert _date_fields(required=False)


async def test_unrounded_numbers_are_rounded_half_up_like_okr(
    onec_setup: OneCSetup, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    onec = onec_setup.onec
    await prerequisites(onec)
    # As ЗаписатьJSON writes 1/3 and a computed price: plain JSON numbers with 27 digits.
    body = (
        '{"items": ['
        '{"external_id": "CHK-0001-1", "point_external_id": "POS-1", "product_external_id": "ITEM-1",'
        ' "quantity": 0.333333333333333333333333333, "unit_price": 99.995, "discount": 0.005,'
        ' "sold_at": "2026-03-01T10:00:00"},'
        '{"external_id": "CHK-0001-2", "point_external_id": "POS-1", "product_external_id": "ITEM-1",'
        ' "quantity": 123456789012345678901234567, "unit_price": 1, "sold_at": "2026-03-01T10:00:00"}'
        "]}"
    )
    response = await onec.send("PUT", "/api/v1/exchange/sales", BOM + body.encode())
    first, second = read_json(response)["results"]
    assert first["status"] == "created"
    assert {n["field"]: n["message"] for n in first["notes"]} == {
        "quantity": "rounded 0.333333333333333333333333333 to 0.333 (half up, as 1C's Окр(x, 3))",
        "unit_price": "rounded 99.995 to 100.00 (half up, as 1C's Окр(x, 2))",
        "discount": "rounded 0.005 to 0.01 (half up, as 1C's Окр(x, 2))",
    }
    assert second["status"] == "error"
    assert second["errors"][0]["field"] == "quantity"
    async with sessionmaker() as session:
        sale = await session.scalar(select(Sale))
    assert sale is not None
    assert (sale.quantity, sale.unit_price, sale.discount, sale.total) == (
        Decimal("0.333"),
        Decimal("100.00"),
        Decimal("0.01"),
        Decimal("33.29"),
    )
    # Sent again as it is: nothing changes, and the notes say the same.
    again = await onec.send("PUT", "/api/v1/exchange/sales", body.encode())
    assert read_json(again)["results"][0]["status"] == "unchanged"


# --- keys: free text, 1C references, Sauda's refs --------------------------------------------


async def test_free_text_keys_and_1c_references_round_trip(
    onec_setup: OneCSetup, factory: Factory, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    onec = onec_setup.onec
    await prerequisites(onec)
    assert (await put(onec, Entity.sales, [sample(Entity.sales, "CHK-0001-1")]))[0]["status"] == "created"
    made_in_sauda = await factory.product(onec_setup.company, name="Из Sauda")
    one_c_ref = str(uuid.uuid4())
    await put(onec, Entity.products, [sample(Entity.products, one_c_ref)])

    products = {p["external_id"]: p for p in await onec.full_load("products")}
    sale = (await onec.full_load("sales"))[0]
    # Every record has a UUID 1C can make its reference from; a 1C record keeps its own.
    assert all(uuid.UUID(p["ref"]) for p in products.values())
    assert products[one_c_ref]["ref"] == one_c_ref
    assert sale["product_ref"] == products["ITEM-1"]["ref"]
    assert sale["external_id"] == "CHK-0001-1"

    # 1C sends back its copies keyed by those references: the same records, not new ones.
    ours = products[None]["ref"]
    renamed = await put(onec, Entity.products, [sample(Entity.products, ours, sku="SAUDA-1", name="Новое")])
    assert (renamed[0]["status"], renamed[0]["id"]) == ("updated", made_in_sauda.id)
    resent = sample(Entity.sales, sale["ref"], product_external_id=products["ITEM-1"]["ref"])
    assert (await put(onec, Entity.sales, [resent]))[0] | {"notes": []} == {
        "index": 0,
        "external_id": sale["ref"],
        "status": "unchanged",
        "id": sale["id"],
        "errors": [],
        "notes": [],
    }
    async with sessionmaker() as session:
        assert await session.scalar(select(func.count()).select_from(Product)) == 3
        assert await session.scalar(select(func.count()).select_from(Sale)) == 1


# --- deletions and deletion marks --------------------------------------------------------------


@pytest.mark.parametrize("entity", list(UPSERTS))
async def test_deletion_marks_delete_and_tombstones_carry_every_identifier(
    onec_setup: OneCSetup, entity: Entity
) -> None:
    onec = onec_setup.onec
    await prerequisites(onec)
    key = "DEL-1"
    assert (await put(onec, entity, [sample(entity, key)]))[0]["status"] == "created"
    mirror: dict[int, dict] = {}
    await onec.sync(entity, mirror)
    live = next(item for item in mirror.values() if item["external_id"] == key)

    # 1C's ПометкаУдаления: only the key is needed; sending it twice is fine.
    marked = await put(onec, entity, [{"external_id": key, "deleted": True, "name": "ignored"}])
    assert (marked[0]["status"], marked[0]["id"]) == ("deleted", live["id"])
    assert (await put(onec, entity, [{"external_id": key, "deleted": True}]))[0]["status"] == "unchanged"

    batch = await onec.pull_changes(entity)
    [tombstone] = [i for i in batch["items"] if i["id"] == live["id"]]
    assert tombstone["deleted"] is True
    for identifier in SPECS[entity].identifiers:
        assert tombstone[identifier] == live[identifier], identifier
    assert set(tombstone) == set(live)


async def test_deleting_sales_from_1c_updates_the_rollups(
    onec_setup: OneCSetup, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    onec = onec_setup.onec
    await prerequisites(onec)
    await put(onec, Entity.sales, [sample(Entity.sales, "CHK-1"), sample(Entity.sales, "CHK-2")])
    await put(onec, Entity.sales, [{"external_id": "CHK-1", "deleted": True}])
    async with sessionmaker() as session:
        rollup = (await session.scalars(select(DailyPointSales))).all()
    assert [(r.revenue, r.sales_count) for r in rollup] == [(Decimal("3001.00"), 1)]


async def test_a_record_still_in_use_is_not_deleted(onec_setup: OneCSetup) -> None:
    onec = onec_setup.onec
    await prerequisites(onec)
    await put(onec, Entity.sales, [sample(Entity.sales, "CHK-1")])
    result = (await put(onec, Entity.products, [{"external_id": "ITEM-1", "deleted": True}]))[0]
    assert result["status"] == "error"
    assert result["errors"] == [
        {"field": "deleted", "message": "other records (sales) still refer to it: delete them first"}
    ]
    assert len(await onec.full_load("products")) == 1


async def test_company_tombstones_carry_their_ref(client: httpx.AsyncClient, factory: Factory) -> None:
    setup = await make_onec(client, factory, await factory.company(), login="onec-net", all_companies=True)
    doomed = await factory.company()
    mirror: dict[int, dict] = {}
    await setup.onec.sync("companies", mirror)
    async with transaction(factory.sessionmaker) as session:
        await session.execute(delete(Company).where(Company.id == doomed.id))
    [tombstone] = (await setup.onec.pull_changes("companies"))["items"]
    assert (tombstone["id"], tombstone["ref"], tombstone["deleted"]) == (
        doomed.id,
        mirror[doomed.id]["ref"],
        True,
    )


# --- a client of all companies -------------------------------------------------------------------


async def test_a_client_of_all_companies_names_each_items_company(
    client: httpx.AsyncClient, factory: Factory, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    home, shop = await factory.company(), await factory.company()
    network = await make_onec(client, factory, home, login="onec-net", all_companies=True)
    results = await put(
        network.onec,
        Entity.products,
        [
            sample(Entity.products, "A"),
            sample(Entity.products, "B", company_id=shop.id),
            sample(Entity.products, "C", company_id=home.id),
            sample(Entity.products, "D", company_id=2_000_000_000),
        ],
    )
    assert [r["status"] for r in results] == ["error", "created", "created", "error"]
    assert results[0]["errors"] == [
        {"field": "company_id", "message": "required from a client of all companies"}
    ]
    assert results[3]["errors"] == [{"field": "company_id", "message": "no such company"}]
    async with sessionmaker() as session:
        placed = dict((await session.execute(select(Product.external_id, Product.company_id))).all())
    assert placed == {"B": shop.id, "C": home.id}

    # A client of one company writes only into its own.
    single = await make_onec(client, factory, shop, login="onec-shop")
    results = await put(
        single.onec,
        Entity.products,
        [sample(Entity.products, "E", company_id=home.id), sample(Entity.products, "F", company_id=shop.id)],
    )
    assert [r["status"] for r in results] == ["error", "created"]
    assert results[0]["errors"] == [{"field": "company_id", "message": "not this client's company"}]


# --- copies never go stale ---------------------------------------------------------------------


def test_items_copy_nothing_of_other_records_but_their_immutable_keys() -> None:
    """An item's own fields, and its parts' (a receipt's lines) their own."""
    records = [(entity, spec.id_column.class_, spec.fields) for entity, spec in SPECS.items()]
    records += [
        (f"{entity}.{key}", parts.owner.class_, parts.fields)
        for entity, spec in SPECS.items()
        for key, parts in spec.parts.items()
    ]
    assert len(records) > len(SPECS)
    for name, own, fields in records:
        for field in fields:
            if isinstance(field, Parts):
                continue
            parent = inspect(field.column).parent
            if parent.is_aliased_class or parent.class_ is not own:
                assert field.column.key in ("ref", "id"), f"{name}.{field.key} copies another record's field"


async def test_a_copy_kept_from_changes_equals_the_full_feed(
    client: httpx.AsyncClient, factory: Factory, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    supplier = await factory.company(name="Поставщик")
    company = await factory.company(supplier=supplier)
    setup = await make_onec(client, factory, company, login="onec-net", all_companies=True)
    onec = setup.onec
    keys = {
        Entity.products: "ITEM-1",
        Entity.points: "POS-1",
        Entity.customers: "CUST-0002",
        Entity.sales: "CHK-1",
        Entity.receipts: "CHK-2",
    }
    for entity, key in keys.items():
        assert (await put(onec, entity, [sample(entity, key, company_id=company.id)]))[0][
            "status"
        ] == "created"
    mirrors: dict[Entity, dict[int, dict]] = {entity: {} for entity in SPECS}
    for entity in SPECS:
        await onec.sync(entity, mirrors[entity])

    # What sales and companies used to copy changes in the records they refer to.
    async with transaction(sessionmaker) as session:
        await session.execute(update(Company).where(Company.id == supplier.id).values(name="Новый поставщик"))
        await session.execute(update(Point).values(code="MAIN-2", name="Переименован"))
        await session.execute(update(Product).values(sku="SKU-2"))
        await session.execute(update(Customer).values(external_id="CUST-0003"))
    for entity in SPECS:
        await onec.sync(entity, mirrors[entity])
        full = {item["id"]: item for item in await onec.full_load(entity)}
        assert mirrors[entity] == full, entity


# --- starting changes after a full load ----------------------------------------------------------


async def test_changes_start_where_the_full_load_began(
    onec_setup: OneCSetup, factory: Factory, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    onec = onec_setup.onec
    products = [await factory.product(onec_setup.company) for _ in range(4)]
    pending = await onec.pull_changes("products")  # a batch 1C never acknowledged

    first = await onec.get("/api/v1/exchange/products?limit=2")
    # While 1C reads the rest, a loaded record changes and a new one arrives.
    async with transaction(sessionmaker) as session:
        await session.execute(update(Product).where(Product.id == products[0].id).values(name="Новое"))
    added = await factory.product(onec_setup.company)
    rest = await onec.get(f"/api/v1/exchange/products?limit=10&after={first['next_cursor']}")
    assert len(first["items"]) + len(rest["items"]) == 5

    response = await onec.post(
        "/api/v1/exchange/products/changes/start", {"changes_from": first["changes_from"]}
    )
    assert read_json(response) == {
        "entity": "products",
        "changes_from": first["changes_from"],
        "superseded_batch_id": pending["batch_id"],
    }
    batch = await onec.pull_changes("products")
    assert {i["id"] for i in batch["items"]} == {products[0].id, added.id}  # not all five again
    log = await onec.get("/api/v1/exchange/batches?entity=products")
    assert [(b["id"], b["superseded"]) for b in log["items"]][-1] == (pending["batch_id"], True)


@pytest.mark.parametrize("token", ["abc", "-1", "99999999999999999", "1" * 20])
async def test_changes_cannot_start_from_a_position_never_given(onec_setup: OneCSetup, token: str) -> None:
    response = await onec_setup.onec.post("/api/v1/exchange/products/changes/start", {"changes_from": token})
    assert response.status_code == 422
    assert read_json(response)["fields"][0]["field"] == "changes_from"


# --- the full snapshot as a file -----------------------------------------------------------------


async def test_the_snapshot_is_the_whole_feed_as_one_file(
    onec_setup: OneCSetup, factory: Factory, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(service, "SNAPSHOT_PAGE", 2)  # several pages, streamed one after another
    onec = onec_setup.onec
    empty = read_json(await onec.send("GET", "/api/v1/exchange/sales/snapshot.json"))
    assert empty["items"] == []
    assert empty["has_more"] is False
    for _ in range(5):
        await factory.product(onec_setup.company)
    response = await onec.send("GET", "/api/v1/exchange/products/snapshot.json")
    assert response.status_code == 200
    assert re.fullmatch(
        r'attachment; filename="sauda_products_full_\d{4}-\d{2}-\d{2}_\d{2}-\d{2}-\d{2}\.json"',
        response.headers["content-disposition"],
    )
    snapshot = read_json(response)
    assert snapshot["entity"] == "products"
    assert (snapshot["has_more"], snapshot["next_cursor"]) == (False, None)
    assert snapshot["items"] == await onec.full_load("products")
    started = await onec.post(
        "/api/v1/exchange/products/changes/start", {"changes_from": snapshot["changes_from"]}
    )
    assert started.status_code == 200
    assert (await onec.pull_changes("products"))["items"] == []


async def test_the_companies_snapshot_is_only_for_clients_of_all_companies(onec_setup: OneCSetup) -> None:
    response = await onec_setup.onec.send("GET", "/api/v1/exchange/companies/snapshot.json")
    assert response.status_code == 404
    read_json(response)
