import pytest

from tests.factories import Factory
from tests.integration_clients import api_key, make_client


@pytest.fixture
async def bot(factory: Factory) -> dict[str, str]:
    """Headers of the Telegram bot: an integration client with the `calendar` scope."""
    _, secret = await make_client(factory)
    return api_key(secret)


@pytest.fixture
async def admin(factory: Factory) -> dict[str, str]:
    return await factory.headers(await factory.admin())
