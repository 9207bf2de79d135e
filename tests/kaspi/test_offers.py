"""Sync of every page, offer filters, price pushes, batch on/off sale, competitor offers."""

from decimal import Decimal
from typing import Any

from sqlalchemy import select

from sauda.kaspi.models import KaspiOffer
from sauda.sandboxes.kaspi import SandboxOffer, SandboxState, competitor
from tests.clock import ForwardClock
from tests.conftest import RunWorker
from tests.factories import Factory
from tests.kaspi.conftest import UID, Kaspi


async def _sync(kaspi: Kaspi, store_id: int, run_worker: RunWorker) -> dict[str, Any]:
    response = await kaspi.call("POST", f"/stores/{store_id}/sync")
    assert response.status_code == 202, response.text
    await run_worker()
    job = await kaspi.client.get(f"/api/v1/jobs/{response.json()['job_id']}", headers=kaspi.headers)
    body: dict[str, Any] = job.json()
    return body


async def _offers(kaspi: Kaspi, **params: Any) -> dict[str, Any]:
    response = await kaspi.call("GET", "/offers", params={"limit": 200} | params)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def test_sync_pulls_every_page_and_links_products(
    kaspi: Kaspi, factory: Factory, sandbox: SandboxState, run_worker: RunWorker
) -> None:
    merchant = sandbox.merchant()
    first_sku = next(iter(merchant.offers))
    company = await _company(factory, kaspi)
    product = await factory.product(company, sku=first_sku)
    store = await kaspi.logged_in_store()

    job = await _sync(kaspi, store["id"], run_worker)

    assert job["status"] == "succeeded", job
    assert job["result"] == {"on_sale": 33, "archived": 12, "removed": 0, "linked": 1}
    every = await _offers(kaspi)
    assert every["total"] == 45  # 2 pages on sale + 1 archived at 20 per page
    assert {o["sku"] for o in every["items"]} == set(merchant.offers)
    linked = await _offers(kaspi, linked=True)
    assert [(o["sku"], o["product_id"]) for o in linked["items"]] == [(first_sku, product.id)]
    archived = await _offers(kaspi, state="archived")
    assert archived["total"] == 12
    offer = next(o for o in every["items"] if o["sku"] == first_sku)
    source = merchant.offers[first_sku]
    assert offer["price"] == source.price
    assert offer["master_sku"] == source.master_sku
    assert offer["availabilities"][0]["storeId"] == f"{UID}_PP1"
    synced = (await kaspi.call("GET", f"/stores/{store['id']}")).json()
    assert synced["last_synced_at"] is not None


async def test_resync_updates_and_marks_removed(
    kaspi: Kaspi, sandbox: SandboxState, run_worker: RunWorker
) -> None:
    store = await kaspi.logged_in_store()
    await _sync(kaspi, store["id"], run_worker)
    merchant = sandbox.merchant()
    gone, changed = list(merchant.offers)[:2]
    del merchant.offers[gone]
    merchant.offers[changed].price = 12345
    job = await _sync(kaspi, store["id"], run_worker)
    assert job["result"]["removed"] == 1
    removed = await _offers(kaspi, state="removed")
    assert [o["sku"] for o in removed["items"]] == [gone]
    price = await _offers(kaspi, search=changed)
    assert price["items"][0]["price"] == 12345


async def test_city_prices_give_the_price_when_price_is_zero(
    kaspi: Kaspi, sandbox: SandboxState, run_worker: RunWorker
) -> None:
    merchant = sandbox.merchant()
    merchant.offers.clear()
    sandbox.add_offer(
        merchant,
        SandboxOffer(
            sku="900_1",
            master_sku="900",
            title="Чайник",
            brand="Tefal",
            price=0,
            city_prices={"750000000": 15990, "710000000": 15490},
        ),
    )
    store = await kaspi.logged_in_store()
    await _sync(kaspi, store["id"], run_worker)
    offer = (await _offers(kaspi))["items"][0]
    assert offer["price"] == 15490
    assert offer["city_prices"] == {"750000000": 15990, "710000000": 15490}


async def test_offer_filters(kaspi: Kaspi, sandbox: SandboxState, run_worker: RunWorker) -> None:
    store = await kaspi.logged_in_store()
    await _sync(kaspi, store["id"], run_worker)
    prices = sorted(o.price for o in sandbox.merchant().offers.values())
    low, high = prices[5], prices[15]
    ranged = await _offers(kaspi, min_price=low, max_price=high, ordering="price")
    assert [o["price"] for o in ranged["items"]] == prices[5:16]
    assert (await _offers(kaspi, search="Товар 1", limit=5))["total"] == 11  # 1, 10..19
    assert (await _offers(kaspi, store_id=store["id"]))["total"] == 45
    master = sandbox.merchant().offers[next(iter(sandbox.merchant().offers))].master_sku
    assert (await _offers(kaspi, master_sku=master))["total"] == 1
    paged = await kaspi.call("GET", "/offers", params={"limit": 10, "page": 5})
    assert paged.json()["pages"] == 5
    assert len(paged.json()["items"]) == 5


async def test_push_price(
    kaspi: Kaspi, sandbox: SandboxState, run_worker: RunWorker, factory: Factory
) -> None:
    store = await kaspi.logged_in_store()
    await _sync(kaspi, store["id"], run_worker)
    offer = (await _offers(kaspi, state="on_sale", limit=1))["items"][0]

    body = {"price": 4990, "confirm": True}  # far from the demo price: confirmed on purpose
    response = await kaspi.call("POST", f"/offers/{offer['id']}/price", json=body)

    assert response.status_code == 202, response.text
    body = response.json()
    assert body["pricefeed_id"] == sandbox.pricefeed[-1]["id"]
    assert body["offer"]["pushed_price"] == 4990
    assert body["offer"]["price"] == offer["price"]  # Kaspi applies it later
    sent = sandbox.pricefeed[-1]["items"]
    assert sent == [
        {
            "merchantUid": UID,
            "sku": offer["sku"],
            "model": offer["title"],
            "price": 4990,
            "availabilities": [
                {"storeId": f"{UID}_PP1", "available": "yes", "preOrder": 0},
                {"storeId": f"{UID}_PP2", "available": "yes", "preOrder": 0},
            ],
        }
    ]
    assert offer["sku"] in sandbox.merchant().offers  # no stockCount sent: the offer survives
    await _sync(kaspi, store["id"], run_worker)
    assert (await kaspi.call("GET", f"/offers/{offer['id']}")).json()["price"] == 4990


async def test_a_price_far_from_the_current_one_needs_confirm(
    kaspi: Kaspi, sandbox: SandboxState, run_worker: RunWorker
) -> None:
    store = await kaspi.logged_in_store()
    source = next(o for o in sandbox.merchant().offers.values() if o.on_sale)
    source.price = 81060
    await _sync(kaspi, store["id"], run_worker)
    offer = (await _offers(kaspi, search=source.sku))["items"][0]

    async def push(**body: Any) -> Any:
        return await kaspi.call("POST", f"/offers/{offer['id']}/price", json=body)

    typo = await push(price=4990)
    assert typo.status_code == 422, typo.text
    message = "4 990 is 94 % below the current price 81 060; send confirm=true if this is intended"
    assert typo.json() == {
        "error": "validation_error",
        "detail": f"price: {message}",
        "fields": [{"field": "price", "message": message}],
    }
    too_high = await push(price=110000)
    assert too_high.status_code == 422
    assert too_high.json()["fields"][0]["message"].startswith(
        "110 000 is 36 % above the current price 81 060"
    )
    assert sandbox.pricefeed == []  # nothing reached Kaspi

    assert (await push(price=60000)).status_code == 202  # 26 %: within the threshold
    # Kaspi has not applied it yet, but the pushed price is the one to compare with now.
    assert (await push(price=45000)).status_code == 202  # 25 % below 60 000
    assert (await push(price=4990, confirm=True)).status_code == 202
    assert [u["items"][0]["price"] for u in sandbox.pricefeed] == [60000, 45000, 4990]


async def test_the_confirmation_threshold_is_a_setting(
    kaspi: Kaspi, sandbox: SandboxState, run_worker: RunWorker, kaspi_settings: Any
) -> None:
    store = await kaspi.logged_in_store()
    source = next(o for o in sandbox.merchant().offers.values() if o.on_sale)
    source.price = 10000
    await _sync(kaspi, store["id"], run_worker)
    offer = (await _offers(kaspi, search=source.sku))["items"][0]
    kaspi_settings.price_change_confirm_percent = 5
    refused = await kaspi.call("POST", f"/offers/{offer['id']}/price", json={"price": 9000})
    assert refused.status_code == 422
    assert "10 % below" in refused.json()["detail"]


async def test_push_city_price(kaspi: Kaspi, sandbox: SandboxState, run_worker: RunWorker) -> None:
    store = await kaspi.logged_in_store()
    await _sync(kaspi, store["id"], run_worker)
    offer = (await _offers(kaspi, limit=1))["items"][0]
    response = await kaspi.call(
        "POST", f"/offers/{offer['id']}/price", json={"price": 777, "city_id": "710000000", "confirm": True}
    )
    assert response.status_code == 202, response.text
    assert sandbox.pricefeed[-1]["items"][0]["cityPrices"] == [{"cityId": "710000000", "value": 777}]
    assert sandbox.merchant().offers[offer["sku"]].city_prices == {"710000000": 777}


async def test_invalid_prices_are_refused(kaspi: Kaspi, sandbox: SandboxState, run_worker: RunWorker) -> None:
    store = await kaspi.logged_in_store()
    await _sync(kaspi, store["id"], run_worker)
    offer = (await _offers(kaspi, limit=1))["items"][0]
    for bad in ({"price": 0}, {"price": 10.5}, {"price": 100, "city_id": "Almaty"}, {}):
        response = await kaspi.call("POST", f"/offers/{offer['id']}/price", json=bad)
        assert response.status_code == 422, bad
    assert sandbox.pricefeed == []


async def test_batch_disable_and_enable(
    kaspi: Kaspi, sandbox: SandboxState, run_worker: RunWorker, factory: Factory
) -> None:
    store = await kaspi.logged_in_store()
    await _sync(kaspi, store["id"], run_worker)
    on_sale = (await _offers(kaspi, state="on_sale", limit=25))["items"]
    ids = [o["id"] for o in on_sale]
    from tests.kaspi.conftest import KaspiSettings  # noqa: F401 - documents what batch_size is

    response = await kaspi.call("POST", "/offers/batch-disable", json={"offer_ids": ids})

    assert response.status_code == 202, response.text
    assert response.json()["offers"] == 25
    assert len(response.json()["uploads"]) == 1  # 25 items fit one batch of 100
    items = sandbox.pricefeed[-1]["items"]
    assert len(items) == 25
    assert all(p["available"] == "no" for i in items for p in i["availabilities"])
    merchant = sandbox.merchant()
    assert not any(merchant.offers[o["sku"]].on_sale for o in on_sale)
    async with factory.sessionmaker() as session:
        pushed = (
            await session.scalars(select(KaspiOffer.pushed_available).where(KaspiOffer.id.in_(ids)))
        ).all()
    assert set(pushed) == {False}

    job = await _sync(kaspi, store["id"], run_worker)
    assert job["result"]["archived"] == 12 + 25

    enable = await kaspi.call("POST", "/offers/batch-enable", json={"offer_ids": ids})
    assert enable.status_code == 202, enable.text
    assert all(merchant.offers[o["sku"]].on_sale for o in on_sale)
    job = await _sync(kaspi, store["id"], run_worker)
    assert job["result"]["on_sale"] == 33


async def test_batch_is_split_into_chunks(
    kaspi: Kaspi, sandbox: SandboxState, run_worker: RunWorker, kaspi_settings: Any
) -> None:
    kaspi_settings.batch_size = 10
    store = await kaspi.logged_in_store()
    await _sync(kaspi, store["id"], run_worker)
    ids = [o["id"] for o in (await _offers(kaspi, limit=25))["items"]]
    response = await kaspi.call("POST", "/offers/batch-disable", json={"offer_ids": ids})
    assert response.status_code == 202, response.text
    assert len(response.json()["uploads"]) == 3
    assert [len(u["items"]) for u in sandbox.pricefeed] == [10, 10, 5]


async def test_batch_with_an_unknown_offer_changes_nothing(
    kaspi: Kaspi, sandbox: SandboxState, run_worker: RunWorker
) -> None:
    store = await kaspi.logged_in_store()
    await _sync(kaspi, store["id"], run_worker)
    first = (await _offers(kaspi, limit=1))["items"][0]
    response = await kaspi.call("POST", "/offers/batch-disable", json={"offer_ids": [first["id"], 999999]})
    assert response.status_code == 404
    assert "999999" in response.json()["detail"]
    assert sandbox.pricefeed == []


async def test_competitor_offers_exclude_our_own(
    kaspi: Kaspi, sandbox: SandboxState, run_worker: RunWorker
) -> None:
    store = await kaspi.logged_in_store()
    merchant = sandbox.merchant()
    own = next(iter(merchant.offers.values()))
    sandbox.competitors[own.master_sku] = [
        competitor("M9", "Дешёвый", 990),
        competitor("M8", "Дорогой", 1990, preorder=3),
    ]
    response = await kaspi.call("GET", f"/products/{own.master_sku}/offers", params={"city_id": "750000000"})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["own_excluded"] == 1
    assert [(o["merchant_id"], o["price"], o["preorder"]) for o in body["offers"]] == [
        ("M9", 990, 0),
        ("M8", 1990, 3),
    ]
    assert store["merchant_uid"] == UID


async def test_competitor_offers_of_every_page(kaspi: Kaspi, sandbox: SandboxState) -> None:
    sandbox.competitors["555"] = [competitor(f"M{n}", f"Магазин {n}", 1000 + n) for n in range(150)]
    response = await kaspi.call("GET", "/products/555/offers")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["city_id"] == "750000000"
    assert len(body["offers"]) == 150
    assert body["offers"][0]["price"] == 1000
    assert sandbox.requests["storefront"] == 3  # 64 + 64 + 22


async def test_unknown_product_has_no_offers(kaspi: Kaspi) -> None:
    response = await kaspi.call("GET", "/products/1/offers")
    assert response.status_code == 200
    assert response.json()["offers"] == []


async def _company(factory: Factory, kaspi: Kaspi) -> Any:
    from sauda.network.models import Company

    async with factory.sessionmaker() as session:
        return await session.get_one(Company, kaspi.company_id)


async def test_synced_prices_are_stored_as_money(
    kaspi: Kaspi, factory: Factory, sandbox: SandboxState, run_worker: RunWorker
) -> None:
    store = await kaspi.logged_in_store()
    await _sync(kaspi, store["id"], run_worker)
    source = next(o for o in sandbox.merchant().offers.values() if o.price and not o.city_prices)
    async with factory.sessionmaker() as session:
        price = await session.scalar(select(KaspiOffer.price).where(KaspiOffer.sku == source.sku))
    assert isinstance(price, Decimal)
    assert (price, price.as_tuple().exponent) == (source.price, -2)


async def test_refresh_one_offer(kaspi: Kaspi, sandbox: SandboxState, run_worker: RunWorker) -> None:
    sandbox.limits.apply_delay_seconds = 60  # Kaspi applies the change later
    store = await kaspi.logged_in_store()
    await _sync(kaspi, store["id"], run_worker)
    offer, gone = (await _offers(kaspi, state="on_sale", limit=2))["items"]
    await kaspi.call("POST", f"/offers/{offer['id']}/price", json={"price": 3210, "confirm": True})
    before = await kaspi.call("POST", f"/offers/{offer['id']}/refresh")
    assert before.status_code == 200, before.text
    assert before.json()["price"] == offer["price"]
    assert before.json()["pushed_price"] == 3210
    sandbox.apply(UID, sandbox.pricefeed[-1]["items"])  # ... and now it has
    after = await kaspi.call("POST", f"/offers/{offer['id']}/refresh")
    assert after.json()["price"] == 3210

    del sandbox.merchant().offers[gone["sku"]]
    removed = await kaspi.call("POST", f"/offers/{gone['id']}/refresh")
    assert removed.status_code == 200
    assert removed.json()["state"] == "removed"


async def test_kaspi_applies_a_price_a_little_later(
    kaspi: Kaspi, sandbox: SandboxState, run_worker: RunWorker, clock: ForwardClock
) -> None:
    store = await kaspi.logged_in_store()
    await _sync(kaspi, store["id"], run_worker)
    offer = (await _offers(kaspi, limit=1))["items"][0]
    sandbox.limits.apply_delay_seconds = 20
    await kaspi.call("POST", f"/offers/{offer['id']}/price", json={"price": 4321, "confirm": True})
    await clock.advance(10)
    before = await kaspi.call("POST", f"/offers/{offer['id']}/refresh")
    assert before.json()["price"] == offer["price"]
    await clock.advance(10)
    after = await kaspi.call("POST", f"/offers/{offer['id']}/refresh")
    assert after.json()["price"] == 4321
