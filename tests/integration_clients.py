"""Integration clients for tests, made through the real service like an admin would."""

import base64
from collections.abc import Iterable

from sauda.auth.models import ClientScope, IntegrationClient
from sauda.auth.service import create_client
from sauda.db import transaction
from sauda.tenancy import Scope
from tests.factories import Factory


async def make_client(
    factory: Factory, scopes: Iterable[ClientScope] = (ClientScope.calendar,), login: str = "telegram-bot"
) -> tuple[IntegrationClient, str]:
    company = await factory.company()
    async with transaction(factory.sessionmaker) as session:
        return await create_client(
            session,
            Scope.everything(),
            company_id=company.id,
            name="Telegram bot",
            login=login,
            scopes=scopes,
        )


def basic(login: str, secret: str) -> dict[str, str]:
    token = base64.b64encode(f"{login}:{secret}".encode("ascii")).decode()
    return {"Authorization": f"Basic {token}"}


def api_key(secret: str) -> dict[str, str]:
    return {"X-Api-Key": secret}
