from dataclasses import dataclass

import httpx
import pytest

from sauda.network.models import Company
from tests.exchange.onec_client import OneCClient
from tests.factories import Factory


@dataclass
class OneCSetup:
    company: Company
    onec: OneCClient
    client_id: int


async def make_onec(
    client: httpx.AsyncClient, factory: Factory, company: Company, login: str = "onec", **extra: object
) -> OneCSetup:
    """An employee of `company` creates the 1C client through the API, as a merchant would."""
    headers = await factory.headers(await factory.user(company))
    if extra:
        headers = await factory.headers(await factory.admin())
        extra = {"company_id": company.id, **extra}
    response = await client.post(
        "/api/v1/exchange/clients", json={"name": "1C Бухгалтерия", "login": login, **extra}, headers=headers
    )
    assert response.status_code == 201, response.text
    body = response.json()
    return OneCSetup(company, OneCClient(client, body["login"], body["secret"]), body["id"])


@pytest.fixture
async def onec_setup(client: httpx.AsyncClient, factory: Factory) -> OneCSetup:
    return await make_onec(client, factory, await factory.company())
