"""Kaspi stores as a resource: CRUD within the company, and nothing of another company visible."""

import re

import httpx
from fastapi import FastAPI

from sauda.sandboxes.kaspi import SandboxState
from tests.conftest import RunWorker
from tests.factories import Factory
from tests.kaspi.conftest import EMAIL, Kaspi


async def test_store_crud(kaspi: Kaspi) -> None:
    created = await kaspi.new_store(login_email=EMAIL, login_phone="8 701 234 5678", city_id="710000000")
    assert created["company_id"] == kaspi.company_id
    assert created["status"] == "new"
    assert created["login_phone"] == "+7 (701) 234-56-78"
    assert created["has_session"] is False
    assert "session_encrypted" not in created
    store_id = created["id"]

    changed = await kaspi.call(
        "PATCH", f"/stores/{store_id}", json={"name": "Электроника", "sync_enabled": False}
    )
    assert changed.status_code == 200, changed.text
    assert (changed.json()["name"], changed.json()["sync_enabled"]) == ("Электроника", False)

    listed = await kaspi.call("GET", "/stores")
    assert [s["id"] for s in listed.json()["items"]] == [store_id]
    assert (await kaspi.call("GET", "/stores", params={"status": "active"})).json()["total"] == 0

    assert (await kaspi.call("DELETE", f"/stores/{store_id}")).status_code == 204
    assert (await kaspi.call("GET", f"/stores/{store_id}")).status_code == 404


async def test_store_input_is_validated(kaspi: Kaspi) -> None:
    for bad, field in (
        ({"name": ""}, "name"),
        ({"name": "A", "city_id": "Almaty"}, "city_id"),
        ({"name": "A", "login_phone": "123"}, "login_phone"),
        ({"name": "A", "status": "active"}, "status"),
        ({"name": "A", "merchant_uid": "1"}, "merchant_uid"),
    ):
        response = await kaspi.call("POST", "/stores", json=bad)
        assert response.status_code == 422, bad
        assert response.json()["fields"][0]["field"] == field, response.json()


async def test_employee_cannot_add_a_store_to_another_company(kaspi: Kaspi, factory: Factory) -> None:
    other = await factory.company()
    response = await kaspi.call("POST", "/stores", json={"name": "Чужой", "company_id": other.id})
    assert response.status_code == 404


async def test_admin_adds_stores_to_any_company(client: httpx.AsyncClient, factory: Factory) -> None:
    company = await factory.company()
    headers = await factory.headers(await factory.admin())
    without = await client.post("/api/v1/kaspi/stores", json={"name": "X"}, headers=headers)
    assert without.status_code == 422
    response = await client.post(
        "/api/v1/kaspi/stores", json={"name": "X", "company_id": company.id}, headers=headers
    )
    assert response.status_code == 201
    assert response.json()["company_id"] == company.id


async def test_one_merchant_is_one_store_per_company(kaspi: Kaspi) -> None:
    await kaspi.logged_in_store()
    second = await kaspi.new_store(name="Дубль")
    response = await kaspi.login(second["id"])
    assert response.status_code == 409
    assert "already Kaspi merchant" in response.json()["detail"]


OWNED = ("store_id", "offer_id")


async def test_every_kaspi_route_of_another_company_is_404(
    app: FastAPI,
    client: httpx.AsyncClient,
    factory: Factory,
    sandbox: SandboxState,
    run_worker: RunWorker,
) -> None:
    owner_company = await factory.company()
    owner = Kaspi(client, await factory.headers(await factory.user(owner_company)), owner_company.id)
    store = await owner.logged_in_store(remember_credentials=True)
    await owner.call("POST", f"/stores/{store['id']}/sync")
    await run_worker()
    offer = (await owner.call("GET", "/offers", params={"limit": 1})).json()["items"][0]

    stranger = await factory.user(await factory.company())
    headers = await factory.headers(stranger)
    ids = {"store_id": store["id"], "offer_id": offer["id"]}
    routes = [
        (method.upper(), path)
        for path, operations in app.openapi()["paths"].items()
        if path.startswith("/api/v1/kaspi") and any(f"{{{p}}}" in path for p in OWNED)
        for method in operations
    ]
    assert len(routes) >= 12
    bodies = {"price": {"price": 100}, "login": {"email": EMAIL, "password": "x"}, "code": {"code": "1234"}}
    for method, path in routes:
        url = re.sub(r"\{(\w+)\}", lambda m: str(ids[m.group(1)]), path)
        body = next(
            (b for key, b in bodies.items() if path.endswith(key) or key in path.rsplit("/", 1)[-1]), {}
        )
        response = await client.request(method, url, json=body, headers=headers)
        assert response.status_code == 404, f"{method} {path}: {response.status_code} {response.text}"
    for path in ("/offers/batch-disable", "/offers/batch-enable"):
        response = await client.post(
            f"/api/v1/kaspi{path}", json={"offer_ids": [offer["id"]]}, headers=headers
        )
        assert response.status_code == 404
    assert (await client.get("/api/v1/kaspi/offers", headers=headers)).json()["total"] == 0
    assert (await client.get("/api/v1/kaspi/stores", headers=headers)).json()["total"] == 0
    assert sandbox.pricefeed == []
    assert (await owner.call("GET", f"/stores/{store['id']}")).json()["status"] == "active"


async def test_competitors_exclude_only_the_callers_stores(
    client: httpx.AsyncClient, factory: Factory, sandbox: SandboxState
) -> None:
    owner_company = await factory.company()
    owner = Kaspi(client, await factory.headers(await factory.user(owner_company)), owner_company.id)
    await owner.logged_in_store()
    master = next(iter(sandbox.merchant().offers.values())).master_sku
    stranger = Kaspi(client, await factory.headers(await factory.user(await factory.company())), 0)
    theirs = (await stranger.call("GET", f"/products/{master}/offers")).json()
    mine = (await owner.call("GET", f"/products/{master}/offers")).json()
    assert theirs["own_excluded"] == 0
    assert mine["own_excluded"] == 1
    assert len(theirs["offers"]) == len(mine["offers"]) + 1


async def test_kaspi_needs_authentication(client: httpx.AsyncClient) -> None:
    assert (await client.get("/api/v1/kaspi/stores")).status_code == 401
    assert (await client.get("/api/v1/kaspi/products/1/offers")).status_code == 401
