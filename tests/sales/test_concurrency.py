"""Every kind of sales writer at once on the same days, points and products: API create, move
between days and delete, admin delete, imports, 1C batches, and a company deleted under its own
writers. None may deadlock (no 500, no failed import) and the rollups must still equal `sales`.
Two interleavings too rare to meet by chance are forced: a company deleted while its 1C is in
mid-request, and an import creating the points a 1C batch is half-way through."""

import asyncio
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import httpx
from fastapi import FastAPI
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from sauda.auth.models import ClientScope, IntegrationClient
from sauda.auth.service import create_client, touch_client
from sauda.config import Settings
from sauda.db import transaction
from sauda.exchange.models import Entity
from sauda.exchange.upserts import Context, upsert_items
from sauda.network import service as network_service
from sauda.network.models import Company, Product
from sauda.network.repository import CompanyRepository
from sauda.sales import service as sales_service
from sauda.sales.imports import run_import
from sauda.sales.models import Point, Receipt, Sale
from sauda.sales.receipts.repository import ReceiptRepository
from sauda.sales.receipts.schemas import ReturnCreate, ReturnLineIn
from sauda.sales.receipts.service import create_return, delete_receipt
from sauda.sales.repository import SaleRepository
from sauda.sales.schemas import SaleUpdate
from sauda.tenancy import Scope
from tests.exchange.conftest import make_onec
from tests.exchange.onec_client import OneCClient, read_json
from tests.factories import Factory
from tests.sales.conftest import Shop, add_sale, assert_rollup_matches, make_shop
from tests.sales.test_imports import HEADER, upload
from tests.test_admin import login

DAYS = ["2026-03-09", "2026-03-10", "2026-03-11"]
MOVERS, MOVES = 6, 4
POSTERS, POSTS = 3, 4
DELETES = 8
IMPORTS, IMPORT_ROWS = 3, 30
ONEC_BATCHES, ONEC_ITEMS = 2, 12
NEW_POINTS = [f"NEW-{n}" for n in range(4)]
SALES_URL, ONEC_SALES = "/api/v1/sales", "/api/v1/exchange/sales"

Request = Callable[[], Awaitable[httpx.Response]]


def _at(day: int, n: int) -> str:
    """A business-time moment on DAYS[day] (wrapping), distinct per n."""
    return f"{DAYS[day % len(DAYS)]}T{10 + n % 12:02}:{n % 60:02}:00"


async def _one_by_one(requests: list[Request]) -> list[int]:
    return [(await request()).status_code for request in requests]


async def _seed(
    sessionmaker: async_sessionmaker[AsyncSession], settings: Settings, shop: Shop, count: int
) -> list[int]:
    """`count` sales: sale n on day n (wrapping), points and products taken in turn."""
    ids = []
    for n in range(count):
        sale = await add_sale(
            sessionmaker,
            settings,
            shop,
            point_id=shop.points[n % 2].id,
            product_id=shop.products[n // 2 % 2].id,
            quantity=Decimal(1 + n % 3),
            unit_price=Decimal(f"{100 + n}.50"),
            sold_at=_at(n, n) + "+05:00",
        )
        ids.append(sale.id)
    return ids


def _import_file(shop: Shop, k: int) -> bytes:
    """Rows over every day, point and product, the latest day first (the import sorts them)."""
    rows = []
    for n in range(IMPORT_ROWS):
        point, sku = shop.points[(n + k) % 2].code, shop.products[(n // 2 + k) % 2].sku
        sold_at = _at(len(DAYS) - 1 - n, n).replace("T", " ")
        rows.append(f"IMP-{k}-{n},{sold_at},{point},{sku},{1 + n % 2},{200 + n}.00,,\n")
    return (HEADER + "".join(rows)).encode()


def _new_points_file(shop: Shop) -> bytes:
    """Rows at points that do not exist yet (created by the import), codes in ascending order."""
    rows = [
        f"NEW-SALE-{n},{_at(n, n).replace('T', ' ')},{code},{shop.products[n % 2].sku},1,10.00,,"
        for n, code in enumerate(NEW_POINTS * 2)
    ]
    return (HEADER + "".join(f"{row}\n" for row in rows)).encode()


def _onec_sale(shop: "Shop | Doomed", n: int, day: int, ref: str, price: int = 300) -> dict[str, Any]:
    return {
        "external_id": ref,
        "point_code": shop.points[n % 2].code,
        "product_sku": shop.products[(n + 1) % 2].sku,
        "quantity": 1 + n % 4,
        "unit_price": f"{price + n}.00",
        "sold_at": _at(day, n),
    }


@dataclass
class Doomed:
    """A company without employees (so it may be deleted): two points, two products, its 1C."""

    company: Company
    points: list[Point]
    products: list[Product]
    onec: OneCClient


def _ctx(settings: Settings) -> Context:
    return Context(tz=settings.tz, today=datetime.now(settings.tz).date())


async def _doomed(client: httpx.AsyncClient, factory: Factory) -> Doomed:
    company = await factory.company()
    products = [await factory.product(company) for _ in range(2)]
    async with transaction(factory.sessionmaker) as session:
        points = [Point(company_id=company.id, code=f"D{n}", name=f"Точка {n}") for n in (1, 2)]
        session.add_all(points)
        onec, secret = await create_client(
            session,
            Scope.everything(),
            company_id=company.id,
            name="1C",
            login="doomed-1c",
            scopes=[ClientScope.exchange],
        )
    return Doomed(company, points, products, OneCClient(client, onec.login, secret))


async def test_writers_of_every_kind_never_deadlock(
    app: FastAPI,
    client: httpx.AsyncClient,
    factory: Factory,
    sessionmaker: async_sessionmaker[AsyncSession],
    settings: Settings,
) -> None:
    shop = await make_shop(factory, sessionmaker)
    seeded = await _seed(sessionmaker, settings, shop, MOVERS * MOVES + DELETES)
    to_move, to_delete = seeded[: MOVERS * MOVES], seeded[MOVERS * MOVES :]
    onec = (await make_onec(client, factory, shop.company)).onec
    refs = [[str(uuid.UUID(int=b * 1000 + n + 1)) for n in range(ONEC_ITEMS)] for b in range(ONEC_BATCHES)]
    # Every other sale of each 1C batch exists already: the batch moves it to another day.
    existing = [_onec_sale(shop, n, n, ref) for batch in refs for n, ref in enumerate(batch) if n % 2 == 0]
    assert (await onec.put(ONEC_SALES, {"items": existing})).status_code == 200
    imports = []
    for k in range(IMPORTS):
        response = await upload(client, shop, _import_file(shop, k))
        assert response.status_code == 202, response.text
        imports.append(uuid.UUID(response.json()["id"]))

    admin = await factory.admin()
    admin_headers = await factory.headers(admin)
    doomed = await _doomed(client, factory)
    doomed_sales = []
    for n in range(6):
        body = {
            "point_id": doomed.points[n % 2].id,
            "product_id": doomed.products[n // 2 % 2].id,
            "quantity": "1",
            "unit_price": "99.00",
            "sold_at": _at(n, n),
        }
        response = await client.post(SALES_URL, json=body, headers=admin_headers)
        assert response.status_code == 201, response.text
        doomed_sales.append(response.json()["id"])

    def patch(sale_id: int, body: dict[str, Any], headers: dict[str, str]) -> Request:
        return lambda: client.patch(f"{SALES_URL}/{sale_id}", json=body, headers=headers)

    async def mover(k: int) -> list[int]:
        """Moves its sales a day forward (even k) or back (odd k), to another point and product:
        movers of opposite directions hold the same two days in opposite orders."""
        step = 1 if k % 2 == 0 else -1
        requests = []
        for n, sale_id in enumerate(to_move[k * MOVES : (k + 1) * MOVES]):
            body = {
                "sold_at": _at(seeded.index(sale_id) + step, n) + "+05:00",
                "point_id": shop.points[(n + k) % 2].id,
                "product_id": shop.products[(n + k + 1) % 2].id,
                "quantity": str(1 + (n + k) % 5),
            }
            requests.append(patch(sale_id, body, shop.headers))
        return await _one_by_one(requests)

    async def poster(k: int) -> list[int]:
        def post(n: int) -> Request:
            body = {
                "point_id": shop.points[(n + k) % 2].id,
                "product_id": shop.products[n % 2].id,
                "quantity": "2",
                "unit_price": f"{50 + n}.00",
                "sold_at": _at(len(DAYS) - 1 - n + k, n) + "+05:00",
            }
            return lambda: client.post(SALES_URL, json=body, headers=shop.headers)

        return await _one_by_one([post(n) for n in range(POSTS)])

    async def deleter() -> list[int]:
        """Half through the API, half through the admin site (its own session cookie)."""
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as site:
            assert (await login(site, admin.email)).status_code == 302
            return await _one_by_one(
                [
                    (lambda i=i: client.delete(f"{SALES_URL}/{i}", headers=shop.headers))
                    if n % 2
                    else (lambda i=i: site.delete("/admin/sale/delete", params={"pks": str(i)}))
                    for n, i in enumerate(to_delete)
                ]
            )

    async def onec_batch(b: int) -> list[str]:
        # Batches run their days in opposite orders; the import runs them in its own.
        days = (
            [len(DAYS) - n for n in range(ONEC_ITEMS)] if b % 2 == 0 else [n + 1 for n in range(ONEC_ITEMS)]
        )
        items = [_onec_sale(shop, n, days[n], ref, price=400) for n, ref in enumerate(refs[b])]
        response = await onec.put(ONEC_SALES, {"items": items})
        assert response.status_code == 200, response.text
        return [r["status"] for r in read_json(response)["results"]]

    async def doomed_writers() -> list[int]:
        """The company's own 1C and an admin write its sales while it is being deleted."""
        items = [_onec_sale(doomed, n, n + 2, str(uuid.UUID(int=9000 + n))) for n in range(4)]
        requests: list[Request] = [lambda: doomed.onec.put(ONEC_SALES, {"items": items})]
        for n, sale_id in enumerate(doomed_sales):
            body = {"sold_at": _at(n + 1, n), "point_id": doomed.points[(n + 1) % 2].id}
            requests.append(patch(sale_id, body, admin_headers))
        return await _one_by_one(requests)

    async def doomed_delete() -> int:
        response = await client.delete(f"/api/v1/companies/{doomed.company.id}", headers=admin_headers)
        return response.status_code

    writers: dict[str, Awaitable[Any]] = {
        **{f"mover {k}": mover(k) for k in range(MOVERS)},
        **{f"poster {k}": poster(k) for k in range(POSTERS)},
        "deleter": deleter(),
        **{f"1C sales {b}": onec_batch(b) for b in range(ONEC_BATCHES)},
        **{f"import {k}": run_import(sessionmaker, settings, i) for k, i in enumerate(imports)},
        "doomed writers": doomed_writers(),
        "doomed delete": doomed_delete(),
    }
    done = dict(zip(writers, await asyncio.gather(*writers.values(), return_exceptions=True), strict=True))
    errors = {
        name: f"{type(r).__name__}: {str(r).splitlines()[0]}"
        for name, r in done.items()
        if isinstance(r, BaseException)
    }
    assert errors == {}
    assert [done[f"mover {k}"] for k in range(MOVERS)] == [[200] * MOVES] * MOVERS
    assert [done[f"poster {k}"] for k in range(POSTERS)] == [[201] * POSTS] * POSTERS
    assert done["deleter"] == [200, 204] * (DELETES // 2)  # the admin site answers with 200
    expected_onec = ["updated" if n % 2 == 0 else "created" for n in range(ONEC_ITEMS)]
    assert [done[f"1C sales {b}"] for b in range(ONEC_BATCHES)] == [expected_onec] * ONEC_BATCHES
    succeeded = {"status": "succeeded", "rows_inserted": IMPORT_ROWS}
    assert [done[f"import {k}"] for k in range(IMPORTS)] == [succeeded] * IMPORTS
    # The company's writers either landed before its deletion or found it gone.
    assert set(done["doomed writers"]) <= {200, 401, 404}, done["doomed writers"]
    assert done["doomed delete"] == 204

    async with sessionmaker() as session:
        by_company = dict(
            (await session.execute(select(Sale.company_id, func.count()).group_by(Sale.company_id))).all()
        )
    created = POSTERS * POSTS + IMPORTS * IMPORT_ROWS + ONEC_BATCHES * ONEC_ITEMS
    assert by_company == {shop.company.id: len(seeded) - DELETES + created}
    assert await assert_rollup_matches(sessionmaker, settings) == by_company[shop.company.id]


async def _blocks_someone(sessionmaker: async_sessionmaker[AsyncSession], pid: int) -> None:
    """Return once another backend waits for a lock that backend `pid` holds (polled: waiting
    for that condition, not for a span of time)."""
    blocked = text("SELECT count(*) FROM pg_stat_activity WHERE :pid = ANY(pg_blocking_pids(pid))")
    async with sessionmaker() as session:
        for _ in range(1000):
            if await session.scalar(blocked, {"pid": pid}):
                return
            await session.rollback()  # a fresh look at pg_stat_activity
            await asyncio.sleep(0.01)
    raise AssertionError(f"nobody waited for backend {pid}")


async def _backend(session: AsyncSession) -> int:
    return int(await session.scalar(text("SELECT pg_backend_pid()")) or 0)


async def test_company_deletion_and_its_1c_in_mid_request_never_deadlock(
    client: httpx.AsyncClient,
    factory: Factory,
    sessionmaker: async_sessionmaker[AsyncSession],
    settings: Settings,
) -> None:
    """A 1C request records its client's use before it holds the company; the company's deletion
    reaches the client row in its cascade. Deletion must take them in the request's order."""
    doomed = await _doomed(client, factory)
    items = [_onec_sale(doomed, n, n, str(uuid.UUID(int=n + 1))) for n in range(3)]

    async def delete() -> None:
        async with transaction(sessionmaker) as session:
            company = await CompanyRepository(session, Scope.everything()).get(doomed.company.id)
            await network_service.delete_company(session, company)

    async with transaction(sessionmaker) as request:  # the 1C request, past its auth dependency
        onec = await request.scalar(select(IntegrationClient).where(IntegrationClient.login == "doomed-1c"))
        assert onec is not None
        await touch_client(request, onec.id, datetime.now(UTC))
        deletion = asyncio.create_task(delete())
        await _blocks_someone(sessionmaker, await _backend(request))
        results = await upsert_items(
            request, client=onec, entity=Entity.sales, items=items, ctx=_ctx(settings)
        )
        assert [r["status"] for r in results] == ["created"] * 3
    await deletion
    async with sessionmaker() as session:
        assert await session.get(Company, doomed.company.id) is None
    assert await assert_rollup_matches(sessionmaker, settings) == 0


async def test_import_creating_points_and_a_1c_batch_of_them_never_deadlock(
    client: httpx.AsyncClient,
    factory: Factory,
    sessionmaker: async_sessionmaker[AsyncSession],
    settings: Settings,
) -> None:
    """An import that creates missing points does so in code order; a 1C batch of the same new
    points, in its own order, is half done when the import reaches them."""
    shop = await make_shop(factory, sessionmaker)
    response = await upload(client, shop, _new_points_file(shop), create_missing=True)
    assert response.status_code == 202, response.text
    pushed = [
        {"external_id": str(uuid.UUID(int=n + 1)), "code": code, "name": code}
        for n, code in enumerate(reversed(NEW_POINTS))
    ]
    company_id = shop.company.id
    onec = IntegrationClient(company_id=company_id, all_companies=False)  # what upsert_items reads
    async with transaction(sessionmaker) as batch:  # 1C's batch, between its first and its rest
        first = await upsert_items(
            batch, client=onec, entity=Entity.points, items=pushed[:1], ctx=_ctx(settings)
        )
        loading = asyncio.create_task(run_import(sessionmaker, settings, uuid.UUID(response.json()["id"])))
        await _blocks_someone(sessionmaker, await _backend(batch))
        rest = await upsert_items(
            batch, client=onec, entity=Entity.points, items=pushed[1:], ctx=_ctx(settings)
        )
    assert [r["status"] for r in first + rest] == ["created"] * len(NEW_POINTS)
    assert await loading == {"status": "succeeded", "rows_inserted": 2 * len(NEW_POINTS)}
    async with sessionmaker() as session:
        codes = await session.scalars(select(Point.code).where(Point.company_id == company_id))
        assert sorted(codes) == sorted([p.code for p in shop.points] + NEW_POINTS)
    assert await assert_rollup_matches(sessionmaker, settings) == 2 * len(NEW_POINTS)


# --- returns ---------------------------------------------------------------------------------


async def _give_back(
    client: httpx.AsyncClient, shop: Shop, receipt_id: int, line_id: int, quantity: str
) -> httpx.Response:
    body = {"sold_at": "2026-03-12T10:00:00", "lines": [{"line_id": line_id, "quantity": quantity}]}
    return await client.post(f"/api/v1/receipts/{receipt_id}/returns", json=body, headers=shop.headers)


async def _returns_of(sessionmaker: async_sessionmaker[AsyncSession], receipt_id: int) -> list[Decimal]:
    async with sessionmaker() as session:
        stmt = select(Receipt.total).where(Receipt.original_id == receipt_id).order_by(Receipt.id)
        return list(await session.scalars(stmt))


async def test_two_returns_of_one_line_never_both_take_what_is_left(
    client: httpx.AsyncClient,
    factory: Factory,
    sessionmaker: async_sessionmaker[AsyncSession],
    settings: Settings,
) -> None:
    """Three sold, two returned by each of two returns: the second waits for the first (both
    lock the receipt) and then finds one left."""
    shop = await make_shop(factory, sessionmaker)
    sale = await add_sale(sessionmaker, settings, shop, quantity=Decimal(3), unit_price=Decimal("10.00"))
    data = ReturnCreate(
        sold_at=datetime(2026, 3, 12, 10), lines=[ReturnLineIn(line_id=sale.id, quantity=Decimal(2))]
    )
    async with transaction(sessionmaker) as first:  # a return, past its dependency, not yet committed
        original = await ReceiptRepository(first, Scope.everything()).get_for_update(sale.receipt_id)
        await create_return(first, Scope.everything(), original, data, settings.tz)
        second = asyncio.create_task(_give_back(client, shop, sale.receipt_id, sale.id, "2"))
        await _blocks_someone(sessionmaker, await _backend(first))
    response = await second
    assert response.status_code == 409, response.text
    assert response.json()["detail"] == f"Line {sale.id} has 1.000 left to return"
    assert await _returns_of(sessionmaker, sale.receipt_id) == [Decimal("20.00")]
    # Many at once, in whatever order they come: exactly one takes the last unit.
    answers = await asyncio.gather(
        *(_give_back(client, shop, sale.receipt_id, sale.id, "1") for _ in range(4))
    )
    assert sorted(a.status_code for a in answers) == [201, 409, 409, 409]
    assert await _returns_of(sessionmaker, sale.receipt_id) == [Decimal("20.00"), Decimal("10.00")]
    assert await assert_rollup_matches(sessionmaker, settings) == 3


async def test_a_return_and_a_change_of_its_sale_never_deadlock(
    client: httpx.AsyncClient,
    factory: Factory,
    sessionmaker: async_sessionmaker[AsyncSession],
    settings: Settings,
) -> None:
    """PATCH /sales/{id} of a one-line receipt's line while a return of that line comes in: the
    return locks the receipt, then its new line's key check needs the original line; the change
    must hold the receipt before the line, as the return does, or the two wait for each other."""
    shop = await make_shop(factory, sessionmaker)
    sale = await add_sale(sessionmaker, settings, shop, quantity=Decimal(3), unit_price=Decimal("10.00"))
    async with transaction(sessionmaker) as change:  # the PATCH, past its dependency
        locked = await SaleRepository(change, Scope.everything()).get_for_update(sale.id)
        giving_back = asyncio.create_task(_give_back(client, shop, sale.receipt_id, sale.id, "1"))
        await _blocks_someone(sessionmaker, await _backend(change))
        await sales_service.update_sale(
            change, Scope.everything(), locked, SaleUpdate(quantity=Decimal(4)), settings.tz
        )
    response = await giving_back
    assert response.status_code == 201, response.text
    assert response.json()["total"] == 10.0
    assert await assert_rollup_matches(sessionmaker, settings) == 2


async def test_a_return_and_the_deletion_of_its_receipt_take_turns(
    client: httpx.AsyncClient,
    factory: Factory,
    sessionmaker: async_sessionmaker[AsyncSession],
    settings: Settings,
) -> None:
    """Whichever locks the receipt first wins: a return after the deletion finds no receipt
    (404), a deletion after the return finds one with returns (409); never a 500."""
    shop = await make_shop(factory, sessionmaker)
    first, second = [
        await add_sale(sessionmaker, settings, shop, quantity=Decimal(2), unit_price=Decimal("10.00"))
        for _ in range(2)
    ]
    async with transaction(sessionmaker) as deletion:
        receipt = await ReceiptRepository(deletion, Scope.everything()).get_for_update(first.receipt_id)
        late_return = asyncio.create_task(_give_back(client, shop, first.receipt_id, first.id, "1"))
        await _blocks_someone(sessionmaker, await _backend(deletion))
        await delete_receipt(deletion, receipt, settings.tz)
    assert (await late_return).status_code == 404
    data = ReturnCreate(
        sold_at=datetime(2026, 3, 12, 10), lines=[ReturnLineIn(line_id=second.id, quantity=Decimal(1))]
    )
    async with transaction(sessionmaker) as giving_back:
        original = await ReceiptRepository(giving_back, Scope.everything()).get_for_update(second.receipt_id)
        late_deletion = asyncio.create_task(
            client.delete(f"/api/v1/receipts/{second.receipt_id}", headers=shop.headers)
        )
        await _blocks_someone(sessionmaker, await _backend(giving_back))
        await create_return(giving_back, Scope.everything(), original, data, settings.tz)
    refused = await late_deletion
    assert refused.status_code == 409, refused.text
    assert await _returns_of(sessionmaker, second.receipt_id) == [Decimal("10.00")]
    assert await assert_rollup_matches(sessionmaker, settings) == 2


def _receipts_file(shops: list[Shop], tag: str, *, company_column: bool) -> bytes:
    """Three-line receipts at both points of every shop, over every day, the shops' rows
    interleaved in the given order, with new points to create."""
    header = HEADER.strip() + ",receipt,payment_method" + (",company_id" if company_column else "") + "\n"
    rows = []
    for n in range(IMPORT_ROWS):
        for shop in shops:
            r = n // 3
            point = shop.points[r % 2].code if r % 3 else NEW_POINTS[r % len(NEW_POINTS)]
            sold_at = _at(len(DAYS) - 1 - r, r).replace("T", " ")
            cells = [
                f"{tag}-{shop.company.id}-{n}",
                sold_at,
                point,
                shop.products[n % 2].sku,
                "1",
                f"{10 + n}.00",
            ]
            cells += ["", "", f"{tag}-{n // 3}", "card"] + ([str(shop.company.id)] if company_column else [])
            rows.append(",".join(cells) + "\n")
    return (header + "".join(rows)).encode()


async def test_an_admin_import_of_several_companies_and_their_own_never_deadlock(
    client: httpx.AsyncClient,
    factory: Factory,
    sessionmaker: async_sessionmaker[AsyncSession],
    settings: Settings,
) -> None:
    """Imports of receipts holding two companies (an admin's, whatever the order of its rows)
    run with each company's own imports and API writers."""
    shops = [await make_shop(factory, sessionmaker) for _ in range(2)]
    admin_headers = await factory.headers(await factory.admin())
    imports = []
    for tag, order in (("ADM", shops), ("RDM", shops[::-1])):
        response = await client.post(
            "/api/v1/sales/imports",
            files={"file": ("all.csv", _receipts_file(order, tag, company_column=True))},
            data={"create_missing": "true"},
            headers=admin_headers,
        )
        assert response.status_code == 202, response.text
        imports.append(uuid.UUID(response.json()["id"]))
    for shop in shops:
        response = await upload(
            client, shop, _receipts_file([shop], "OWN", company_column=False), create_missing=True
        )
        assert response.status_code == 202, response.text
        imports.append(uuid.UUID(response.json()["id"]))

    async def poster(shop: Shop) -> list[int]:
        def post(n: int) -> Request:
            body = {
                "point_id": shop.points[n % 2].id,
                "product_id": shop.products[n % 2].id,
                "quantity": "1",
                "unit_price": "5.00",
                "sold_at": _at(n, n) + "+05:00",
            }
            return lambda: client.post(SALES_URL, json=body, headers=shop.headers)

        return await _one_by_one([post(n) for n in range(POSTS)])

    done = await asyncio.gather(
        *(run_import(sessionmaker, settings, i) for i in imports),
        *(poster(shop) for shop in shops),
        return_exceptions=True,
    )
    lines = [2 * IMPORT_ROWS, 2 * IMPORT_ROWS, IMPORT_ROWS, IMPORT_ROWS]
    assert done == [{"status": "succeeded", "rows_inserted": n} for n in lines] + [[201] * POSTS] * 2
    async with sessionmaker() as session:
        receipts = await session.scalar(select(func.count()).select_from(Receipt))
    assert receipts == (6 * IMPORT_ROWS) // 3 + 2 * POSTS
    assert await assert_rollup_matches(sessionmaker, settings) == 6 * IMPORT_ROWS + 2 * POSTS
