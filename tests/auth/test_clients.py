"""Integration clients: admin routes (create, list, rotate, revoke) and how a client
authenticates (HTTP Basic, X-Api-Key), with the calendar routes as the guarded example."""

import base64

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from sauda.auth.models import ClientScope, IntegrationClient
from tests.factories import Factory
from tests.integration_clients import api_key, basic, make_client

CLIENTS = "/api/v1/auth/clients"
GUARDED = "/api/v1/calendar/statistics"


@pytest.fixture
async def admin(factory: Factory) -> dict[str, str]:
    return await factory.headers(await factory.admin())


async def test_admin_creates_a_client_and_sees_the_secret_once(
    client: httpx.AsyncClient, factory: Factory, admin: dict[str, str]
) -> None:
    company = await factory.company()
    body = {"company_id": company.id, "name": "Telegram bot", "login": "tg-bot", "scopes": ["calendar"]}
    created = await client.post(CLIENTS, json=body, headers=admin)
    assert created.status_code == 201, created.text
    data = created.json()
    assert data["scopes"] == ["calendar"]
    assert data["is_active"] is True
    assert len(data["secret"]) >= 40
    listed = await client.get(CLIENTS, params={"company_id": company.id}, headers=admin)
    assert [c["login"] for c in listed.json()["items"]] == ["tg-bot"]
    assert "secret" not in listed.json()["items"][0]
    assert "secret" not in (await client.get(f"{CLIENTS}/{data['id']}", headers=admin)).json()
    assert (await client.get(GUARDED, headers=basic("tg-bot", data["secret"]))).status_code == 200


async def test_client_creation_is_validated(
    client: httpx.AsyncClient, factory: Factory, admin: dict[str, str]
) -> None:
    company = await factory.company()
    good = {"company_id": company.id, "name": "1C", "login": "onec", "scopes": ["exchange"]}
    assert (await client.post(CLIENTS, json=good, headers=admin)).status_code == 201
    taken = await client.post(CLIENTS, json=good, headers=admin)
    assert taken.status_code == 409
    assert taken.json()["fields"] == [{"field": "login", "message": "already taken"}]
    for change, field in (
        ({"login": "Bad Login"}, "login"),
        ({"login": "бот"}, "login"),
        ({"scopes": []}, "scopes"),
        ({"scopes": ["admin"]}, "scopes.0"),
        ({"company_id": 999_999, "login": "other"}, "company_id"),
    ):
        response = await client.post(CLIENTS, json=good | change, headers=admin)
        assert response.status_code == 422, (change, response.text)
        assert response.json()["fields"][0]["field"] == field


async def test_only_admins_manage_clients(client: httpx.AsyncClient, factory: Factory) -> None:
    company = await factory.company()
    employee = await factory.headers(await factory.user(company))
    body = {"company_id": company.id, "name": "x", "login": "sneaky", "scopes": ["calendar"]}
    assert (await client.post(CLIENTS, json=body, headers=employee)).status_code == 403
    assert (await client.get(CLIENTS, headers=employee)).status_code == 403
    assert (await client.post(f"{CLIENTS}/1/rotate", headers=employee)).status_code == 403
    assert (await client.get(CLIENTS)).status_code == 401
    _, secret = await make_client(factory)
    # A client cannot manage clients either: these routes take people's tokens only.
    assert (await client.get(CLIENTS, headers=api_key(secret))).status_code == 401


async def test_basic_and_api_key_both_authenticate(client: httpx.AsyncClient, factory: Factory) -> None:
    bot, secret = await make_client(factory)
    assert (await client.get(GUARDED, headers=basic(bot.login, secret))).status_code == 200
    assert (await client.get(GUARDED, headers=api_key(secret))).status_code == 200


async def test_missing_or_wrong_credentials_are_401_with_a_basic_challenge(
    client: httpx.AsyncClient, factory: Factory
) -> None:
    bot, secret = await make_client(factory)
    garbled = {"Authorization": "Basic " + base64.b64encode(b"no-colon-here").decode()}
    for headers in (
        {},
        basic(bot.login, secret + "x"),
        basic("someone-else", secret),
        api_key("not-the-secret"),
        garbled,
    ):
        response = await client.get(GUARDED, headers=headers)
        assert response.status_code == 401, headers
        assert response.headers["www-authenticate"].startswith("Basic"), headers


async def test_scope_and_role_are_checked(client: httpx.AsyncClient, factory: Factory) -> None:
    _, exchange_secret = await make_client(factory, scopes=[ClientScope.exchange], login="onec")
    refused = await client.get(GUARDED, headers=api_key(exchange_secret))
    assert refused.status_code == 403
    assert "calendar scope" in refused.json()["detail"]
    employee = await factory.headers(await factory.user(await factory.company()))
    assert (await client.get(GUARDED, headers=employee)).status_code == 403
    admin = await factory.headers(await factory.admin())
    assert (await client.get(GUARDED, headers=admin)).status_code == 200
    bad_token = {"Authorization": "Bearer not-a-jwt"}
    assert (await client.get(GUARDED, headers=bad_token)).status_code == 401


async def test_rotate_replaces_the_secret(
    client: httpx.AsyncClient, factory: Factory, admin: dict[str, str]
) -> None:
    bot, old = await make_client(factory)
    rotated = await client.post(f"{CLIENTS}/{bot.id}/rotate", headers=admin)
    assert rotated.status_code == 200, rotated.text
    new = rotated.json()["secret"]
    assert new != old
    assert (await client.get(GUARDED, headers=api_key(old))).status_code == 401
    assert (await client.get(GUARDED, headers=basic(bot.login, new))).status_code == 200


async def test_revoke_ends_access_for_good(
    client: httpx.AsyncClient, factory: Factory, admin: dict[str, str]
) -> None:
    bot, secret = await make_client(factory)
    revoked = await client.post(f"{CLIENTS}/{bot.id}/revoke", headers=admin)
    assert revoked.json()["is_active"] is False
    assert (await client.get(GUARDED, headers=api_key(secret))).status_code == 401
    assert (await client.get(GUARDED, headers=basic(bot.login, secret))).status_code == 401
    again = await client.post(f"{CLIENTS}/{bot.id}/revoke", headers=admin)
    assert again.json()["revoked_at"] == revoked.json()["revoked_at"]
    rotate = await client.post(f"{CLIENTS}/{bot.id}/rotate", headers=admin)
    assert rotate.status_code == 409
    active = await client.get(CLIENTS, params={"active": True}, headers=admin)
    assert active.json()["total"] == 0
    assert (await client.post(f"{CLIENTS}/999/revoke", headers=admin)).status_code == 404


async def test_use_is_recorded(
    client: httpx.AsyncClient, factory: Factory, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    bot, secret = await make_client(factory)
    assert bot.last_used_at is None
    await client.get(GUARDED, headers=api_key(secret))
    async with sessionmaker() as session:
        stored = await session.scalar(select(IntegrationClient).where(IntegrationClient.id == bot.id))
    assert stored is not None
    assert stored.last_used_at is not None
    assert stored.secret_hash != secret
