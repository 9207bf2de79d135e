"""The exchange as 1C sees it: full loads, change batches with acknowledgement, the batch log."""

import re
from decimal import Decimal

import httpx
from sqlalchemy import delete, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from sauda.db import transaction
from sauda.network.models import Product
from tests.exchange.conftest import OneCSetup, make_onec
from tests.exchange.onec_client import OneCClient, apply, read_json
from tests.factories import Factory

PRODUCT_KEYS = {
    "id",
    "ref",
    "external_id",
    "company_id",
    "sku",
    "name",
    "model",
    "release_date",
    "created_at",
    "deleted",
}


async def _rename(sessionmaker: async_sessionmaker[AsyncSession], product_id: int, name: str) -> None:
    async with transaction(sessionmaker) as session:
        await session.execute(update(Product).where(Product.id == product_id).values(name=name))


async def test_full_exchange_like_1c(
    onec_setup: OneCSetup, factory: Factory, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    onec, company = onec_setup.onec, onec_setup.company
    products = [await factory.product(company) for _ in range(5)]

    # Initial full load, a page of two at a time.
    loaded = await onec.full_load("products", limit=2)
    assert [p["id"] for p in loaded] == [p.id for p in products]
    assert set(loaded[0]) == PRODUCT_KEYS
    assert loaded[0]["release_date"] == "2025-01-01T00:00:00"
    assert onec.requests[0][2] == 401  # first request without credentials, as the platform does

    # The first change batch holds everything not yet acknowledged (all of it, like /showFiltered).
    mirror: dict[int, dict] = {}
    assert await onec.sync("products", mirror) == 1
    assert set(mirror) == {p.id for p in products}

    # Changes; 1C fails before acknowledging: the same batch comes again, byte for byte.
    await _rename(sessionmaker, products[0].id, "Новое имя")
    new = await factory.product(company)
    first = await onec.send("GET", "/api/v1/exchange/products/changes")
    again = await onec.send("GET", "/api/v1/exchange/products/changes")
    assert first.content == again.content
    batch = read_json(first)
    assert {i["id"] for i in batch["items"]} == {products[0].id, new.id}

    # Acknowledge (twice: idempotent); then nothing is left.
    assert (await onec.ack("products", batch)).status_code == 200
    assert (await onec.ack("products", batch)).status_code == 200
    apply(mirror, batch["items"])
    assert (await onec.pull_changes("products"))["items"] == []

    # More changes and deletions: tombstones with every key present.
    await _rename(sessionmaker, products[1].id, "Ещё имя")
    async with transaction(sessionmaker) as session:
        await session.execute(delete(Product).where(Product.id.in_([products[2].id, new.id])))
    batch = await onec.pull_changes("products")
    tombstones = [i for i in batch["items"] if i["deleted"]]
    assert {t["id"] for t in tombstones} == {products[2].id, new.id}
    assert all(set(t) == PRODUCT_KEYS and t["name"] is None for t in tombstones)
    live = {p["id"]: p for p in mirror.values()}
    for t in tombstones:  # every identifier the live record had: 1C finds its copy by them
        keys = ("id", "ref", "external_id", "company_id", "sku")
        assert {k: t[k] for k in keys} == {k: live[t["id"]][k] for k in keys}
    apply(mirror, batch["items"])
    await onec.ack("products", batch)

    assert mirror == {p["id"]: p for p in await onec.full_load("products")}


async def test_batches_are_cut_by_limit_and_has_more(onec_setup: OneCSetup, factory: Factory) -> None:
    for _ in range(5):
        await factory.product(onec_setup.company)
    onec = onec_setup.onec
    batch = await onec.pull_changes("products", limit=2)
    assert len(batch["items"]) == 2
    assert batch["has_more"] is True
    assert (await onec.pull_changes("products", limit=2))["batch_id"] == batch["batch_id"]
    await onec.ack("products", batch)
    mirror: dict[int, dict] = {}
    assert await onec.sync("products", mirror, limit=2) == 2
    assert len(mirror) == 3


async def test_stale_or_foreign_ack_token_is_409(onec_setup: OneCSetup, factory: Factory) -> None:
    await factory.product(onec_setup.company)
    onec = onec_setup.onec
    response = await onec.post("/api/v1/exchange/products/ack", {"ack_token": "made-up"})
    assert response.status_code == 409
    assert read_json(response)["fields"][0]["field"] == "ack_token"
    batch = await onec.pull_changes("products")
    # The token of a products batch does not acknowledge customers.
    response = await onec.post("/api/v1/exchange/customers/ack", {"ack_token": batch["ack_token"]})
    assert response.status_code == 409
    assert (await onec.pull_changes("products"))["batch_id"] == batch["batch_id"]


async def test_ack_body_may_start_with_a_bom(onec_setup: OneCSetup, factory: Factory) -> None:
    await factory.product(onec_setup.company)
    onec = onec_setup.onec
    batch = await onec.pull_changes("products")
    response = await onec.post("/api/v1/exchange/products/ack", {"ack_token": batch["ack_token"]}, bom=True)
    assert response.status_code == 200, response.text
    assert (await onec.pull_changes("products"))["items"] == []


async def test_bad_ack_bodies_are_422_naming_the_problem(onec_setup: OneCSetup) -> None:
    onec = onec_setup.onec
    response = await onec.send("POST", "/api/v1/exchange/products/ack", b"\xff\xfe not json")
    assert response.status_code == 422
    assert read_json(response)["fields"] == [{"field": "body", "message": "not JSON in UTF-8"}]
    response = await onec.post("/api/v1/exchange/products/ack", {"token": "x"})
    assert response.status_code == 422
    assert read_json(response)["fields"][0]["field"] == "ack_token"


async def test_money_dates_and_numbers_as_1c_reads_them(client: httpx.AsyncClient, factory: Factory) -> None:
    supplier = await factory.company()
    company = await factory.company(supplier=supplier, debt="1234.50")
    setup = await make_onec(client, factory, company, login="onec-all", all_companies=True)
    companies = await setup.onec.full_load("companies")
    ours = next(c for c in companies if c["id"] == company.id)
    assert ours["debt"] == Decimal("1234.50")
    raw = (await setup.onec.send("GET", "/api/v1/exchange/companies")).content
    assert re.search(rb'"debt" ?: ?1234\.50\b', raw)
    assert re.search(rb'"debt" ?: ?0\.00\b', raw)
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}", ours["created_at"])
    assert ours["supplier_ref"] == next(c for c in companies if c["id"] == supplier.id)["ref"]


async def test_companies_feed_is_only_for_clients_of_all_companies(onec_setup: OneCSetup) -> None:
    response = await onec_setup.onec.send("GET", "/api/v1/exchange/companies")
    assert response.status_code == 404


async def test_a_client_sees_only_its_company(client: httpx.AsyncClient, factory: Factory) -> None:
    theirs = await factory.company()
    await factory.product(theirs)
    setup = await make_onec(client, factory, await factory.company())
    mine = await factory.product(setup.company)
    assert [p["id"] for p in await setup.onec.full_load("products")] == [mine.id]
    batch = await setup.onec.pull_changes("products")
    assert [p["id"] for p in batch["items"]] == [mine.id]


async def test_credentials(onec_setup: OneCSetup, client: httpx.AsyncClient, factory: Factory) -> None:
    url = "/api/v1/exchange/products"
    response = await client.get(url)
    assert response.status_code == 401
    assert response.headers["www-authenticate"].startswith("Basic realm=")
    assert (await client.get(url, headers={"X-Api-Key": onec_setup.onec.secret})).status_code == 200
    wrong = OneCClient(client, onec_setup.onec.login, "wrong-secret")
    assert (await wrong.send("GET", url)).status_code == 401
    # A calendar-only client is refused; a person's JWT is not a 1C login.
    headers = await factory.headers(await factory.admin())
    assert (await client.get(url, headers=headers)).status_code == 401


async def test_no_redirects_under_exchange_paths(onec_setup: OneCSetup, factory: Factory) -> None:
    await factory.product(onec_setup.company)
    onec = onec_setup.onec
    page = read_json(await onec.send("GET", "/api/v1/exchange/products/"))
    assert len(page["items"]) == 1
    response = await onec.send("GET", "/api/v1/exchange/unknown")
    assert response.status_code == 404  # no such feed
    read_json(response)  # errors too are JSON 1C can read


async def test_bad_cursor_is_422(onec_setup: OneCSetup) -> None:
    response = await onec_setup.onec.send("GET", "/api/v1/exchange/products?after=abc")
    assert response.status_code == 422
    assert read_json(response)["fields"][0]["field"] == "after"


async def test_batch_log_and_files(onec_setup: OneCSetup, factory: Factory) -> None:
    await factory.product(onec_setup.company, name="Холодильник")
    onec = onec_setup.onec
    delivered = await onec.send("GET", "/api/v1/exchange/products/changes")
    batch = read_json(delivered)
    log = await onec.get("/api/v1/exchange/batches")  # in the feeds' format: charset, 1C dates
    assert log["total"] == 1
    entry = log["items"][0]
    assert entry["id"] == batch["batch_id"]
    assert entry["item_count"] == 1
    assert entry["acknowledged_at"] is None
    file = await onec.send("GET", entry["file_url"])
    assert file.content == delivered.content
    disposition = file.headers["content-disposition"]
    assert re.fullmatch(
        r'attachment; filename="sauda_products_\d{4}-\d{2}-\d{2}_\d{2}-\d{2}-\d{2}_\w{8}\.json"', disposition
    )
    await onec.ack("products", batch)
    log = await onec.get("/api/v1/exchange/batches?entity=products")
    assert log["items"][0]["acknowledged_at"] is not None
    assert log["items"][0]["superseded"] is False


async def test_batch_files_of_another_client_are_404(
    client: httpx.AsyncClient, factory: Factory, onec_setup: OneCSetup
) -> None:
    await factory.product(onec_setup.company)
    batch = await onec_setup.onec.pull_changes("products")
    other = await make_onec(client, factory, await factory.company(), login="other-onec")
    response = await other.onec.send("GET", f"/api/v1/exchange/batches/{batch['batch_id']}.json")
    assert response.status_code == 404
