"""Exchange clients: employees manage their own company's, admins any; secrets shown once."""

import httpx

from tests.exchange.conftest import make_onec
from tests.exchange.onec_client import OneCClient
from tests.factories import Factory

CLIENTS = "/api/v1/exchange/clients"


async def test_rotate_and_revoke_take_effect_at_once(client: httpx.AsyncClient, factory: Factory) -> None:
    company = await factory.company()
    setup = await make_onec(client, factory, company)
    headers = await factory.headers(await factory.user(company))
    rotated = await client.post(f"{CLIENTS}/{setup.client_id}/rotate", headers=headers)
    assert rotated.status_code == 200
    assert (await setup.onec.send("GET", "/api/v1/exchange/products")).status_code == 401
    fresh = OneCClient(client, setup.onec.login, rotated.json()["secret"])
    assert (await fresh.send("GET", "/api/v1/exchange/products")).status_code == 200
    assert (await client.post(f"{CLIENTS}/{setup.client_id}/revoke", headers=headers)).status_code == 200
    assert (await fresh.send("GET", "/api/v1/exchange/products")).status_code == 401
    listed = (await client.get(CLIENTS, headers=headers)).json()
    assert [c["is_active"] for c in listed["items"]] == [False]
    assert "secret" not in listed["items"][0]


async def test_another_companys_client_is_404(client: httpx.AsyncClient, factory: Factory) -> None:
    theirs = await make_onec(client, factory, await factory.company())
    stranger = await factory.headers(await factory.user(await factory.company()))
    for action in ("rotate", "revoke"):
        response = await client.post(f"{CLIENTS}/{theirs.client_id}/{action}", headers=stranger)
        assert response.status_code == 404
    assert (await client.get(CLIENTS, headers=stranger)).json()["total"] == 0


async def test_employees_cannot_pick_a_company_or_see_all(
    client: httpx.AsyncClient, factory: Factory
) -> None:
    mine, other = await factory.company(), await factory.company()
    headers = await factory.headers(await factory.user(mine))
    # Another company's: not found, as for any tenant-owned row; powers beyond an employee's: 403.
    for extra, status in (({"company_id": other.id}, 404), ({"all_companies": True}, 403)):
        response = await client.post(
            CLIENTS, json={"name": "1C", "login": "sneaky", **extra}, headers=headers
        )
        assert response.status_code == status
    response = await client.post(CLIENTS, json={"name": "1C", "login": "Не латиница"}, headers=headers)
    assert response.status_code == 422
    assert response.json()["fields"][0]["field"] == "login"


async def test_admin_must_name_the_company(client: httpx.AsyncClient, factory: Factory) -> None:
    headers = await factory.headers(await factory.admin())
    response = await client.post(CLIENTS, json={"name": "1C", "login": "onec-x"}, headers=headers)
    assert response.status_code == 422
    assert response.json()["fields"][0]["field"] == "company_id"


async def test_a_calendar_client_cannot_use_the_exchange(client: httpx.AsyncClient, factory: Factory) -> None:
    from tests.integration_clients import basic, make_client

    bot, secret = await make_client(factory)
    response = await client.get("/api/v1/exchange/products", headers=basic(bot.login, secret))
    assert response.status_code == 403
